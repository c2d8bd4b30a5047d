#!/bin/bash
# The same result written for speed by hand: one read, one `postconf -M`, one `postconf -e`,
# one OpenDKIM restart, one Postfix restart. Benchmark baseline only.
set -euo pipefail
postconf -n >/dev/null
postconf -M 'policyd-spf/unix=policyd-spf unix - n n - 0 spawn user=policyd-spf argv=/usr/bin/policyd-spf'
mkdir -p /etc/opendkim
cat >/etc/opendkim.conf <<'CONF'
Syslog yes
Mode sv
UserID opendkim:opendkim
UMask 007
PidFile /run/opendkim/opendkim.pid
Socket local:/var/spool/postfix/opendkim/opendkim.sock
ReportAddress postmaster@example.com
KeyTable /etc/opendkim/KeyTable
SigningTable refile:/etc/opendkim/SigningTable
ExternalIgnoreList refile:/etc/opendkim/TrustedHosts
InternalHosts refile:/etc/opendkim/TrustedHosts
Nameservers 10.231.0.53
CONF
printf '127.0.0.1\n::1\n*.example.com\n*.example.org\n' >/etc/opendkim/TrustedHosts
: >/etc/opendkim/KeyTable
: >/etc/opendkim/SigningTable
for d in example.com example.org; do
    mkdir -p "/etc/opendkim/keys/$d"
    opendkim-genkey -b 2048 -d "$d" -D "/etc/opendkim/keys/$d" -s s1
    echo "s1._domainkey.$d $d:s1:/etc/opendkim/keys/$d/s1.private" >>/etc/opendkim/KeyTable
    echo "*@$d s1._domainkey.$d" >>/etc/opendkim/SigningTable
done
chown -R opendkim:opendkim /etc/opendkim/keys
install -d -o opendkim -g opendkim -m 0750 /var/spool/postfix/opendkim
usermod -a -G opendkim postfix
systemctl restart opendkim
# shellcheck disable=SC2016 # Postfix expands $smtpd_milters itself
postconf -e 'policyd-spf_time_limit=3600' \
    'smtpd_recipient_restrictions=permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination, check_policy_service unix:private/policyd-spf' \
    'milter_default_action=accept' 'milter_protocol=6' 'smtpd_milters=unix:opendkim/opendkim.sock' 'non_smtpd_milters=$smtpd_milters'
systemctl restart postfix
