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

# Copies FILE once into the state directory so that destroy can put it back; records
# its absence when it does not exist.
save_original() {
    local file=$1 dir=$2
    make_state_dir
    mkdir -p "$dir"
    local saved
    saved="$dir/$(basename "$file")"
    if [ -e "$saved" ] || [ -e "$saved.absent" ]; then
        return 0
    fi
    if [ -e "$file" ]; then
        cp -p "$file" "$saved"
    else
        : >"$saved.absent"
    fi
}

# Puts back what save_original kept.
restore_original() {
    local file=$1 dir=$2
    local saved
    saved="$dir/$(basename "$file")"
    if [ -e "$saved" ]; then
        cp -p "$saved" "$file"
        relabel "$file"
    elif [ -e "$saved.absent" ]; then
        rm -f "$file"
    fi
}

# Installs SRC as DST with MODE OWNER:GROUP unless DST already has the same content and
# attributes; prints the name and returns 0 when it changed something, 1 when not.
install_if_changed() {
    local src=$1 dst=$2 mode=$3 owner=$4
    if [ -e "$dst" ] && cmp -s "$src" "$dst" &&
        [ "$(stat -c '%a %U:%G' "$dst")" = "${mode#0} $owner" ]; then
        return 1
    fi
    install -m "$mode" -o "${owner%%:*}" -g "${owner##*:}" "$src" "$dst"
    relabel "$dst"
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
# force: $1 is the opendkim.conf this stack writes, first line below) and dkim_named (every key a
# configuration OpenDKIM reads now names: its KeyTable and KeyFile). $1: opendkim.conf; $2: the
# stack's KeyTable.
dkim_load_named() {
    local conf=$1 stack_table=$2 f kt
    declare -gA dkim_stack_named=() dkim_named=()
    f=$(head -n 1 "$conf" 2>/dev/null || true)
    case "$f" in
        "# OpenDKIM configuration written by the mailauth Pulumi stack"*)
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
