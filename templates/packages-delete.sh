# inputs: (none)
# Packages stay installed (they are listed in /var/lib/mailauth/installed-packages); the
# policyd-spf user goes again if this stack created it.
if [ -e "$STATE_DIR/created-user-policyd-spf" ]; then
    if id policyd-spf >/dev/null 2>&1; then userdel policyd-spf || true; fi
    rm -f "$STATE_DIR/created-user-policyd-spf"
fi
