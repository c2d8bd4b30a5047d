# shellcheck shell=bash
# Shared by every script the stack runs on the host. Sets strict mode, finds the OS family and
# gives the helpers that keep edits safe: back up once, stage, validate, then swap.
set -euo pipefail
umask 022
export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# What the stack remembers on the host: the originals it restores on destroy.
# shellcheck disable=SC2034 # not every step keeps state
STATE_DIR=/var/lib/mailauth

die() {
    echo "mailauth: $*" >&2
    exit 1
}

# The state directory holds the originals destroy copies back and the lists of what to remove,
# written and read by root: another user who owns it, or can write to it, could plant a link
# there that root then writes through or empties. Same rule as the key directories
# (templates/dkim-key.sh root_only_dir). Made 0700 root when first needed (make_state_dir).
check_state_dir() {
    if [ -L "$STATE_DIR" ] || { [ -e "$STATE_DIR" ] && [ ! -d "$STATE_DIR" ]; }; then
        die "$STATE_DIR is not a directory (a symbolic link or a file); it holds what destroy puts back, so nothing was changed. Remove it (rm $STATE_DIR) or move it aside, then run again"
    fi
    if [ -d "$STATE_DIR" ] && { [ "$(stat -c '%U' "$STATE_DIR")" != root ] || [ "$(($(stat -c '%#a' "$STATE_DIR") & 022))" != 0 ]; }; then
        die "$STATE_DIR is owned or writable by a user other than root ($(stat -c '%U:%G %a' "$STATE_DIR")); another user could plant links there that root writes through. Make it root's and not group- or world-writable (chown -R root:root $STATE_DIR; chmod 0700 $STATE_DIR), then run again. Nothing was changed"
    fi
    return 0
}
make_state_dir() {
    [ -d "$STATE_DIR" ] || install -d -m 0700 -o root -g root "$STATE_DIR"
    check_state_dir
}
check_state_dir

# Sets OS_FAMILY (el or debian) from /etc/os-release; stops on anything unsupported,
# before any change is made.
SUPPORTED_HOSTS="RHEL, Rocky, AlmaLinux 8, 9 and 10; CentOS Stream 9 and 10; Debian 12+; Ubuntu 22.04+"
detect_os() {
    local os_release=${OS_RELEASE_FILE:-/etc/os-release}
    [ -r "$os_release" ] || die "cannot read $os_release: unsupported host (supported: $SUPPORTED_HOSTS)"
    local ID="" ID_LIKE="" VERSION_ID="" PRETTY_NAME=""
    # shellcheck disable=SC1090
    . "$os_release"
    local major=${VERSION_ID%%.*}
    case " $ID $ID_LIKE " in
        *" rhel "* | *" centos "* | *" rocky "* | *" almalinux "*)
            OS_FAMILY=el
            case "$major" in 8 | 9 | 10) ;; *) die "unsupported OS: ${PRETTY_NAME:-$ID $VERSION_ID} (supported: $SUPPORTED_HOSTS)" ;; esac
            # CentOS Linux 8 ended on 2021-12-31 and CentOS Stream 8 on 2024-05-31: their
            # repositories are gone from the mirrors, so no package can be installed there.
            if [ "$ID" = centos ] && [ "$major" = 8 ]; then
                die "unsupported OS: ${PRETTY_NAME:-$ID $VERSION_ID} is end-of-life and its repositories are gone; move to Rocky Linux, AlmaLinux, RHEL or CentOS Stream 9 (supported: $SUPPORTED_HOSTS)"
            fi
            ;;
        *)
            case "$ID" in
                debian) [ "${major:-0}" -ge 12 ] 2>/dev/null || die "unsupported OS: ${PRETTY_NAME:-$ID $VERSION_ID} (supported: Debian 12 or later)" ;;
                ubuntu) [ "${major:-0}" -ge 22 ] 2>/dev/null || die "unsupported OS: ${PRETTY_NAME:-$ID $VERSION_ID} (supported: Ubuntu 22.04 or later)" ;;
                *) die "unsupported OS: ${PRETTY_NAME:-$ID $VERSION_ID} (supported: $SUPPORTED_HOSTS)" ;;
            esac
            OS_FAMILY=debian
            ;;
    esac
    OS_MAJOR=$major
    OS_ID=$ID
    export OS_FAMILY OS_MAJOR OS_ID
}

# How the installed OpenDKIM resolves: "unbound" when built with libunbound (its `-V` lists
# USE_UNBOUND among the active code options: opendkim/opendkim.c:15749-15785 and util.c:119,
# OpenDKIM 2.11.0-Beta2), else "resolv" (the system resolver; `Nameservers` then does nothing:
# libopendkim/dkim-dns.c:267-329). EPEL's build is the latter (opendkim.spec, %configure
# without --with-unbound); Debian's the former.
opendkim_build() {
    local v
    v=$(opendkim -V 2>/dev/null || true)
    if grep -qx '[[:space:]]*USE_UNBOUND' <<<"$v"; then echo unbound; else echo resolv; fi
}

