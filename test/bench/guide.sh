#!/bin/bash
# The guide's steps as one plain shell script, as a careful admin would type them on Debian 12
# for the lab's two domains (packages already installed). Benchmark baseline only.
set -euo pipefail
# Step 2: the SPF policy agent.
id policyd-spf >/dev/null 2>&1 || adduser policyd-spf --user-group --no-create-home -s /bin/false
echo 'policyd-spf unix - n n - 0 spawn user=policyd-spf argv=/usr/bin/policyd-spf' >>/etc/postfix/master.cf
postconf -e 'policyd-spf_time_limit = 3600'
postconf -e 'smtpd_recipient_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination, check_policy_service unix:private/policyd-spf'
systemctl restart postfix
# Step 3: OpenDKIM.
sed -i -e 's/^Mode.*/Mode sv/' /etc/opendkim.conf
grep -q '^Mode' /etc/opendkim.conf || echo 'Mode sv' >>/etc/opendkim.conf
sed -i -e 's/^Socket.*/Socket inet:8891@127.0.0.1/' -e '/^TrustAnchorFile/d' /etc/opendkim.conf
cat >>/etc/opendkim.conf <<'CONF'
ReportAddress postmaster@example.com
KeyTable /etc/opendkim/KeyTable
SigningTable refile:/etc/opendkim/SigningTable
ExternalIgnoreList refile:/etc/opendkim/TrustedHosts
InternalHosts refile:/etc/opendkim/TrustedHosts
Nameservers 10.231.0.53
CONF
mkdir -p /etc/opendkim
: >/etc/opendkim/KeyTable
: >/etc/opendkim/SigningTable
printf '127.0.0.1\n::1\n' >/etc/opendkim/TrustedHosts
for d in example.com example.org; do
    mkdir -p "/etc/opendkim/keys/$d"
    opendkim-genkey -b 2048 -d "$d" -D "/etc/opendkim/keys/$d" -s s1
    echo "s1._domainkey.$d $d:s1:/etc/opendkim/keys/$d/s1.private" >>/etc/opendkim/KeyTable
    echo "*@$d s1._domainkey.$d" >>/etc/opendkim/SigningTable
    echo "*.$d" >>/etc/opendkim/TrustedHosts
done
chown -R opendkim:opendkim /etc/opendkim/keys
systemctl restart opendkim
systemctl enable opendkim
# Step 4: Postfix to OpenDKIM.
postconf -e 'milter_default_action = accept'
postconf -e 'milter_protocol = 6'
postconf -e 'smtpd_milters = inet:127.0.0.1:8891'
# shellcheck disable=SC2016 # Postfix expands $smtpd_milters itself
postconf -e 'non_smtpd_milters = $smtpd_milters'
gpasswd -a postfix opendkim
systemctl restart postfix
