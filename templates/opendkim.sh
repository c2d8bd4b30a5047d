# inputs: CONF ETC_DIR TABLES SOCKET_DIR MAKE_SOCKET_DIR
# Puts OpenDKIM's configuration in place: opendkim.conf and the tables in $TABLES.
# The new files are staged and checked with `opendkim -n` first; on failure nothing is
# replaced. OpenDKIM is reloaded (or restarted, when its socket moves) only when a file changed.
id opendkim >/dev/null 2>&1 || die "user opendkim does not exist: is the opendkim package installed?"

# The opendkim.conf for this family and for what this OpenDKIM is built with (opendkim -V).
build=$(opendkim_build)
[ -e "$STAGE/opendkim.conf.$OS_FAMILY.$build" ] ||
    die "opendkim.nameservers {{nameserversRefusal}}; the old configuration stays in force."

# A unix socket outside Postfix's queue directory (EL: /run/opendkim) is reached by its absolute
# path: only an smtpd and a cleanup that are not chrooted see it (both talk to milters).
if [ -n "$SOCKET_DIR" ]; then
    case "$SOCKET_DIR/" in
        "$(postconf -h queue_directory)"/*) ;;
        *)
            # A chroot field of `-` is Postfix's default: y below compatibility_level 1, n from it
            # (postfix 3.10.13 src/master/master_ent.c:498-500, get_bool_ent "chroot"; master(5)).
            # `postconf -F` prints the field as written (`-` stays `-`).
            dash=n
            case "$(postconf -xh compatibility_level)" in 0 | 0.*) dash=y ;; esac
            chrooted=$(postconf -F '*/*/chroot' '*/*/command' | awk -F ' = ' -v dash="$dash" '
                { split($1, k, "/"); s = k[1] "/" k[2]; split($2, w, " ") }
                k[3] == "chroot" { chroot[s] = ($2 == "-" ? dash : $2) }
                k[3] == "command" { cmd[s] = w[1] }
                END { for (s in cmd) if ((cmd[s] == "smtpd" || cmd[s] == "cleanup") && chroot[s] == "y") print s }' | sort | paste -sd' ' -)
            [ -z "$chrooted" ] ||
                die "milterTransport unix puts OpenDKIM's socket in $SOCKET_DIR, which the chrooted Postfix services in master.cf ($chrooted) cannot reach; use milterTransport inet (the default on EL), or set their chroot column to n. Nothing was changed."
            # SELinux must label the directory for OpenDKIM (dkim_milter_data_t), or it may not
            # create its socket there.
            if command -v getenforce >/dev/null 2>&1 && [ "$(getenforce)" != Disabled ] && command -v matchpathcon >/dev/null 2>&1; then
                label=$(matchpathcon -n "$SOCKET_DIR" 2>/dev/null || true)
                case "$label" in
                    *:dkim_milter_data_t:*) ;;
                    *) die "milterTransport unix: SELinux labels $SOCKET_DIR '${label:-nothing}', not dkim_milter_data_t, so OpenDKIM may not create its socket there; use milterTransport inet (the default on EL). Nothing was changed." ;;
                esac
            fi
            ;;
    esac
fi

refuse_command_line_config
# The files are written through their links, where only root could have made them (write_target).
for f in "$CONF" $TABLES; do
    [ "$f" = "$CONF" ] || f="$ETC_DIR/$f"
    write_target "$f" >/dev/null
done
saved="$STATE_DIR/opendkim"
make_state_dir
mkdir -p "$saved"
for f in "$CONF" $TABLES; do
    [ "$f" = "$CONF" ] || f="$ETC_DIR/$f"
    save_original "$f" "$saved"
done
# The service state before this stack: off when this stack's package step installed OpenDKIM.
if [ ! -e "$saved/service-state" ]; then
    if grep -qx opendkim "$STATE_DIR/installed-packages" 2>/dev/null || ! service_enabled opendkim; then
        echo disabled >"$saved/service-state"
    else
        echo enabled >"$saved/service-state"
    fi
fi
[ -d "$ETC_DIR" ] || install -d -m 0755 "$ETC_DIR"

# What the host's own configuration signed keeps signing (templates/include/opendkim-merge.sh).
merge_host_config

# Check the staged set as a whole: a copy of the new opendkim.conf that reads the staged tables.
cp "$STAGE/opendkim.conf.$OS_FAMILY.$build" "$STAGE/opendkim.conf"
sed -E -e "s#$ETC_DIR/($(printf '%s' "$TABLES" | tr ' ' '|'))\$#$STAGE/\1#" "$STAGE/opendkim.conf" >"$STAGE/check.conf"
if ! out=$(opendkim -n -x "$STAGE/check.conf" 2>&1); then
    die "the new OpenDKIM configuration does not pass 'opendkim -n'; the old one stays in force: $out"
fi

# `opendkim -n` looks neither at the key files nor at what the tables name: check those too.
# '#' lines are comments (the header naming the stack: components/hostFiles.ts fileHeader).
while read -r keyname spec; do
    case "$keyname" in '' | '#'*) continue ;; esac
    keyfile=${spec##*:}
    # A key given inline, or per sender domain (%), as the host's own entries may: OpenDKIM's to read.
    case "$keyfile" in /*%* | [!/]*) continue ;; esac
    [ -f "$keyfile" ] || die "KeyTable entry $keyname: key file $keyfile is missing; the old configuration stays in force. Put the key back with: pulumi up --replace <the key step's URN> (see pulumi stack --show-urns)"
    [ "$(stat -c '%U %a' "$keyfile")" = "opendkim 600" ] ||
        die "key file $keyfile must be owned by opendkim with mode 0600 (OpenDKIM refuses other keys); the old configuration stays in force"
done <"$STAGE/KeyTable"
while read -r pattern keyname; do
    case "$pattern" in '' | '#'*) continue ;; esac
    grep -q "^$keyname " "$STAGE/KeyTable" || die "SigningTable entry $pattern names $keyname, which KeyTable lacks"
done <"$STAGE/SigningTable"

old_socket=$(sed -n 's/^Socket[[:space:]]\{1,\}//p' "$CONF" 2>/dev/null || true)
changed=0
# Set until OpenDKIM has read the new files: a run cut short restarts it next time.
interrupted=0
[ ! -e "$saved/apply-pending" ] || interrupted=1
: >"$saved/apply-pending"
for t in $TABLES; do
    install_if_changed "$STAGE/$t" "$ETC_DIR/$t" 0640 root:opendkim && changed=1
done
install_if_changed "$STAGE/opendkim.conf" "$CONF" 0644 root:root && changed=1

# A unix socket: under Postfix's queue directory where smtpd is chrooted (Debian), made here;
# in the package's own /run/opendkim on EL. Postfix reaches it through the opendkim group
# (Postfix daemons keep the postfix user's groups: src/util/chroot_uid.c, initgroups).
if [ -n "$SOCKET_DIR" ]; then
    if [ -n "$MAKE_SOCKET_DIR" ] && [ ! -d "$SOCKET_DIR" ]; then
        install -d -m 0750 -o opendkim -g opendkim "$SOCKET_DIR"
        relabel "$SOCKET_DIR"
        echo "$SOCKET_DIR" >"$saved/created-socket-dir"
        changed=1
    fi
    if ! grep -qx opendkim <<<"$(id -nG postfix | tr ' ' '\n')"; then
        usermod -a -G opendkim postfix
        : >"$saved/added-postfix-to-opendkim"
        echo "added user postfix to group opendkim"
    fi
fi

service_enabled opendkim || systemctl enable --quiet opendkim
new_socket=$(sed -n 's/^Socket[[:space:]]\{1,\}//p' "$CONF")
if ! service_active opendkim || [ "$old_socket" != "$new_socket" ] || [ "$interrupted" = 1 ]; then
    # Debian's package starts OpenDKIM with its own default socket: a restart applies ours.
    systemctl restart opendkim
    echo "restarted: opendkim"
elif [ "$changed" = 1 ]; then
    systemctl reload-or-restart opendkim
    echo "reloaded: opendkim"
fi

rm -f "$saved/apply-pending"

# Wait until OpenDKIM listens, so that Postfix is never pointed at a socket that is not there.
for _ in $(seq 1 50); do
    case "$new_socket" in
        local:*) [ -S "${new_socket#local:}" ] && exit 0 ;;
        inet:*)
            port=${new_socket#inet:}
            port=${port%@*}
            (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && exit 0
            ;;
        *) exit 0 ;;
    esac
    sleep 0.2
done
die "OpenDKIM does not listen on $new_socket after its restart; see: journalctl -u opendkim"