# Restores SELinux labels on files put in place (EL); a no-op where SELinux is absent.
relabel() {
    if command -v restorecon >/dev/null 2>&1; then
        restorecon -F "$@" 2>/dev/null || true
    fi
}

# Where a write to FILE lands: FILE itself, or the file its symbolic links lead to (a user's
# main.cf or opendkim.conf kept elsewhere stays a link, edited through). A link is followed, and
# a file written, only where root alone can change the way: every directory holding FILE or a link
# on the way to it, and every directory above those, must be root's and not writable by group or
# others; else another user (OpenDKIM's directory handed to opendkim by the guide's chown -R) could
# plant a link there that root then writes through. Stops, naming the directory, before any change.
write_target() {
    local file=$1 p=$1 link d n=0 seen=""
    while :; do
        for d in "$(dirname -- "$p")" "$(realpath -m -- "$(dirname -- "$p")")"; do
            while :; do
                case " $seen " in *" $d "*) ;; *)
                    seen+=" $d"
                    if [ -e "$d" ] && { [ "$(stat -L -c '%U' -- "$d")" != root ] || [ "$(($(stat -L -c '%#a' -- "$d") & 022))" != 0 ]; }; then
                        die "$d is owned or writable by a user other than root ($(stat -L -c '%U:%G %a' -- "$d")), and holds $file or the way to it; another user could put a link there that root writes through. Nothing was changed. Make it root's and not group- or world-writable (chown root $d; chmod go-w $d), then run again"
                    fi
                    ;;
                esac
                if [ "$d" = / ] || [ "$d" = . ]; then break; fi
                d=$(dirname -- "$d")
            done
        done
        [ -L "$p" ] || break
        n=$((n + 1))
        [ "$n" -le 40 ] || die "$file: too many levels of symbolic links. Nothing was changed"
        link=$(readlink -- "$p")
        case "$link" in /*) p=$link ;; *) p="$(dirname -- "$p")/$link" ;; esac
    done
    realpath -m -- "$file"
}

# Puts SRC in place of FILE in one step (a copy beside the file it replaces, then a rename), through
# FILE's links (write_target); SRC's mode and owner come with it.
replace_file() {
    local src=$1 target
    target=$(write_target "$2")
    cp -p "$src" "$(dirname "$target")/.$(basename "$target").mailauth"
    mv -f "$(dirname "$target")/.$(basename "$target").mailauth" "$target"
    relabel "$target"
}

# Copies FILE once into the state directory so that destroy can put it back; records
# its absence when it does not exist, and the link when FILE is one.
save_original() {
    local file=$1 dir=$2
    make_state_dir
    mkdir -p "$dir"
    local saved
    saved="$dir/$(basename "$file")"
    if [ -e "$saved" ] || [ -e "$saved.absent" ]; then
        return 0
    fi
    [ ! -L "$file" ] || readlink -- "$file" >"$saved.link"
    if [ -e "$file" ]; then
        cp -p "$file" "$saved"
    else
        : >"$saved.absent"
    fi
}

# Puts back what save_original kept: the file, through its link, and the link itself when FILE
# was one (a link replaced since, as earlier versions of this stack did, is made again).
restore_original() {
    local file=$1 dir=$2
    local saved link
    saved="$dir/$(basename "$file")"
    if [ -e "$saved.link" ]; then
        link=$(cat "$saved.link")
        write_target "$file" >/dev/null
        if [ ! -L "$file" ] || [ "$(readlink -- "$file")" != "$link" ]; then
            rm -f "$file"
            ln -s -- "$link" "$file"
        fi
    fi
    if [ -e "$saved" ]; then
        replace_file "$saved" "$file"
    elif [ -e "$saved.absent" ] && [ -e "$saved.link" ]; then
        # A link that led nowhere: what this stack wrote through it goes, the link stays.
        rm -f "$(write_target "$file")"
    elif [ -e "$saved.absent" ]; then
        write_target "$file" >/dev/null
        rm -f "$file"
    fi
}

# Installs SRC as DST with MODE OWNER:GROUP unless DST already has the same content and
# attributes; prints the name and returns 0 when it changed something, 1 when not. Through DST's
# links (write_target).
install_if_changed() {
    local src=$1 dst=$2 mode=$3 owner=$4 target
    target=$(write_target "$dst")
    if [ -e "$target" ] && cmp -s "$src" "$target" &&
        [ "$(stat -c '%a %U:%G' "$target")" = "${mode#0} $owner" ]; then
        return 1
    fi
    install -m "$mode" -o "${owner%%:*}" -g "${owner##*:}" "$src" "$target"
    relabel "$target"
    echo "changed: $dst"
    return 0
}

service_active() { systemctl is-active --quiet "$1"; }
service_enabled() { systemctl is-enabled --quiet "$1" 2>/dev/null; }

# Postfix main.cf, read once per run: `explicit NAME` prints NAME's value when main.cf sets it,
# and fails when it does not.
read_main_cf() { main_cf=$(postconf -n); }
explicit() {
    printf '%s\n' "$main_cf" | awk -v n="$1" '
        index($0, n " =") == 1 { v = substr($0, length(n) + 3); sub(/^ /, "", v); print v; found = 1 }
        END { exit !found }'
}

# Postfix lists are split on commas and blanks.
# shellcheck disable=SC2020 # three characters, each to a newline
words() { printf '%s\n' "$1" | tr ', \t' '\n\n\n' | sed '/^$/d'; }
# Never `producer | grep -q`: grep may stop at its first match while the producer still writes,
# which then dies of SIGPIPE, and under pipefail the test is false though the word is there
# (test/unit/pipes.test.ts). Here-strings and captured output are read whole.
has_word() { grep -qxF -- "$2" <<<"$(words "$1")"; }
join_list() { paste -sd, - | sed 's/,/, /g'; }

# DKIM keys (templates/dkim-key.sh, dkim-key-retire.sh, dkim-key-delete.sh). The key files this
# stack installed are listed, one path a line, in $STATE_DIR/keys/installed; a file of the host's
# own that the stack's key replaced is saved as $STATE_DIR/keys/saved<its path>, and put back
# when the stack lets go of that key.
# The value of setting $2 in OpenDKIM configuration file $1: names without case, a line ends at
# '#' or a carriage return, the last of repeated settings wins (trusteddomainproject/OpenDKIM
# opendkim/config.c ~236-243 and ~261 strcasecmp, ~400 each new setting put first, config_get
# ~692 takes the first found). Fails when unset.
dkim_conf_setting() {
    sed -e 's/[#\r].*//' "$1" 2>/dev/null | awk -v n="$2" 'tolower($1) == tolower(n) { v = $2 } END { if (v == "") exit 1; print v }'
}

