# inputs: PACKAGES NAMESERVERS
# Installs OpenDKIM and the SPF policy agent where missing and creates the policyd-spf user
# where the package does not. Installed packages are left alone: no network is needed then.
# On EL, EPEL's packages need EPEL and CodeReady Builder (CRB on EL9, PowerTools on EL8):
# EPEL9's opendkim links libmemcached.so.11, which only CRB has (opendkim.spec: --with-libmemcached,
# BuildRequires libmemcached-awesome-devel for epel >= 9). Both are found among the host's own
# repositories, whatever they are called there (mirrors, Satellite, a cloud's RHUI servers).
command -v postconf >/dev/null 2>&1 ||
    die "Postfix is not installed on this host (no postconf); install and configure Postfix first"

pkg_installed() {
    case "$OS_FAMILY" in
        el) rpm -q "$1" >/dev/null 2>&1 ;;
        debian) [ "$(dpkg-query -W -f '${db:Status-Status}' "$1" 2>/dev/null)" = installed ] ;;
    esac
}

# "<repo id> <enabled|disabled> <repo name>" for every repository dnf knows. `dnf repolist --all` prints a
# header, then id, name (cut to the terminal's width, may hold blanks) and status per repository
# (dnf/cli/commands/repolist.py); the status is the last enabled/disabled word of the line.
# No colour: with `color=always` in dnf.conf dnf wraps the status in ANSI codes even into a pipe
# (dnf 4.14 dnf/cli/commands/repolist.py:119,143,149; dnf/cli/term.py:141-145, the forced codes),
# and the word is no longer found; --color is dnf's own option (dnf/cli/option_parser.py:306).
el_repos() {
    local out
    out=$(dnf -q --color=never repolist --all 2>&1) || die "dnf repolist --all failed; nothing was installed: $out"
    printf '%s\n' "$out" | awk '
        $1 == "repo" && $2 == "id" { next }
        {
            state = ""
            for (i = NF; i > 1 && state == ""; i--) {
                if ($i ~ /^enabled:?$/) state = "enabled"; else if ($i == "disabled") state = "disabled"
            }
            id = $1; sub(/^\*/, "", id)
            name = ""
            for (j = 2; j < i + 1; j++) name = name (j > 2 ? " " : "") $j
            if (state != "") print id, state, name
        }'
}

# subscription-manager writes the repositories it serves (RHSM, or a Satellite/Katello server,
# which registers Alma and Rocky hosts too) to one file, /etc/yum.repos.d/redhat.repo
# (subscription-manager src/subscription_manager/repofile.py, YumRepoFile), and `repos --enable`
# knows only those.
rhsm_repo() {
    [ "$el_registered" = 1 ] && [ -r /etc/yum.repos.d/redhat.repo ] && grep -qxF "[$1]" /etc/yum.repos.d/redhat.repo
}

el_enable_repo() {
    local id=$1
    if rhsm_repo "$id" || { [ "$el_registered" = 1 ] && [ "$OS_ID" = rhel ] && [ "${2:-}" = rhsm ]; }; then
        # Subscription-managed repositories are switched by subscription-manager; a dnf change
        # to redhat.repo would be undone on its next refresh.
        subscription-manager repos --enable "$id"
    else
        dnf config-manager --help >/dev/null 2>&1 || dnf -y install dnf-plugins-core
        dnf config-manager --set-enabled "$id"
    fi
    echo "$id" >>"$STATE_DIR/enabled-repos"
    echo "enabled repository: $id"
}

# CodeReady Builder, found as EPEL's own `crb` script finds it (epel-release, crb:
# `dnf repolist --all | grep -i -e crb -e powertools -e codeready | grep -v -i -e debug -e source
# -e eus -e virt`): crb, powertools or codeready in the id or the name, whatever the mirror or
# Satellite/Katello calls it (crb, powertools, codeready-builder-for-rhel-9-x86_64-rpms, a cloud's
# codeready-builder-for-rhel-9-rhui-rpms, rocky9-crb, Default_Organization_AlmaLinux_9_CRB_x86_64),
# never its debug, source, extended-support or virtualization variants; beta ones neither.
el_crb() {
    local repos=$1 id state name candidates=()
    while read -r id state name; do
        case "$(printf '%s %s' "$id" "$name" | tr '[:upper:]' '[:lower:]')" in
            *debug* | *source* | *eus* | *virt* | *e4s* | *-aus-* | *beta*) continue ;;
            *crb* | *powertools* | *codeready*) ;;
            *) continue ;;
        esac
        if [ "$state" = enabled ]; then return 0; fi
        candidates+=("$id")
    done <<<"$repos"
    if [ "${#candidates[@]}" -gt 0 ]; then
        el_enable_repo "${candidates[0]}"
    elif [ "$el_registered" = 1 ] && [ "$OS_ID" = rhel ]; then
        el_enable_repo "codeready-builder-for-rhel-$OS_MAJOR-$(uname -m)-rpms" rhsm
    else
        die "EPEL's packages need the CodeReady Builder repository (CRB on EL9, PowerTools on EL8; on RHEL codeready-builder-for-rhel-$OS_MAJOR-$(uname -m)-rpms), and 'dnf repolist --all' lists none on this host (no repository whose id or name holds crb, powertools or codeready). Register it (subscription-manager register), or add your cloud provider's or your mirror's codeready-builder repository, then run pulumi up again. Nothing was installed."
    fi
}

