#@if signing
# inputs: SPF_SERVICE SPF_CHECK SPF_TIME_LIMIT KNOWN_MILTERS POLICYD_SPF_BIN MILTER OPENDKIM_CONF
# Postfix settings for SPF checking (policyd-spf) and DKIM signing (the OpenDKIM milter).
#@else
# inputs: SPF_SERVICE SPF_CHECK SPF_TIME_LIMIT POLICYD_SPF_BIN MILTER
# Postfix settings for SPF checking (policyd-spf) on a host that does not sign (an inbound-only
# backup MX, MailHostArgs.sign false): no milter settings; those the stack set while the host
# signed are let go of. (Template: the lines from `#@if signing` to `#@else` are a signing host's,
# those from there to `#@end` this host's, components/templates.ts selectBlocks; the rest both's.)
#@end
# One read of main.cf and master.cf, one `postconf -M` and one `postconf -e` with every changed
# setting on staged copies, `postfix check` on them, then the swap and one reload, and only
# when something changed. The user's other settings and list entries stay as they were.
saved="$STATE_DIR/postfix"
# main.cf and master.cf are edited through their links, where only root could have made them
# (write_target); postconf -e alone would replace a link with a file (it renames its edited copy
# onto the path: postfix 3.10.13 src/util/edit_file.c, edit_file_close), so every edit is made on
# staged copies and put in place by replace_file.
write_target /etc/postfix/main.cf >/dev/null
write_target /etc/postfix/master.cf >/dev/null
make_state_dir
mkdir -p "$saved"

read_main_cf
master_entry=$(postconf -M "$SPF_SERVICE/unix" 2>/dev/null | tr -s ' \t' ' ' || true)
# master.cf services with milter lists of their own (-o smtpd_milters=..., as Debian's
# README.Debian for opendkim suggests), one "service/type/parameter = value" a line.
milter_overrides=$(postconf -P 2>/dev/null | grep -E '^[^/ ]+/[^/ ]+/(non_)?smtpd_milters = ' || true)

# A list as Postfix uses it. An entry that is a parameter's name ($my_rcpt) stands for that
# parameter's whole list, so where this stack's entry goes can only be decided on the expanded
# value: `postconf -x` expands $name recursively, the same way the daemons read main.cf (postfix
# 3.10.13 src/postconf/postconf.c:497-499, -x; postconf_main.c:152-161 and postconf_lookup.c:155-183,
# mac_expand with MAC_EXP_FLAG_RECURSE), defaults included. Such a list is then written out
# expanded, with this stack's entry in it; destroy puts back the text as it was ($my_rcpt). A
# list without such an entry is kept as written ($config_directory inside a table's name stays).
effective_list() {
    local name=$1 raw=$2
    if grep -q '^\$' <<<"$(words "$raw")"; then
        postconf -xh "$name"
        echo "note: $name ($raw) names another parameter; written out as Postfix expands it, with this stack's entry (destroy puts back $raw)" >&2
    else
        printf '%s\n' "$raw"
    fi
}

# An SPF check the host already has (the guide's, a distribution README's or a tutorial's, under
# any service name): a master.cf `spawn` service running policyd-spf (Python; or Debian's
# postfix-policyd-spf-perl, which older tutorials name `policy-spf`), named by a
# check_policy_service in one of smtpd's restriction lists. Postfix takes `unix:` or `local:`
# there, relative to the queue directory (postfix-3.12 source, vdukhovni/postfix:
# src/smtpd/smtpd_check.c ~627 attr_clnt_create(); src/util/auto_clnt.c ~324-328 inet/local/unix).
# It is adopted as it is: a second service would check and stamp every message twice.
spf_restriction_lists="smtpd_client_restrictions smtpd_helo_restrictions smtpd_sender_restrictions smtpd_relay_restrictions smtpd_recipient_restrictions smtpd_data_restrictions smtpd_end_of_data_restrictions"
hosts_spf_service() {
    local name list value
    for name in $(postconf -M 2>/dev/null | awk '$2 == "unix" && $8 == "spawn" {
        for (i = 9; i <= NF; i++) { a = $i; sub(/^argv=/, "", a); n = split(a, p, "/"); if (p[n] ~ /^(policyd-spf|postfix-policyd-spf-perl)$/) { print $1; break } } }'); do
        for list in $spf_restriction_lists; do
            value=$(postconf -xh "$list" 2>/dev/null || true)
            if grep -Eq "check_policy_service[[:space:],{]+(unix|local):private/${name//./\\.}([[:space:],}]|\$)" <<<"$value"; then
                printf '%s %s\n' "$name" "$list"
                return 0
            fi
        done
    done
    return 0
}

