# Installs one DKIM private key, read from stdin so that it never appears in a command line.
# OpenDKIM refuses keys readable by a group with other members: mode 0600, owner opendkim.
id opendkim >/dev/null 2>&1 || die "user opendkim does not exist: is the opendkim package installed?"
[ -d /etc/opendkim ] || install -d -m 0755 /etc/opendkim
[ -d "$KEY_DIR" ] || install -d -m 0750 -o root -g opendkim "$KEY_DIR"
install -d -m 0750 -o opendkim -g opendkim "$KEY_DIR/$DOMAIN"
key="$KEY_DIR/$DOMAIN/$SELECTOR.private"
tmp=$(mktemp "$KEY_DIR/$DOMAIN/.$SELECTOR.XXXXXX")
trap 'rm -rf "$STAGE" "$tmp"' EXIT
cat >"$tmp"
grep -q -- '-----BEGIN .*PRIVATE KEY-----' "$tmp" || die "no PEM private key arrived on stdin for $DOMAIN/$SELECTOR"
chown opendkim:opendkim "$tmp"
chmod 0600 "$tmp"
if [ -e "$key" ] && cmp -s "$tmp" "$key"; then
    echo "unchanged: $key"
else
    mv -f "$tmp" "$key"
    relabel "$key"
    echo "installed: $key"
fi
