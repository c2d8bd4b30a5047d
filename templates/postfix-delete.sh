# inputs: SPF_SERVICE SPF_CHECK MILTER
# Puts back every Postfix setting this stack touched. A setting still holding the value the
# stack gave it gets its original value (or is removed, when it had none); one the user has
# changed since keeps the user's value, less this stack's own entry.
saved="$STATE_DIR/postfix"
[ -e "$saved/params" ] || exit 0
read_main_cf
sets=()
unsets=()
while IFS=$'\t' read -r state name original; do
    applied=$(sed -n "s/^$name=//p" "$saved/applied" 2>/dev/null || true)
    current=$(explicit "$name" || true)
    if [ "$current" = "$applied" ]; then
        if [ "$state" = set ]; then sets+=("$name=$original"); else unsets+=("$name"); fi
    else
        case "$name" in
            smtpd_recipient_restrictions)
                sets+=("$name=$(printf '%s' "$current" | sed -e "s#,\{0,1\}[[:space:]]*$SPF_CHECK##" -e 's/^[[:space:],]*//')") ;;
            smtpd_milters | non_smtpd_milters)
                sets+=("$name=$(printf '%s' "$current" | sed -e "s#,\{0,1\}[[:space:]]*$MILTER##" -e 's/^[[:space:],]*//')") ;;
        esac
    fi
done <"$saved/params"

original_entry=$(cat "$saved/master-entry")
if [ -n "$original_entry" ]; then
    postconf -M "$SPF_SERVICE/unix=$original_entry"
else
    postconf -MX "$SPF_SERVICE/unix" 2>/dev/null || true
fi
[ "${#unsets[@]}" -eq 0 ] || postconf -X "${unsets[@]}"
[ "${#sets[@]}" -eq 0 ] || postconf -e "${sets[@]}"
touch -d "@$(($(date +%s) - 2))" /etc/postfix/main.cf # see postfix.sh
postfix check
systemctl reload-or-restart postfix
rm -rf "$saved"
echo "restored: Postfix settings"