# First run (nothing recorded yet): the host's own SPF check and master.cf milter lists.
if [ ! -e "$saved/params" ]; then
    hosts_spf_service >"$saved/spf-adopted"
    printf '%s\n' "$milter_overrides" >"$saved/milter-overrides"
fi

# smtpd_recipient_restrictions: the policy check right after reject_unauth_destination.
written_restrictions=$(explicit smtpd_recipient_restrictions || true)
adopted_spf=$(cat "$saved/spf-adopted" 2>/dev/null || true)
expanded_restrictions=$(postconf -xh smtpd_recipient_restrictions)
if [ -n "$adopted_spf" ] || grep -qF -- "$SPF_CHECK" <<<"$expanded_restrictions"; then
    want_restrictions=$written_restrictions
elif ! restrictions=$(effective_list smtpd_recipient_restrictions "$written_restrictions"); then
    die "postconf cannot expand smtpd_recipient_restrictions ($written_restrictions); Postfix was not changed"
elif has_word "$restrictions" reject_unauth_destination; then
    rud='\(^\|[ ,]\)reject_unauth_destination\([ ,]\|$\)'
    want_restrictions=$(printf '%s' "$restrictions" | sed "0,/$rud/s#$rud#\\1reject_unauth_destination, $SPF_CHECK\\2#")
elif [ -z "$(words "$restrictions")" ]; then
    want_restrictions="permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination, $SPF_CHECK"
else
    # Its default is empty below compatibility level 1 (postfix 3.10.13 src/global/mail_params.h
    # ~2183 DEF_RELAY_CHECKS): the value Postfix uses, expanded, not an assumed default.
    relay=$(postconf -xh smtpd_relay_restrictions)
    if has_word "$relay" reject_unauth_destination || has_word "$relay" defer_unauth_destination; then
        # Relaying is refused in smtpd_relay_restrictions: the check can close the list.
        if [ "$(words "$restrictions" | tail -n 1)" = permit ]; then
            want_restrictions=$( (words "$restrictions" | sed '$d'; echo "$SPF_CHECK"; echo permit) | join_list)
        else
            want_restrictions="$restrictions, $SPF_CHECK"
        fi
    else
        die "smtpd_recipient_restrictions ($restrictions) has no reject_unauth_destination and smtpd_relay_restrictions does not refuse relaying; add reject_unauth_destination first, so that the SPF check cannot open a relay"
    fi
fi

#@if signing
# smtpd_milters / non_smtpd_milters: every entry that reaches the OpenDKIM this stack configures
# (in any spelling: the socket the host's own opendkim.conf had, or one this stack has used) is
# replaced by ours, in the first one's place; other milters are kept in order. Two entries for
# one OpenDKIM would pass each message through it twice and sign it twice.
# shellcheck disable=SC2034 # read by templates/include/postfix-milters.sh
queue_dir=$(postconf -h queue_directory)
# shellcheck disable=SC2034 # read by templates/include/postfix-milters.sh
opendkim_forms=$(
    for m in $KNOWN_MILTERS; do milter_forms "$m"; done
    original_conf="$STATE_DIR/opendkim/$(basename "$OPENDKIM_CONF")"
    for conf in "$original_conf" "$OPENDKIM_CONF"; do
        [ -f "$conf" ] || continue
        socket=$(sed -n 's/#.*//; s/^[[:space:]]*[Ss][Oo][Cc][Kk][Ee][Tt][[:space:]]\{1,\}\([^[:space:]]*\).*/\1/p' "$conf" | tail -n 1)
        [ -z "$socket" ] || opendkim_form "$socket"
    done
)
smtpd=$(effective_list smtpd_milters "$(explicit smtpd_milters || true)")
want_smtpd_milters=$(with_milter "$smtpd" smtpd_milters)
non_smtpd=$(explicit non_smtpd_milters || true)
# shellcheck disable=SC2016 # Postfix expands $smtpd_milters itself
case "$non_smtpd" in
    '' | '$smtpd_milters' | '${smtpd_milters}') want_non_smtpd_milters='$smtpd_milters' ;;
    *) want_non_smtpd_milters=$(with_milter "$(effective_list non_smtpd_milters "$non_smtpd")" non_smtpd_milters) ;;
