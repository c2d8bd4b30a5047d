# inputs: KEY_FILE
# Removes one DKIM private key (after OpenDKIM stopped using it).
rm -f "$KEY_FILE"
rmdir "$(dirname "$KEY_FILE")" 2>/dev/null || true
echo "removed: $KEY_FILE"
