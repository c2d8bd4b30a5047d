# shellcheck shell=bash
# What the host's own OpenDKIM configuration signed before this stack, kept signing: the keys
# and signing rules of domains this stack does not manage, and the hosts it trusted, are added
# after this stack's own entries in the staged KeyTable, SigningTable and TrustedHosts.
# The source is always the original the stack saved ("$saved"), so every run merges the same
# thing; the originals come back on destroy. Forms OpenDKIM reads that cannot be carried over
# (a database table, a key in another form) stop the run with the reason, before any change.
# Included before templates/opendkim.sh, whose $saved, $CONF, $ETC_DIR and $STAGE it reads.
# shellcheck disable=SC2154

# The saved copy of FILE when FILE is one of the files this stack replaces, under any spelling
# OpenDKIM's fopen() would take to it (`/etc/opendkim/./KeyTable`, `//`, `dir/..`, a symbolic
# link to the file or a directory above it, a hard link): decided on the resolved path and the
# inode, never on the string, or the merge would read the stack's own live table and keep
# signing a domain taken out of the settings.
own_file() {
    local f
    for f in "$CONF" "$ETC_DIR/KeyTable" "$ETC_DIR/SigningTable" "$ETC_DIR/TrustedHosts"; do
        if [ "$(realpath -m -- "$1")" = "$(realpath -m -- "$f")" ] || [ "$1" -ef "$f" ]; then
            printf '%s\n' "$saved/$(basename "$f")"
            return 0
        fi
    done
    return 1
}

# The host's original text of FILE: the saved copy when this stack has replaced FILE.
user_text() {
    local file=$1
    file=$(own_file "$file") || file=$1
    [ -r "$file" ] || die "the host's opendkim.conf names $1, which cannot be read; fix or remove that setting, then run again. OpenDKIM and Postfix were not changed."
    # '#' starts a comment (opendkim(8), DATA SETS, a); OpenDKIM's config reader ends a line at a
    # carriage return too (trusteddomainproject/OpenDKIM opendkim/config.c ~236-243, 2.10.3-4-g5c53958),
    # so a file saved with CRLF reads as OpenDKIM reads it.
    sed -e 's/\r.*//' -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^[[:space:]]*$/d' "$file"
}

# The value of a setting in the original opendkim.conf; names are case-insensitive.
user_setting() {
    printf '%s\n' "$user_conf" | awk -v n="$1" '
        tolower($1) == tolower(n) { $1 = ""; sub(/^[ \t]+/, ""); v = $0; found = 1 }
        END { if (!found) exit 1; print v }'
}

