# inputs: SPF_SERVICE SPF_CHECK MILTER
# Puts back every Postfix setting this stack touched. A setting still holding the value the
# stack gave it gets its original value (or is removed, when it had none); one the user has
# changed since keeps the user's value, less this stack's own entry.
saved="$STATE_DIR/postfix"
[ -e "$saved/params" ] || exit 0
read_main_cf
# Edited on staged copies and put in place through their links, as templates/postfix.sh does.
staged="$STAGE/postfix"
mkdir "$staged"
cp -p /etc/postfix/main.cf /etc/postfix/master.cf "$staged/"
write_target /etc/postfix/main.cf >/dev/null
write_target /etc/postfix/master.cf >/dev/null
sets=()
unsets=()
while IFS=$'\t' read -r state name original; do
    # A setting this stack never set (an adopted SPF check's) is the user's: left alone.
    grep -q "^$name=" "$saved/applied" 2>/dev/null || continue
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

# The master.cf entry goes back only if this stack wrote it (state from before that was
# recorded has no spf-adopted file: the entry was always written then).
if [ -e "$saved/master-changed" ] || [ ! -e "$saved/spf-adopted" ]; then
    original_entry=$(cat "$saved/master-entry")
    if [ -n "$original_entry" ]; then
        postconf -c "$staged" -M "$SPF_SERVICE/unix=$original_entry"
    else
        postconf -c "$staged" -MX "$SPF_SERVICE/unix" 2>/dev/null || true
    fi
fi
# master.cf milter overrides this stack rewrote: their original value, where still as it set them
# (blanks become commas: postconf -P takes none, and Postfix splits lists on either).
if [ -s "$saved/overrides-applied" ]; then
    restores=()
    while IFS= read -r kv; do
        key=${kv%%=*}
        [ "$(postconf -P "$key" 2>/dev/null | sed 's/^[^=]* = //')" = "${kv#*=}" ] || continue
        original=$(awk -v k="$key = " 'index($0, k) == 1 { print substr($0, length(k) + 1) }' "$saved/milter-overrides")
        restores+=("$key=$(printf '%s' "$original" | sed -e 's/[[:space:],]\{1,\}/,/g')")
    done <"$saved/overrides-applied"
    [ "${#restores[@]}" -eq 0 ] || postconf -c "$staged" -P "${restores[@]}"
fi
[ "${#unsets[@]}" -eq 0 ] || postconf -c "$staged" -X "${unsets[@]}"
[ "${#sets[@]}" -eq 0 ] || postconf -c "$staged" -e "${sets[@]}"
touch -d "@$(($(date +%s) - 2))" "$staged/main.cf" # see postfix.sh
postfix -c "$staged" check
for f in master.cf main.cf; do replace_file "$staged/$f" "/etc/postfix/$f"; done
systemctl reload-or-restart postfix
rm -rf "$saved"
echo "restored: Postfix settings"
