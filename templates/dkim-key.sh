# inputs: KEY_FILE KEY_DIR ETC_DIR PUBLISHED LOST_KEY RECORD_CHANGED
# Installs one DKIM private key, read from stdin so that it never appears in a command line.
# A published key never changes while its selector is live (components/dkimKey.ts): the key on
# stdin is followed by a line `#mailauth-public <its p= value>`, and PUBLISHED is the p= value of
# the selector's DKIM record as published. A key that is not the published one is never put in
# place: an existing key file stays (it is what the record was published for), and with none
# the step refuses; a key in place that the record no longer publishes is refused too. This is what keeps mail verifying when the step is created again after the
# stack's key was replaced (`pulumi up --replace` on this step, a rename): the engine then sends
# the program's stdin, not the one kept by ignoreChanges (pulumi/pulumi
# pkg/resource/deploy/step_generator.go ~1325-1333 and ~2007-2022: a replacement is checked
# against the program's inputs). Stdin without that line (a step created before it existed) is
# checked through openssl where the host has it, and otherwise never replaces an existing,
# different key file.
# OpenDKIM refuses keys readable by a group with other members: mode 0600, owner opendkim.
# The key is staged where only root writes: every directory from $ETC_DIR down to the key's
# own is root's (EPEL's opendkim.spec ships keys/ as root:opendkim 0750), so no other user can
# swap the staged file for a link before it is chowned and moved into place.
id opendkim >/dev/null 2>&1 || die "user opendkim does not exist: is the opendkim package installed?"
root_only_dir() {
    [ ! -L "$1" ] || die "$1 is a symbolic link; refusing to write a private key through it"
    if [ "$(stat -c '%U' "$1")" != root ] || [ "$(($(stat -c '%#a' "$1") & 022))" != 0 ]; then
        die "$1 is writable by a user other than root ($(stat -c '%U:%G %a' "$1")); another user could swap the key being written. Make it root's and not group- or world-writable (chown root $1; chmod go-w $1), then run pulumi up again"
    fi
}
# Directories this stack makes are listed, so that the last key's delete takes them away again.
made_dir() {
    make_state_dir
    grep -qxF -- "$1" "$STATE_DIR/created-dirs" 2>/dev/null || echo "$1" >>"$STATE_DIR/created-dirs"
}
if [ ! -d "$ETC_DIR" ]; then
    install -d -m 0755 "$ETC_DIR"
    made_dir "$ETC_DIR"
fi
root_only_dir "$ETC_DIR"
dir=$(dirname "$KEY_FILE")
for d in "$KEY_DIR" "$dir"; do
    [ ! -L "$d" ] || die "$d is a symbolic link; refusing to write a private key through it"
    [ -d "$d" ] || [ "$d" = "$dir" ] || made_dir "$d"
    # Made root's (the guide's `chown -R opendkim:opendkim keys/` leaves them opendkim's);
    # OpenDKIM reads through the group, and owns only its key files.
    install -d -m 0750 -o root -g opendkim "$d"
    root_only_dir "$d"
done
tmp=$(mktemp "$dir/.$(basename "$KEY_FILE").XXXXXX")
trap 'rm -rf "$STAGE" "$tmp"' EXIT
awk -v pubf="$STAGE/public" '/^#mailauth-public / { print substr($0, 18) > pubf; next } { print }' >"$tmp"
grep -q -- '-----BEGIN .*PRIVATE KEY-----' "$tmp" || die "no PEM private key arrived on stdin for $KEY_FILE"
chown opendkim:opendkim "$tmp"
chmod 0600 "$tmp"
public=$(cat "$STAGE/public" 2>/dev/null || true)
# Stdin from before that line existed (kept by ignoreChanges): derive it, where openssl is installed.
if [ -z "$public" ] && command -v openssl >/dev/null 2>&1; then
    public=$(openssl pkey -in "$tmp" -pubout -outform DER 2>/dev/null | base64 -w0) || public=""
fi
# yes: the key on stdin is the published one; no: it is not; unknown: either is not known.
published=unknown
if [ -n "$public" ] && [ -n "$PUBLISHED" ]; then
    if [ "$public" = "$PUBLISHED" ]; then published=yes; else published=no; fi
fi
if [ -e "$KEY_FILE" ] && cmp -s "$tmp" "$KEY_FILE" && [ "$published" = no ]; then
    # The other way round: the record was created again from the stack's newer key.
    die "$KEY_FILE holds the key this step installed, but the selector's DKIM record now publishes another key (the record was created again: pulumi up --replace on it, or a change that replaces it). Mail signed with the installed key fails verification until they match. $RECORD_CHANGED"
elif [ -e "$KEY_FILE" ] && cmp -s "$tmp" "$KEY_FILE" && [ "$(stat -c '%U %a' "$KEY_FILE")" = "opendkim 600" ]; then
    echo "unchanged: $KEY_FILE"
elif [ -e "$KEY_FILE" ] && ! cmp -s "$tmp" "$KEY_FILE" && [ "$published" != yes ]; then
    # The key in place signs for the published record; the one on stdin would break that.
    echo "kept: $KEY_FILE (the key the stack holds is not the published one, and was not installed)"
elif [ ! -e "$KEY_FILE" ] && [ "$published" = no ]; then
    die "$KEY_FILE is missing, and the key the stack now holds for it is not the one its DKIM record publishes (the stack's key was replaced: pulumi up --replace on it, or a rename of its resource). Installing it would make every message it signs fail verification, so nothing was installed. $LOST_KEY"
else
    mv -f "$tmp" "$KEY_FILE"
    relabel "$KEY_FILE"
    echo "installed: $KEY_FILE"
fi
