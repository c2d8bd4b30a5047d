# inputs: POLICYD_SPF_CONF HELO_REJECT MAIL_FROM_REJECT SKIP_ADDRESSES
# The SPF policy agent's options in its own file (policyd-spf.conf): each key the settings give is
# set (templates/include/policyd-spf-conf.sh), one they no longer give gets the host's own line
# back. Every other line of the file stays as it is. An empty value: the key is not the stack's.
saved="$STATE_DIR/policyd-spf"
# Written through its links, where only root could have made them (write_target).
write_target "$POLICYD_SPF_CONF" >/dev/null
make_state_dir
mkdir -p "$saved"
staged="$STAGE/policyd-spf.conf"
if [ -e "$POLICYD_SPF_CONF" ]; then
    cp -p "$(write_target "$POLICYD_SPF_CONF")" "$staged"
else
    # No file: policyd-spf then runs on its defaults (spf_engine/policydspfsupp.py ~165-169). The
    # stack's file goes again on destroy when it holds nothing else.
    [ -d "$(dirname "$POLICYD_SPF_CONF")" ] || die "$(dirname "$POLICYD_SPF_CONF") does not exist: is policyd-spf installed? Nothing was changed"
    install -m 0644 -o root -g root /dev/null "$staged"
    : >"$saved/created"
fi
for kv in "HELO_reject=$HELO_REJECT" "Mail_From_reject=$MAIL_FROM_REJECT" "skip_addresses=$SKIP_ADDRESSES"; do
    if [ -n "${kv#*=}" ]; then spf_set "${kv%%=*}" "${kv#*=}"; else spf_release "${kv%%=*}"; fi
done
spf_apply
