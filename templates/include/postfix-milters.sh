# shellcheck shell=bash
# Which entries of a Postfix milter list reach OpenDKIM, whatever their spelling, and the list
# with this stack's entry in their place. Included before templates/postfix.sh, which sets
# $queue_dir, $opendkim_forms (the canonical forms of every OpenDKIM socket) and $MILTER.
# shellcheck disable=SC2154
# Postfix endpoints, in canonical forms: Postfix takes inet:, unix: and local: (postfix
# src/milter/milter8.c ~1800-1805, milter8_connect()); a relative path is under the queue
# directory, and an absolute one is seen inside it by a chrooted daemon.
milter_forms() {
    local spec=$1 rest host
    case "$spec" in
        inet:*)
            rest=${spec#inet:}
            host=${rest%:*}
            host=${host#[}
            host=${host%]}
            case "$host" in localhost | 127.0.0.1 | ::1) host=loopback ;; esac
            echo "inet:$host:${rest##*:}"
            ;;
        unix:/* | local:/*) echo "unix:${spec#*:}" && echo "unix:$queue_dir${spec#*:}" ;;
        unix:* | local:*) echo "unix:$queue_dir/${spec#*:}" ;;
    esac
}
# OpenDKIM's Socket (inet:port@host, inet6:port@[host], local:path, unix:path or a bare path;
# opendkim.conf(5), Socket), in the same forms. No host means every interface, loopback included.
opendkim_form() {
    local spec=$1 rest host
    case "$spec" in
        inet:* | inet6:*)
            rest=${spec#*:}
            host=""
            [ "$rest" = "${rest%@*}" ] || host=${rest#*@}
            host=${host#[}
            host=${host%]}
            case "$host" in '' | '*' | localhost | 127.0.0.1 | ::1 | 0.0.0.0 | ::) host=loopback ;; esac
            echo "inet:$host:${rest%%@*}"
            ;;
        local:* | unix:*) echo "unix:${spec#*:}" ;;
        /*) echo "unix:$spec" ;;
    esac
}
reaches_opendkim() {
    local form
    for form in $(milter_forms "$1"); do
        grep -qxF -- "$form" <<<"$opendkim_forms" && return 0
    done
    return 1
}
# with_milter LIST WHERE [override]: an override (master.cf -o) gets ours only in place of an
# OpenDKIM entry, and is written without blanks (postconf -P takes none).
with_milter() {
    local list=$1 word placed=0 entries=()
    # A list with grouped settings ({ inet:host:port, timeout=... }) is never re-split: the one
    # OpenDKIM endpoint in it is swapped for ours where it stands (its group settings kept), or
    # ours is added at the end.
    case "$list" in
        *"{"*)
            if has_word "$list" "$MILTER"; then printf '%s' "$list"; return; fi
            local found=()
            for word in $(words "$list"); do
                if reaches_opendkim "$word"; then found+=("$word"); fi
            done
            case "${#found[@]}" in
                0) printf '%s, %s' "$list" "$MILTER" ;;
                1) printf '%s' "${list/"${found[0]}"/$MILTER}" ;;
                *) die "$2 names OpenDKIM ${#found[@]} times (${found[*]}), inside a { ... } group; this stack connects it once, as $MILTER: keep one entry, then run again. Postfix was not changed." ;;
            esac
            return
            ;;
    esac
    for word in $(words "$list"); do
        if reaches_opendkim "$word"; then
            [ "$placed" = 1 ] || entries+=("$MILTER")
            placed=1
        else
            entries+=("$word")
        fi
    done
    if [ "${3:-}" = override ]; then
        if [ "$placed" = 1 ]; then printf '%s\n' "${entries[@]}" | paste -sd, -; else printf '%s' "$list"; fi
        return
    fi
    [ "$placed" = 1 ] || entries+=("$MILTER")
    printf '%s\n' "${entries[@]}" | join_list
}
