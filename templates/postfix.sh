# inputs: SPF_SERVICE SPF_CHECK SPF_TIME_LIMIT KNOWN_MILTERS POLICYD_SPF_BIN MILTER
# Postfix settings for SPF checking (policyd-spf) and DKIM signing (the OpenDKIM milter).
# One read of main.cf and master.cf, one `postconf -M` and one `postconf -e` with every changed
# setting on staged copies, `postfix check` on them, then the swap and one reload, and only
# when something changed. The user's other settings and list entries stay as they were.
saved="$STATE_DIR/postfix"
mkdir -p "$saved"

read_main_cf
master_entry=$(postconf -M "$SPF_SERVICE/unix" 2>/dev/null | tr -s ' \t' ' ' || true)

# smtpd_recipient_restrictions: the policy check right after reject_unauth_destination.
restrictions=$(explicit smtpd_recipient_restrictions || true)
if printf '%s' "$restrictions" | grep -qF "$SPF_CHECK"; then
    want_restrictions=$restrictions
elif has_word "$restrictions" reject_unauth_destination; then
    rud='\(^\|[ ,]\)reject_unauth_destination\([ ,]\|$\)'
    want_restrictions=$(printf '%s' "$restrictions" | sed "0,/$rud/s#$rud#\\1reject_unauth_destination, $SPF_CHECK\\2#")
elif [ -z "$(words "$restrictions")" ]; then
    want_restrictions="permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination, $SPF_CHECK"
else
    relay=$(explicit smtpd_relay_restrictions || echo defer_unauth_destination)
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

# smtpd_milters / non_smtpd_milters: ours added, other milters kept, our other transport dropped.
with_milter() {
    local list=$1 other
    if has_word "$list" "$MILTER"; then printf '%s' "$list"; return; fi
    # A list with grouped settings ({ inet:host:port, timeout=... }) is extended, never re-split.
    case "$list" in *"{"*) printf '%s, %s' "$list" "$MILTER"; return ;; esac
    for other in $KNOWN_MILTERS; do
        [ "$other" = "$MILTER" ] || list=$(words "$list" | grep -vxF -- "$other" | join_list || true)
    done
    if [ -n "$list" ]; then printf '%s, %s' "$list" "$MILTER"; else printf '%s' "$MILTER"; fi
}
want_smtpd_milters=$(with_milter "$(explicit smtpd_milters || true)")
non_smtpd=$(explicit non_smtpd_milters || true)
# shellcheck disable=SC2016 # Postfix expands $smtpd_milters itself
case "$non_smtpd" in
    '' | '$smtpd_milters' | '${smtpd_milters}') want_non_smtpd_milters='$smtpd_milters' ;;
    *) want_non_smtpd_milters=$(with_milter "$non_smtpd") ;;
esac

desired=(
    "policyd-spf_time_limit=$SPF_TIME_LIMIT"
    "smtpd_recipient_restrictions=$want_restrictions"
    "milter_default_action=accept"
    "milter_protocol=6"
    "smtpd_milters=$want_smtpd_milters"
    "non_smtpd_milters=$want_non_smtpd_milters"
)
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
    cut -f2 "$saved/params.tmp" | grep -qxF -- "$p" && continue
    if v=$(explicit "$p"); then printf 'set\t%s\t%s\n' "$p" "$v"; else printf 'unset\t%s\t\n' "$p"; fi >>"$saved/params.tmp"
done
if cmp -s "$saved/params.tmp" "$saved/params"; then rm -f "$saved/params.tmp"; else mv "$saved/params.tmp" "$saved/params"; fi

changes=()
for kv in "${desired[@]}"; do
    if [ "$(explicit "${kv%%=*}" || echo '<unset>')" != "${kv#*=}" ]; then changes+=("$kv"); fi
done
want_entry="$SPF_SERVICE unix - n n - 0 spawn user=policyd-spf argv=$POLICYD_SPF_BIN"

if [ "${#changes[@]}" -eq 0 ] && [ "$master_entry" = "$want_entry" ]; then
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
    echo "master.cf: $want_entry"
fi
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
for f in master.cf main.cf; do
    cp -p "$staged/$f" "/etc/postfix/.$f.mailauth"
    mv -f "/etc/postfix/.$f.mailauth" "/etc/postfix/$f"
    relabel "/etc/postfix/$f"
done
printf '%s\n' "${desired[@]}" >"$saved/applied"
systemctl reload-or-restart postfix
rm -f "$saved/reload-pending"
echo "reloaded: postfix"
