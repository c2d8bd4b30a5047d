# Puts back every Postfix setting this stack touched. A setting still holding the value the
# stack gave it gets its original value (or is removed, when it had none); one the user has
# changed since keeps the user's value, less this stack's own entry.
saved="$STATE_DIR/postfix"
[ -e "$saved/params" ] || exit 0
main_cf=$(postconf -n)
explicit() {
    printf '%s\n' "$main_cf" | awk -v n="$1" '
        index($0, n " =") == 1 { v = substr($0, length(n) + 3); sub(/^ /, "", v); print v; found = 1 }
        END { exit !found }'
}
# shellcheck disable=SC2020 # three characters, each to a newline
words() { printf '%s\n' "$1" | tr ', \t' '\n\n\n' | sed '/^$/d'; }
join_list() { paste -sd, - | sed 's/,/, /g'; }

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
                sets+=("$name=$(printf '%s' "$current" | sed "s#,\\{0,1\\}[[:space:]]*$SPF_CHECK##")") ;;
            smtpd_milters | non_smtpd_milters)
                sets+=("$name=$(words "$current" | grep -vxF -- "$MILTER" | join_list || true)") ;;
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
postfix check
systemctl reload-or-restart postfix
rm -rf "$saved"
echo "restored: Postfix settings"
