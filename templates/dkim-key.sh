# inputs: KEY_DIR ETC_DIR LOST_KEY RECORD_CHANGED
# Installs every DKIM private key of the host in one run. The keys arrive on stdin only, never in
# a command line (the step's stdin is a secret): each as a line
# `{{keyHeader}} <key file> <domain> <selector> <published p=> <its own p=>`, then its PEM; `{{keysEnd}} <count>`
# last. <published p=> is the p= value of the selector's DKIM record as published (`-`: none).
# A published key never changes while its selector is live (components/dkimKey.ts): a key that
# is not the published one is never put in place. An existing key file stays (it is what the
# record was published for), and with none the step refuses; a key in place that the record no
# longer publishes is refused too. The step's stdin carries the key the stack holds now, which
# after `pulumi up --replace` on a key (or a rename of its resource) is not the published one.
# A file at a key's path that this stack did not install (the host's own key for that domain and
# selector) is saved before the published key replaces it, and put back when the stack lets go of
# the key (templates/dkim-key-delete.sh, dkim-key-retire.sh); one that is not the published key
# and would stay is refused. Keys of selectors no longer configured are removed by the step after
# OpenDKIM's (dkim-key-retire.sh), once OpenDKIM no longer names them.
# OpenDKIM refuses keys readable by a group with other members: mode 0600, owner opendkim.
# The key is staged where only root writes: every directory from $ETC_DIR down to the key's
# own is root's (EPEL's opendkim.spec ships keys/ as root:opendkim 0750), so no other user can
# swap the staged file for a link before it is chowned and moved into place.
# LOST_KEY and RECORD_CHANGED: what to do, with @DOMAIN@ and @SELECTOR@ for the key's.
id opendkim >/dev/null 2>&1 || die "user opendkim does not exist: is the opendkim package installed?"
root_only_dir() {
    [ ! -L "$1" ] || die "$1 is a symbolic link; refusing to write a private key through it"
    if [ "$(stat -c '%U' "$1")" != root ] || [ "$(($(stat -c '%#a' "$1") & 022))" != 0 ]; then
        die "$1 is writable by a user other than root ($(stat -c '%U:%G %a' "$1")); another user could swap the key being written. Make it root's and not group- or world-writable (chown root $1; chmod go-w $1), then run pulumi up again"
    fi
}
# Directories this stack makes are listed, so that the keys' delete takes them away again.
made_dir() {
    make_state_dir
    grep -qxF -- "$1" "$STATE_DIR/created-dirs" 2>/dev/null || echo "$1" >>"$STATE_DIR/created-dirs"
}
help_for() {
    local t=${1//@DOMAIN@/$2}
    printf '%s' "${t//@SELECTOR@/$3}"
}

# The keys, each in its own file in "$STAGE" (root's, 0700), and an index of them.
awk -v stage="$STAGE" '
    index($0, "{{keyHeader}} ") == 1 { if (f != "") close(f); n++; f = stage "/key." n; printf "" > f; print n "\t" $2 "\t" $3 "\t" $4 "\t" $5 "\t" $6 > (stage "/index"); next }
    index($0, "{{keysEnd}} ") == 1 { if ($2 != n) exit 3; ended = 1; exit }
    f != "" { print > f }
    END { if (!ended) exit 3 }' || die "the keys did not arrive whole on stdin; nothing was installed"
[ -s "$STAGE/index" ] || die "no key arrived on stdin; nothing was installed"

if [ ! -d "$ETC_DIR" ]; then
    install -d -m 0755 "$ETC_DIR"
    made_dir "$ETC_DIR"
fi
root_only_dir "$ETC_DIR"
if [ ! -d "$KEY_DIR" ]; then
    [ ! -L "$KEY_DIR" ] || die "$KEY_DIR is a symbolic link; refusing to write a private key through it"
    made_dir "$KEY_DIR"
fi
# Made root's (the guide's `chown -R opendkim:opendkim keys/` leaves it opendkim's); OpenDKIM
# reads through the group, and owns only its key files.
install -d -m 0750 -o root -g opendkim "$KEY_DIR"
root_only_dir "$KEY_DIR"

make_state_dir
install -d -m 0700 "$STATE_DIR/keys"
list="$STATE_DIR/keys/installed"
declare -A ours=() dirs=()
if [ -f "$list" ]; then
    while read -r f; do [ -z "$f" ] || ours[$f]=1; done <"$list"
fi
# Marks a key file as the stack's: destroy (or the selector's removal) lets go of it.
claim() {
    [ -z "${ours[$1]:-}" ] || return 0
    ours[$1]=1
    printf '%s\n' "$1" >>"$list"
}

while IFS=$'\t' read -r n file domain selector published public; do
    [ "$published" != - ] || published=""
    [ "$public" != - ] || public=""
    dir=${file%/*}
    [ "$dir" = "$KEY_DIR/$domain" ] || die "key file $file is not in $KEY_DIR/$domain"
    staged="$STAGE/key.$n"
    grep -q -- '-----BEGIN .*PRIVATE KEY-----' "$staged" || die "no PEM private key arrived on stdin for $file"
    if [ -z "${dirs[$dir]:-}" ]; then
        [ ! -L "$dir" ] || die "$dir is a symbolic link; refusing to write a private key through it"
        install -d -m 0750 -o root -g opendkim "$dir"
        root_only_dir "$dir"
        dirs[$dir]=1
    fi
    [ ! -L "$file" ] || die "$file is a symbolic link; a key file is written in place, never through a link. Move it away, then run pulumi up again"
    # yes: the key on stdin is the published one; no: it is not; unknown: either is not known.
    state=unknown
    if [ -n "$public" ] && [ -n "$published" ]; then
        if [ "$public" = "$published" ]; then state=yes; else state=no; fi
    fi
    same=0
    [ ! -e "$file" ] || ! cmp -s "$staged" "$file" || same=1
    if [ "$same" = 1 ] && [ "$state" = no ]; then
        # The other way round: the installed key is the stack's, and the record publishes another.
        die "$file holds the key the stack holds for it, but the selector's DKIM record publishes another key (the record was changed outside this stack). Mail signed with the installed key fails verification until they match. $(help_for "$RECORD_CHANGED" "$domain" "$selector")"
    elif [ "$same" = 1 ] && [ "$(stat -c '%U %a' "$file")" = "opendkim 600" ]; then
        claim "$file"
        echo "unchanged: $file"
        continue
    elif [ -e "$file" ] && [ "$same" = 0 ] && [ "$state" != yes ]; then
        # The key in place signs for the published record; the one on stdin would break that.
        if [ -z "${ours[$file]:-}" ] && [ -n "$published" ] && command -v openssl >/dev/null 2>&1; then
            # Not listed as the stack's (installed before the list existed, or the host's own):
            # the stack's only if it is the key the stack's record publishes.
            inplace=$(openssl pkey -in "$file" -pubout -outform DER 2>/dev/null | base64 -w0) || inplace=""
            if [ "$inplace" = "$published" ]; then
                claim "$file"
            else
                die "$file is a key this stack did not install, and it is not the key the selector's DKIM record publishes: OpenDKIM would sign with it and every message would fail verification. Move it away (the stack then installs its published key; put yours back after pulumi destroy), or sign $domain with another selector, then run pulumi up again"
            fi
        fi
        echo "kept: $file (the key the stack holds is not the published one, and was not installed)"
        continue
    elif [ ! -e "$file" ] && [ "$state" = no ]; then
        die "$file is missing, and the key the stack now holds for it is not the one its DKIM record publishes (the stack's key was replaced: pulumi up --replace on it, or a rename of its resource). Installing it would make every message it signs fail verification, so nothing was installed. $(help_for "$LOST_KEY" "$domain" "$selector")"
    fi
    # A file of the host's own at this path is kept for destroy, once.
    if [ -e "$file" ] && [ "$same" = 0 ] && [ -z "${ours[$file]:-}" ]; then
        saved="$STATE_DIR/keys/saved$file"
        if [ ! -e "$saved" ]; then
            install -d -m 0700 "$(dirname "$saved")"
            cp -p -- "$file" "$saved"
            echo "saved: $file (the host's own key; back on destroy)"
        fi
    fi
    tmp=$(mktemp "$dir/.${file##*/}.XXXXXX")
    cat "$staged" >"$tmp"
    chown opendkim:opendkim "$tmp"
    chmod 0600 "$tmp"
    claim "$file"
    mv -f "$tmp" "$file"
    relabel "$file"
    echo "installed: $file"
done <"$STAGE/index"
