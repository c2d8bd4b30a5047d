# inputs: CONF KEYTABLE
# Lets go of the key files of selectors no longer configured, once OpenDKIM no longer names them:
# this step comes after OpenDKIM's, which has by then switched to tables without them. Stdin: the
# key files of every configured selector, one a line. A key the stack's KeyTable in force still
# names stays; the host's own file saved at a key's path comes back (templates/lib.sh
# dkim_release_key).
list="$STATE_DIR/keys/installed"
cat >"$STAGE/wanted"
[ -f "$list" ] || exit 0
declare -A wanted=()
while read -r f; do [ -z "$f" ] || wanted[$f]=1; done <"$STAGE/wanted"
dkim_load_named "$CONF" "$KEYTABLE"
keep=()
changed=0
while read -r f; do
    [ -n "$f" ] || continue
    if [ -n "${wanted[$f]:-}" ] || ! dkim_release_key "$f"; then
        keep+=("$f")
    else
        changed=1
    fi
done <"$list"
[ "$changed" = 0 ] || dkim_write_installed "${keep[@]}"
