#!/bin/bash
# Builds the lab's Debian mail host root filesystem (RELEASE: trixie, Debian 13, or bookworm, 12): debootstrap, Postfix, SSH, then the
# stack's own package step (given as a file holding its command line) run in a chroot while
# the build still has the network. The lab boots copies of it with no route off the machine.
# Usage: build-rootfs.sh ROOTFS PACKAGE_STEP_FILE RELEASE
set -euo pipefail
rootfs=$1
step=$2
release=$3
case "$release" in
    trixie | bookworm) ;;
    *) echo "build-rootfs: RELEASE is '$release': trixie (Debian 13) or bookworm (Debian 12)" >&2; exit 1 ;;
esac
mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
mirror=${mirror:-$(awk '$1 == "deb" { print $2; exit }' /etc/apt/sources.list 2>/dev/null)}
[ -n "$mirror" ] || { echo "build-rootfs: no Debian mirror found in this machine's apt sources" >&2; exit 1; }
tmp="$rootfs.tmp"
rm -rf "$tmp"
debootstrap --variant=minbase \
    --include=systemd,systemd-sysv,dbus,openssh-server,iproute2,ca-certificates,procps,less,sudo \
    "$release" "$tmp" "$mirror" >"$tmp.log" 2>&1 || { tail -n 30 "$tmp.log" >&2; exit 1; }

cleanup() { umount -l "$tmp/proc" "$tmp/sys" "$tmp/dev" 2>/dev/null || true; }
trap cleanup EXIT
mount -t proc proc "$tmp/proc"
mount --rbind /sys "$tmp/sys"
mount --rbind /dev "$tmp/dev"
cp /etc/resolv.conf "$tmp/etc/resolv.conf"
# No daemon starts inside the chroot.
printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
chmod +x "$tmp/usr/sbin/policy-rc.d"
chroot "$tmp" /bin/sh -c '
    set -e
    echo "postfix postfix/main_mailer_type select Internet Site" | debconf-set-selections
    echo "postfix postfix/mailname string mail.example.com" | debconf-set-selections
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postfix bsd-mailx >/dev/null
'
# The stack's own package step, exactly as it runs over SSH.
chroot "$tmp" /bin/sh -c "$(cat "$step")"
rm -f "$tmp/usr/sbin/policy-rc.d"
chroot "$tmp" apt-get clean
cleanup
trap - EXIT
mv "$tmp" "$rootfs"
rm -f "$tmp.log"
