# inputs: CONF ETC_DIR TABLES
# Stops signing: puts back the original opendkim.conf and tables, and the service state
# OpenDKIM had before this stack (on Debian the package's own default config then runs).
saved="$STATE_DIR/opendkim"
[ -d "$saved" ] || exit 0
files=("$CONF")
for t in $TABLES; do files+=("$ETC_DIR/$t"); done
# Every file's way checked before the first is put back (write_target): all or nothing.
for f in "${files[@]}"; do write_target "$f" >/dev/null; done
for f in "${files[@]}"; do restore_original "$f" "$saved"; done
if [ -e "$saved/added-postfix-to-opendkim" ]; then
    gpasswd -d postfix opendkim >/dev/null || true
fi
# The socket directory goes only if this stack made it (whatever the transport is now).
if [ -s "$saved/created-socket-dir" ]; then
    rm -rf "$(cat "$saved/created-socket-dir")"
fi
if [ "$(cat "$saved/service-state" 2>/dev/null)" = enabled ]; then
    systemctl restart opendkim || true
    echo "restarted: opendkim (original configuration)"
else
    systemctl disable --now --quiet opendkim || true
    echo "stopped: opendkim"
fi
rm -rf "$saved"