esac
# A service's own list that reaches OpenDKIM would keep its old socket: ours goes there too.
override_changes=()
while IFS= read -r line; do
    [ -n "$line" ] || continue
    value=${line#* = }
    new=$(with_milter "$value" "master.cf (${line%% = *})" override)
    [ "$new" = "$value" ] || override_changes+=("${line%% = *}=$new")
done <<<"$milter_overrides"
#@else
# Nothing of OpenDKIM's is set here; master.cf lists this stack rewrote while the host signed go back below.
override_changes=()
#@end

desired=(
    "policyd-spf_time_limit=$SPF_TIME_LIMIT"
    "smtpd_recipient_restrictions=$want_restrictions"
#@if signing
    "milter_default_action=accept"
    "milter_protocol=6"
    "smtpd_milters=$want_smtpd_milters"
    "non_smtpd_milters=$want_non_smtpd_milters"
#@end
)
# An adopted SPF check is the host's: its two settings are not this stack's to set or restore.
[ -z "$adopted_spf" ] || desired=("${desired[@]:2}")
# First run: remember what the host had, for destroy: every setting in `desired` (the one list
# of what this step sets; postfix-delete.sh restores what is recorded here). A setting a later
# version adds is recorded the first time it is seen, before this run changes it.
if [ ! -e "$saved/params" ]; then
    cp -p /etc/postfix/main.cf "$saved/main.cf.orig"
    cp -p /etc/postfix/master.cf "$saved/master.cf.orig"
    printf '%s\n' "$master_entry" >"$saved/master-entry"
    : >"$saved/params.tmp"
else
    cp "$saved/params" "$saved/params.tmp"
fi
for kv in "${desired[@]}"; do
    p=${kv%%=*}
    grep -qxF -- "$p" <<<"$(cut -f2 "$saved/params.tmp")" && continue
    if v=$(explicit "$p"); then printf 'set\t%s\t%s\n' "$p" "$v"; else printf 'unset\t%s\t\n' "$p"; fi >>"$saved/params.tmp"
done
if cmp -s "$saved/params.tmp" "$saved/params"; then rm -f "$saved/params.tmp"; else mv "$saved/params.tmp" "$saved/params"; fi

changes=()
for kv in "${desired[@]}"; do
    if [ "$(explicit "${kv%%=*}" || echo '<unset>')" != "${kv#*=}" ]; then changes+=("$kv"); fi
done
#@if signing
#@else
# A host that signed before (sign: true, now false): every setting recorded in params that this
# step no longer sets (the milter settings), and each master.cf milter list it rewrote, is let go
# of as destroy lets go of it (templates/postfix-delete.sh): a value still as the stack set it gets
# the host's own back (or goes, where the host had none); one changed since keeps its value, less
# this stack's milter entry. OpenDKIM's steps, gone from the program, are deleted after this one:
# the engine deletes what left the program only once the program has finished (pulumi/pulumi
# v3.259 pkg/resource/deploy/deployment_executor.go ~326-332 and ~444-500, performPostSteps), so
# Postfix no longer names OpenDKIM's socket when its delete restores the host's own OpenDKIM.
desired_names=$(for kv in "${desired[@]}"; do printf '%s\n' "${kv%%=*}"; done)
released=()
release_sets=()
release_unsets=()
while IFS=$'\t' read -r state name original; do
    grep -qxF -- "$name" <<<"$desired_names" && continue
    released+=("$name")
    # Recorded before a change that never came (a run cut short before its swap): nothing to undo.
    grep -q "^$name=" "$saved/applied" 2>/dev/null || continue
    applied=$(sed -n "s/^$name=//p" "$saved/applied")
    if current=$(explicit "$name"); then :; else current='<unset>'; fi
    if [ "$current" = "$applied" ]; then
        if [ "$state" = set ]; then
            [ "$original" = "$current" ] || release_sets+=("$name=$original")
        else
            release_unsets+=("$name")
        fi
    else
        case "$name" in
            smtpd_milters | non_smtpd_milters)
                kept=$(printf '%s' "$current" | sed -e "s#,\{0,1\}[[:space:]]*$MILTER##" -e 's/^[[:space:],]*//')
                [ "$kept" = "$current" ] || release_sets+=("$name=$kept")
                ;;
        esac
    fi
done <"$saved/params"
if [ -s "$saved/overrides-applied" ]; then
    while IFS= read -r kv; do
        key=${kv%%=*}
        [ "$(postconf -P "$key" 2>/dev/null | sed 's/^[^=]* = //')" = "${kv#*=}" ] || continue
        original=$(awk -v k="$key = " 'index($0, k) == 1 { print substr($0, length(k) + 1) }' "$saved/milter-overrides")
        # Blanks become commas: postconf -P takes none, and Postfix splits lists on either.
        override_changes+=("$key=$(printf '%s' "$original" | sed -e 's/[[:space:],]\{1,\}/,/g')")
    done <"$saved/overrides-applied"