# The key files the KeyTables in $@ name (KeyTable(5) lines `name domain:selector:keyfile`), one a line.
dkim_table_keys() {
    local t
    for t in "$@"; do
        [ -f "$t" ] || continue
        sed -e 's/[#\r].*//' "$t" | awk '{ n = split($2, a, ":"); if (n >= 3) print a[3] }'
    done
}

# Fills dkim_stack_named (the keys the stack's own configuration signs with, when it is the one in
# force: $1 is the opendkim.conf this stack writes, its first line below, as components/hostFiles.ts
# fileHeader writes it, or as the stack wrote it before the header named the stack) and dkim_named (every key a
# configuration OpenDKIM reads now names: its KeyTable and KeyFile). $1: opendkim.conf; $2: the
# stack's KeyTable.
dkim_load_named() {
    local conf=$1 stack_table=$2 f kt
    declare -gA dkim_stack_named=() dkim_named=()
    f=$(head -n 1 "$conf" 2>/dev/null || true)
    case "$f" in
        "{{opendkimConfHeader}}"* | "{{opendkimConfHeaderOld}}"*)
            while read -r f; do [ -z "$f" ] || dkim_stack_named[$f]=1; done < <(dkim_table_keys "$stack_table")
            ;;
    esac
    kt=$(dkim_conf_setting "$conf" KeyTable || true)
    while read -r f; do [ -z "$f" ] || dkim_named[$f]=1; done < <(dkim_table_keys "${kt#file:}")
    f=$(dkim_conf_setting "$conf" KeyFile || true)
    [ -z "$f" ] || dkim_named[$f]=1
    return 0
}

# Lets go of key file $1, which this stack installed (dkim_load_named first). Returns 1 (the key
# stays, and stays the stack's) while the stack's configuration in force signs with it: a
# replacement's first half, which the create then follows. Otherwise the host's own file saved
# there before comes back; or, with none, the key is removed unless the host's own configuration
# names it (then it stays, as the host's). Returns 0: no longer the stack's.
dkim_release_key() {
    local f=$1 saved="$STATE_DIR/keys/saved$1"
    if [ -n "${dkim_stack_named[$f]:-}" ]; then
        echo "kept: $f (OpenDKIM's KeyTable still names it)"
        return 1
    fi
    if [ -f "$saved" ]; then
        mv -f "$saved" "$f"
        relabel "$f"
        echo "restored: $f (the host's own key, saved when the stack put its key there)"
    elif [ -n "${dkim_named[$f]:-}" ]; then
        echo "kept: $f (the host's own OpenDKIM configuration names it)"
    else
        rm -f "$f"
        rmdir "$(dirname "$f")" 2>/dev/null || true
        echo "removed: $f"
    fi
    return 0
}

# Rewrites the list of the stack's key files as the paths in $@ (none: the list goes).
dkim_write_installed() {
    local list="$STATE_DIR/keys/installed"
    if [ "$#" -eq 0 ]; then
        rm -f "$list"
        [ ! -d "$STATE_DIR/keys/saved" ] || find "$STATE_DIR/keys/saved" -depth -type d -empty -delete
        rmdir "$STATE_DIR/keys" 2>/dev/null || true
        return 0
    fi
    printf '%s\n' "$@" >"$list.new"
    mv -f "$list.new" "$list"
}