# Whether a repository id names EPEL itself or a mirror of it: one of its words (split at - _ .)
# is `epel` or `epelN` (epel, epel9, epel_local, rocky9-epel, Satellite's
# Default_Organization_EPEL_9_EPEL_9_x86_64), and none names one of EPEL's other repositories.
# epel-release also ships epel-testing, epel-debuginfo, epel-source, epel-next (CentOS Stream)
# and, on EL9, epel-cisco-openh264 **enabled** (Cisco's OpenH264 builds only): none of them
# holds opendkim, so none of them may stand for EPEL (epel-release.spec, epel9 branch:
# epel-cisco-openh264.repo; epel-next.repo for Stream).
is_epel_repo() {
    local word words epel=0
    read -ra words <<<"$(printf '%s' "$1" | tr '[:upper:]' '[:lower:]' | tr -- '-_.' '   ')"
    for word in "${words[@]}"; do
        case "$word" in
            epel | epel[0-9] | epel[0-9][0-9]) epel=1 ;;
            next | testing | cisco | openh264 | debug | debuginfo | source | modular | playground) return 1 ;;
        esac
    done
    [ "$epel" = 1 ]
}

# EPEL, by repository: the epel-release package, a local mirror or Satellite all count.
epel_enablerepo=()
el_epel() {
    local repos=$1 id state disabled=""
    while read -r id state _; do
        is_epel_repo "$id" || continue
        if [ "$state" = enabled ]; then return 0; fi
        [ -n "$disabled" ] || disabled=$id
    done <<<"$repos"
    if [ -n "$disabled" ]; then
        # Present but switched off by its owner: used for this install only, left off after.
        echo "using the disabled repository $disabled for this install only"
        epel_enablerepo=("--enablerepo=$disabled")
    elif [ "$OS_ID" = rhel ]; then
        dnf -y install "https://dl.fedoraproject.org/pub/epel/epel-release-latest-$OS_MAJOR.noarch.rpm"
    else
        dnf -y install epel-release
    fi
}

missing=()
for pkg in $PACKAGES; do
    pkg_installed "$pkg" || missing+=("$pkg")
done
# EL 10: EPEL 10 builds opendkim and opendkim-tools (2.11.0-0.42.el10_1 in EPEL 10.1 and 10.2) but
# not pypolicyd-spf, built for EPEL 8 and 9 only (packages.fedoraproject.org, pypolicyd-spf and
# opendkim-tools, read 2026-12; python3-pyspf, which it needs, is in EPEL 10). The step stops
# before any change unless the host already has it as a package.
if [ "$OS_FAMILY" = el ] && [ "$OS_MAJOR" -ge 10 ] && ! pkg_installed pypolicyd-spf; then
    die "EL $OS_MAJOR: EPEL $OS_MAJOR has opendkim and opendkim-tools but no pypolicyd-spf (EPEL builds it for EL 8 and 9 only), and this host does not have it installed. Build and install the pypolicyd-spf package (it puts policyd-spf at /usr/libexec/postfix/policyd-spf, where master.cf will run it), then run pulumi up again; or use an EL 9 host. Nothing was installed."
fi

if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing: ${missing[*]}"
    make_state_dir
    case "$OS_FAMILY" in
        el)
            # subscription-manager's identity fails unless the host is registered
            # (subscription_manager/cli_command/identity.py, _validate_options). Not RHEL only:
            # Satellite/Katello register Alma and Rocky hosts with it too.
            el_registered=0
            if command -v subscription-manager >/dev/null 2>&1 &&
                subscription-manager identity >/dev/null 2>&1; then
                el_registered=1
            fi
            repos=$(el_repos)
            el_crb "$repos"
            repos=$(el_repos)
            el_epel "$repos"
            dnf -y "${epel_enablerepo[@]}" install "${missing[@]}"
            ;;
        debian)
            export DEBIAN_FRONTEND=noninteractive
            apt-get update -q
            apt-get install -y -q --no-install-recommends "${missing[@]}"
            ;;
    esac
    printf '%s\n' "${missing[@]}" >>"$STATE_DIR/installed-packages"
fi

if [ -n "$NAMESERVERS" ] && [ "$(opendkim_build)" != unbound ]; then
    die "opendkim.nameservers ($NAMESERVERS) {{nameserversRefusalEpel}}."
fi

if ! id policyd-spf >/dev/null 2>&1; then
    useradd --system --user-group --no-create-home --shell /sbin/nologin policyd-spf
    make_state_dir
    : >"$STATE_DIR/created-user-policyd-spf"
    echo "created user policyd-spf"
fi
