# inputs: KEY_FILE
# Removes one DKIM private key (after OpenDKIM stopped using it).
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
