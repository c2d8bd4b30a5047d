# Removes one DKIM private key (after OpenDKIM stopped using it).
rm -f "$KEY_DIR/$DOMAIN/$SELECTOR.private"
rmdir "$KEY_DIR/$DOMAIN" 2>/dev/null || true
echo "removed: $KEY_DIR/$DOMAIN/$SELECTOR.private"
