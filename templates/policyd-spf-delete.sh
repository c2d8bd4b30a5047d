# inputs: POLICYD_SPF_CONF
# Puts back every key of policyd-spf.conf the stack set (templates/include/policyd-spf-conf.sh),
# where its line is still as the stack wrote it; the file goes if the stack made it and nothing
# else was written to it since.
saved="$STATE_DIR/policyd-spf"
[ -d "$saved" ] || exit 0
write_target "$POLICYD_SPF_CONF" >/dev/null
if [ -e "$POLICYD_SPF_CONF" ]; then
    staged="$STAGE/policyd-spf.conf"
    cp -p "$(write_target "$POLICYD_SPF_CONF")" "$staged"
    for key in HELO_reject Mail_From_reject skip_addresses; do spf_release "$key"; done
    if [ -e "$saved/created" ] && ! grep -q '[^[:space:]]' "$staged"; then
        rm -f "$(write_target "$POLICYD_SPF_CONF")"
        echo "removed: $POLICYD_SPF_CONF (made by the stack)"
        if service_active postfix; then systemctl reload-or-restart postfix; fi
    else
        spf_apply
    fi
fi
rm -rf "$saved"
