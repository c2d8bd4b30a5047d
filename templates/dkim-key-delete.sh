# inputs: KEY_FILE KEYTABLE CONF
# Removes one DKIM private key once OpenDKIM no longer uses it. The OpenDKIM step, which depends
# on every key step, has by then dropped it from the KeyTable (a selector taken out of the
# config: the engine runs deletes after every create and update, pulumi/pulumi
# pkg/resource/deploy/step_generator.go GenerateDeletes ~2328) or put back the host's own
# configuration (destroy: dependents are deleted first, ScheduleDeletes ~2747). A key that a
# KeyTable OpenDKIM reads still names is a live selector's key: this delete is then the first
# half of a replacement of this step (deleteBeforeReplace, step_generator.go ~2047-2165), and the
# key stays for the create that follows it (templates/dkim-key.sh).
in_keytable() {
    [ -f "$1" ] && sed -e 's/[#\r].*//' "$1" | awk -v f="$KEY_FILE" '{ n = split($2, a, ":"); if (n >= 3 && a[3] == f) found = 1 } END { exit !found }'
}
# OpenDKIM matches setting names without case, ends a line at '#' or a carriage return, and the
# last of repeated settings wins (trusteddomainproject/OpenDKIM opendkim/config.c ~236-243 and
# ~261 strcasecmp, ~400 each new setting put first, config_get ~692 takes the first found).
conf_setting() { sed -e 's/[#\r].*//' "$CONF" 2>/dev/null | awk -v n="$1" 'tolower($1) == tolower(n) { v = $2 } END { if (v == "") exit 1; print v }'; }
conf_keytable=$(conf_setting KeyTable || true)
if in_keytable "$KEYTABLE" || in_keytable "${conf_keytable#file:}" || [ "$(conf_setting KeyFile || true)" = "$KEY_FILE" ]; then
    echo "kept: $KEY_FILE (OpenDKIM's KeyTable still names it)"
    exit 0
fi
rm -f "$KEY_FILE"
rmdir "$(dirname "$KEY_FILE")" 2>/dev/null || true
echo "removed: $KEY_FILE"
# The key directories the stack made (deepest first) go once the last key has gone; a directory
# that still holds anything (another key, a file of the user's) stays, and stays listed.
if [ -s "$STATE_DIR/created-dirs" ]; then
    kept=$(tac "$STATE_DIR/created-dirs" | while read -r d; do
        if rmdir "$d" 2>/dev/null; then echo "removed: $d" >&2; elif [ -e "$d" ]; then echo "$d"; fi
    done | tac)
    if [ -n "$kept" ]; then printf '%s\n' "$kept" >"$STATE_DIR/created-dirs"; else rm -f "$STATE_DIR/created-dirs"; fi
fi