# The elements of a data set: a flat file (file:/path or /path), a pattern file (refile:/path)
# or a comma-separated list (csl: or no prefix); opendkim(8), DATA SETS. Others stop the run.
dataset_lines() {
    local name=$1 spec=$2
    case "$spec" in
        file:* | refile:*) user_text "${spec#*:}" ;;
        /*) user_text "$spec" ;;
        db:* | dsn:* | ldap:* | ldapi:* | ldaps:* | lua:* | memcache:* | redis:* | erlang:* | mdb:* | *.db)
            die "the host's opendkim.conf reads $name from $spec; this stack replaces $name with its own file and cannot carry that data set's entries over. Move them into a file ($name /path), or sign those domains elsewhere, then run again. OpenDKIM and Postfix were not changed."
            ;;
        *) printf '%s\n' "${spec#csl:}" | tr ',' '\n' | sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' -e '/^$/d' ;;
    esac
}

# A key of a flat (non-pattern) SigningTable as the pattern that matches the same senders
# (opendkim.conf(5), SigningTable: user@host, host, user@.domain, .domain, user@*, *).
flat_to_pattern() {
    case "$1" in
        '*' | *@*) printf '%s' "$1" | sed 's/@\./@*./' ;;
        .*) printf '*@*%s' "$1" ;;
        *) printf '*@%s' "$1" ;;
    esac
}

# The comment line before what is carried over, in each table.
CARRIED="# Carried over from this host's own OpenDKIM configuration (templates/include/opendkim-merge.sh):"

merge_host_config() {
    local original
    original="$saved/$(basename "$CONF")"
    [ -f "$original" ] || return 0
    user_conf=$(user_text "$CONF")
    local managed ours mode user_kt="" user_st="" spec d selector keyfile
    # The staged tables open with a '#' header (components/hostFiles.ts fileHeader): skipped.
    managed=$(awk '/^[[:space:]]*(#|$)/ { next } { split($2, f, ":"); print f[1] }' "$STAGE/KeyTable" | sort -u)
    ours=$(awk '/^[[:space:]]*(#|$)/ { next } { print $1 }' "$STAGE/KeyTable")
    mode=$(user_setting Mode || echo sv)

    # Signing: a KeyTable with its SigningTable, or the single key (KeyFile, Domain, Selector).
    case "$mode" in *s*)
        if spec=$(user_setting KeyTable); then
            case "$spec" in refile:*) die "the host's opendkim.conf has KeyTable $spec; a KeyTable cannot be a pattern file. OpenDKIM and Postfix were not changed." ;; esac
            user_kt=$(dataset_lines KeyTable "$spec")
            if spec=$(user_setting SigningTable); then
                case "$spec" in
                    refile:*) user_st=$(dataset_lines SigningTable "$spec") ;;
                    *) user_st=$(dataset_lines SigningTable "$spec" | while read -r key value; do printf '%s %s\n' "$(flat_to_pattern "$key")" "$value"; done) ;;
                esac
            fi
        elif keyfile=$(user_setting KeyFile) && spec=$(user_setting Domain); then
            selector=$(user_setting Selector) || die "the host's opendkim.conf has KeyFile and Domain but no Selector. OpenDKIM and Postfix were not changed."
            for d in $(dataset_lines Domain "$spec"); do
                user_kt+="$selector._domainkey.$d $d:$selector:$keyfile"$'\n'
                user_st+="*@$d $selector._domainkey.$d"$'\n'
                case "$(user_setting SubDomains | tr '[:upper:]' '[:lower:]')" in yes | true | 1) user_st+="*@*.$d $selector._domainkey.$d"$'\n' ;; esac
            done
        fi
        ;;
    esac

    if [ -n "$user_st" ]; then
        local pattern keyname rest domain kept_st="" kept_kt="" taken=() kept_domains=()
        while read -r pattern keyname rest; do
            [ -n "$keyname" ] || continue
            domain=${pattern##*@}
            # A domain this stack signs now: its rule is this stack's.
            if grep -qxF -- "$domain" <<<"$managed"; then
                taken+=("$pattern")
                continue
            fi
            kept_st+="$pattern $keyname${rest:+ $rest}"$'\n'
            kept_domains+=("$domain")
        done <<<"$user_st"
        # Only the keys those rules name, and none under a name this stack uses.
        local name value
        while read -r name value; do
            grep -qxF -- "$name" <<<"$ours" && continue
            printf '%s' "$kept_st" | awk -v k="$name" '$2 == k { f = 1 } END { exit !f }' || continue
            # The third field is a key file's path, or the private key itself (opendkim.conf(5),
            # KeyTable). The stack's KeyTable is root:opendkim 0640, which Postfix reads through the
            # opendkim group: a key in it is no longer private to OpenDKIM. The key is not shown.
            keyfile=$(cut -d: -f3- <<<"$value")
            case "$keyfile" in
                /*) ;;
                *) die "the host's KeyTable entry $name holds its private key inline (not a file's path); this stack's KeyTable is readable by group opendkim, which Postfix joins, so the key would no longer be private. Put the key in a file owned by opendkim with mode 0600 and name that file in the entry instead, then run again. OpenDKIM and Postfix were not changed." ;;
            esac
            kept_kt+="$name $value"$'\n'
        done <<<"$user_kt"
        [ -z "$kept_kt" ] || printf '%s\n%s' "$CARRIED" "$kept_kt" >>"$STAGE/KeyTable"
        [ -z "$kept_st" ] || printf '%s\n%s' "$CARRIED" "$kept_st" >>"$STAGE/SigningTable"
        [ "${#kept_domains[@]}" -eq 0 ] || echo "kept: the host's signing rules for ${kept_domains[*]}"
        [ "${#taken[@]}" -eq 0 ] || echo "replaced: the host's signing rules ${taken[*]} (domains this stack signs)"
    fi

    # Hosts whose mail the host signed (InternalHosts) are carried into TrustedHosts, which this
    # stack's InternalHosts reads. ExternalIgnoreList entries are not: that list only silences the
    # "external host ... attempted to send as" log line (opendkim.conf(5) ExternalIgnoreList;
    # opendkim/opendkim.c ~12127-12140), and in TrustedHosts they would be signed.
    local peers=""
    if spec=$(user_setting InternalHosts); then
        peers=$(dataset_lines InternalHosts "$spec")$'\n'
    fi
    if user_setting ExternalIgnoreList >/dev/null; then
        echo "note: the host's ExternalIgnoreList is not carried over (it only silenced a log line; trusting its hosts would sign their mail)"
    fi
    local added=0 host n=0
    while read -r host; do
        [ -n "$host" ] || continue
        n=$((n + 1))
        # A PeerList entry (opendkim.conf(5)): an address, CIDR block, host or .domain name, or a
        # "!" exclusion. Anything else (a data set pointed at the wrong file) is refused, unshown.
        if ! grep -qE '^!?(\[?[0-9A-Fa-f:.]+\]?(/[0-9]{1,3})?|\*?[A-Za-z0-9_.-]+)$' <<<"$host"; then
            die "entry $n of the host's InternalHosts ($spec) is not an address, block or host name (not shown); fix that data set, then run again. OpenDKIM and Postfix were not changed."
        fi
        # Wider than any private range (10.0.0.0/8, fc00::/7): it would sign mail from the internet.
        case "$host" in
            !*) ;;
            */*)
                local bits=${host##*/}
                if { [[ $host == *.*/* && $host != *:* ]] && [ "$bits" -lt 8 ]; } || { [[ $host == *:* ]] && [ "$bits" -lt 7 ]; }; then
                    die "the host's InternalHosts ($spec) trusts $host, which covers public address space: OpenDKIM would sign mail from anyone there with your domains' keys. Narrow it to your own networks, then run again. OpenDKIM and Postfix were not changed."
                fi
                ;;
        esac
        grep -qxF -- "$host" "$STAGE/TrustedHosts" && continue
        [ "$added" != 0 ] || printf '%s\n' "$CARRIED" >>"$STAGE/TrustedHosts"
        printf '%s\n' "$host" >>"$STAGE/TrustedHosts"
        added=$((added + 1))
    done <<<"$peers"
    [ "$added" = 0 ] || echo "kept: $added trusted hosts of the host's OpenDKIM configuration"

    # Settings this stack does not write are not carried over: say which.
    local dropped
    dropped=$(printf '%s\n' "$user_conf" | awk '{ print $1 }' | sort -uf | grep -vixF -e Syslog -e SyslogSuccess -e LogWhy \
        -e Mode -e Canonicalization -e OversignHeaders -e UserID -e UMask -e PidFile -e Socket -e SendReports \
        -e ReportAddress -e KeyTable -e SigningTable -e ExternalIgnoreList -e InternalHosts -e Nameservers \
        -e TrustAnchorFile -e KeyFile -e Domain -e Selector -e SubDomains | paste -sd ' ' - || true)
    [ -z "$dropped" ] || echo "note: not carried over from the host's opendkim.conf (kept in $saved, back on destroy): $dropped"
}

# OpenDKIM reads Socket from its config only without -p on its command line, and reads another
# config with -x (trusteddomainproject/OpenDKIM opendkim/opendkim.c ~15450 `case 'p'`, ~16030
# `if (!gotp) config_get(cfg, "Socket", ...)`). A unit that passes either (Debian's deprecated
# /lib/opendkim/opendkim.service.generate writes -p from /etc/default/opendkim; `systemctl edit`)
# would never use this stack's configuration: stop before any change, saying so.
# EPEL's unit passes `-x /etc/opendkim.conf` (through $OPTIONS from /etc/sysconfig/opendkim,
# which systemctl shows unexpanded): -x naming this very file is fine.
refuse_command_line_config() {
    local argv rest
    # A unit systemd cannot show (none installed yet) has no override to refuse.
    argv=$({ systemctl show -p ExecStart opendkim 2>/dev/null || true; } | sed -n 's/.*argv\[\]=\([^;]*\);.*/\1/p')
    rest=" $argv "
    rest=${rest// -x $CONF / }
    case "$rest" in
        *" -p"* | *" -x"*)
            die "OpenDKIM's service starts it as '${argv% }': its -p (socket) or -x (configuration file) overrides $CONF, so the configuration this stack writes would not be used. Remove the override (systemctl cat opendkim shows where it is, e.g. /etc/systemd/system/opendkim.service.d/override.conf from /lib/opendkim/opendkim.service.generate), put those settings in $CONF, run systemctl daemon-reload, then run again. OpenDKIM and Postfix were not changed."
            ;;
    esac
}
