# Installs OpenDKIM and the SPF policy agent where missing and creates the policyd-spf user
# where the package does not. Installed packages are left alone: no network is needed then.
command -v postconf >/dev/null 2>&1 ||
    die "Postfix is not installed on this host (no postconf); install and configure Postfix first"

pkg_installed() {
    case "$OS_FAMILY" in
        el) rpm -q "$1" >/dev/null 2>&1 ;;
        debian) [ "$(dpkg-query -W -f '${db:Status-Status}' "$1" 2>/dev/null)" = installed ] ;;
    esac
}

# EPEL's packages need CRB (EL9) or PowerTools (EL8) enabled.
enable_epel() {
    pkg_installed epel-release && return 0
    local ID=""
    # shellcheck disable=SC1091
    . /etc/os-release
    if [ "$ID" = rhel ]; then
        subscription-manager repos --enable "codeready-builder-for-rhel-$OS_MAJOR-$(arch)-rpms"
        dnf -y install "https://dl.fedoraproject.org/pub/epel/epel-release-latest-$OS_MAJOR.noarch.rpm"
    else
        dnf -y install dnf-plugins-core
        if [ "$OS_MAJOR" = 8 ]; then dnf config-manager --set-enabled powertools; else dnf config-manager --set-enabled crb; fi
        dnf -y install epel-release
    fi
}

missing=()
for pkg in $PACKAGES; do
    pkg_installed "$pkg" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing: ${missing[*]}"
    case "$OS_FAMILY" in
        el)
            enable_epel
            dnf -y install "${missing[@]}"
            ;;
        debian)
            export DEBIAN_FRONTEND=noninteractive
            apt-get update -q
            apt-get install -y -q --no-install-recommends "${missing[@]}"
            ;;
    esac
    mkdir -p "$STATE_DIR"
    printf '%s\n' "${missing[@]}" >>"$STATE_DIR/installed-packages"
fi

if ! id policyd-spf >/dev/null 2>&1; then
    useradd --system --user-group --no-create-home --shell /sbin/nologin policyd-spf
    mkdir -p "$STATE_DIR"
    : >"$STATE_DIR/created-user-policyd-spf"
    echo "created user policyd-spf"
fi
