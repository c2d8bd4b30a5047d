# inputs: CONF KEYTABLE
# Lets go of every DKIM key file this stack installed (listed in $STATE_DIR/keys/installed), once
# OpenDKIM no longer uses it. The OpenDKIM step, which depends on the keys step, has by then put
# back the host's own configuration (destroy: dependents are deleted first, pulumi/pulumi
# pkg/resource/deploy/step_generator.go ScheduleDeletes ~2747). A key that the stack's KeyTable in
# force still names is a live selector's key: this delete is then the first half of a replacement
# of this step (deleteBeforeReplace, step_generator.go ~2047-2165), and the key stays for the
# create that follows it. Otherwise the host's own file saved at that path comes back, or the key
# goes, unless the host's own configuration names it (templates/lib.sh dkim_release_key).
list="$STATE_DIR/keys/installed"
if [ -f "$list" ]; then
    dkim_load_named "$CONF" "$KEYTABLE"
    keep=()
    while read -r f; do
        [ -n "$f" ] || continue
        dkim_release_key "$f" || keep+=("$f")
    done <"$list"
    dkim_write_installed "${keep[@]}"
fi
# The key directories the stack made (deepest first) go once the last key has gone; a directory
# that still holds anything (another key, a file of the user's) stays, and stays listed.
if [ -s "$STATE_DIR/created-dirs" ]; then
    kept=$(tac "$STATE_DIR/created-dirs" | while read -r d; do
        if rmdir "$d" 2>/dev/null; then echo "removed: $d" >&2; elif [ -e "$d" ]; then echo "$d"; fi
    done | tac)
    if [ -n "$kept" ]; then printf '%s\n' "$kept" >"$STATE_DIR/created-dirs"; else rm -f "$STATE_DIR/created-dirs"; fi
fi