fi
# Once undone (after the swap below; now, when nothing is to undo): the released settings are no
# longer the stack's, and the host's own master.cf milter lists, as they are now, are what a later
# signing run finds.
forget_released() {
    local overrides
    if [ "${#released[@]}" -gt 0 ]; then
        awk -F'\t' 'NR == FNR { r[$0] = 1; next } !($2 in r)' <(printf '%s\n' "${released[@]}") "$saved/params" >"$saved/params.tmp"
        mv "$saved/params.tmp" "$saved/params"
        if [ -e "$saved/applied" ]; then
            awk 'NR == FNR { r[$0] = 1; next } { n = $0; sub(/=.*/, "", n) } !(n in r)' <(printf '%s\n' "${released[@]}") "$saved/applied" >"$saved/applied.tmp"
            mv "$saved/applied.tmp" "$saved/applied"
        fi
        printf 'released: %s\n' "${released[@]}"
    fi
    rm -f "$saved/overrides-applied"
    overrides=$(postconf -P 2>/dev/null | grep -E '^[^/ ]+/[^/ ]+/(non_)?smtpd_milters = ' || true)
    [ "$overrides" = "$(cat "$saved/milter-overrides" 2>/dev/null)" ] || printf '%s\n' "$overrides" >"$saved/milter-overrides"
    released=()
}
# A setting to remove is a change too: in `changes` as its bare name (no "="), which goes to
# `postconf -X` below and is taken out before `postconf -e`.
changes+=("${release_sets[@]}" "${release_unsets[@]}")
[ "${#release_sets[@]}" -gt 0 ] || [ "${#release_unsets[@]}" -gt 0 ] || [ "${#override_changes[@]}" -gt 0 ] || forget_released
#@end
want_entry="$SPF_SERVICE unix - n n - 0 spawn user=policyd-spf argv=$POLICYD_SPF_BIN"
if [ -n "$adopted_spf" ]; then
    # The host's own service stays as it is (and policyd-spf's own entry, if it is another one).
    want_entry=$master_entry
    echo "kept: the host's SPF policy service ${adopted_spf% *} (checked in ${adopted_spf#* })"
fi

if [ "${#changes[@]}" -eq 0 ] && [ "$master_entry" = "$want_entry" ] && [ "${#override_changes[@]}" -eq 0 ]; then
    if [ -e "$saved/reload-pending" ]; then
        # A run cut short after its edits: Postfix has not read them yet.
        systemctl reload-or-restart postfix
        rm -f "$saved/reload-pending"
        echo "reloaded: postfix (pending from an interrupted run)"
    else
        echo "unchanged: Postfix settings"
    fi
    exit 0
fi

# Edit copies, check them with `postfix check`, and only then put them in place.
staged="$STAGE/postfix"
mkdir "$staged"
cp -p /etc/postfix/main.cf /etc/postfix/master.cf "$staged/"
# The service first: policyd-spf_time_limit is unknown to Postfix until it exists.
if [ "$master_entry" != "$want_entry" ]; then
    postconf -c "$staged" -M "$SPF_SERVICE/unix=$want_entry"
    : >"$saved/master-changed"
    echo "master.cf: $want_entry"
fi
if [ "${#override_changes[@]}" -gt 0 ]; then
    postconf -c "$staged" -P "${override_changes[@]}"
    printf 'master.cf: %s\n' "${override_changes[@]}"
fi
#@if signing
#@else
if [ "${#release_unsets[@]}" -gt 0 ]; then
    postconf -c "$staged" -X "${release_unsets[@]}"
    printf 'main.cf: %s removed (the host had none)\n' "${release_unsets[@]}"
    sets=()
    for kv in "${changes[@]}"; do [[ $kv != *=* ]] || sets+=("$kv"); done
    changes=("${sets[@]}")
fi
#@end
if [ "${#changes[@]}" -gt 0 ]; then
    postconf -c "$staged" -e "${changes[@]}"
    printf 'main.cf: %s\n' "${changes[@]}"
fi
# Postfix reads a main.cf only once it is 2 s old, in case an editor is still writing it;
# postconf wrote this one whole, so date it back and spare every reader below that wait.
touch -d "@$(($(date +%s) - 2))" "$staged/main.cf"
if ! out=$(postfix -c "$staged" check 2>&1); then
    die "the new Postfix settings do not pass 'postfix check' (see also the mail log); nothing was changed, the old configuration stays in force: $out"
fi
: >"$saved/reload-pending"
for f in master.cf main.cf; do replace_file "$staged/$f" "/etc/postfix/$f"; done
printf '%s\n' "${desired[@]}" >"$saved/applied"
#@if signing
for kv in "${override_changes[@]}"; do
    { awk -v k="${kv%%=*}=" 'index($0, k) != 1' "$saved/overrides-applied" 2>/dev/null || true; printf '%s\n' "$kv"; } >"$saved/overrides-applied.tmp"
    mv "$saved/overrides-applied.tmp" "$saved/overrides-applied"
done
#@else
forget_released
#@end
systemctl reload-or-restart postfix
rm -f "$saved/reload-pending"
echo "reloaded: postfix"
