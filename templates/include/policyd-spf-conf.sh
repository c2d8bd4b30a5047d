# shellcheck shell=bash
# policyd-spf.conf, edited key by key: the stack sets a key with one `key = value` line and leaves
# every other line of the file as it is; what the key was before (its line, or none) is kept in
# "$saved" and put back when the stack lets go of the key, unless the line has been changed since.
# How policyd-spf reads the file (python3-spf-engine 3.0.4-2 spf_engine/policydspfsupp.py ~176-208):
# a line ends at its first '#'; it is split on '=' and read only when that gives exactly two
# parts, both stripped of blanks; names are compared exactly (case too); a later line for the
# same key wins (configData[name] overwritten). Included before templates/policyd-spf.sh and
# policyd-spf-delete.sh, whose $saved and $staged it reads.
# shellcheck disable=SC2154

# "<line number> <text>" of the line policyd-spf takes KEY from in FILE (its last); fails when none.
spf_conf_line() {
    awk -v k="$1" '
        {
            l = $0
            sub(/#.*/, "", l)
            if (split(l, p, "=") != 2) next
            gsub(/^[ \t\r\f\v]+|[ \t\r\f\v]+$/, "", p[1])
            if (p[1] == k) { at = NR; text = $0 }
        }
        END { if (!at) exit 1; print at " " text }' "$2"
}

# The value of such a line, as policyd-spf reads it.
spf_line_value() {
    local l=${1%%#*}
    l=${l#*=}
    l=${l#"${l%%[![:space:]]*}"}
    printf '%s' "${l%"${l##*[![:space:]]}"}"
}

# Line N of the staged file replaced by TEXT, or removed when TEXT is unset; mode and owner stay.
spf_edit_line() {
    T=${2-} D=${2+x} awk -v n="$1" 'NR == n { if (ENVIRON["D"] == "x") print ENVIRON["T"]; next } { print }' "$staged" >"$staged.new"
    cat "$staged.new" >"$staged"
    rm -f "$staged.new"
}

# KEY set to VALUE in the staged file: its line replaced, or one added at the end.
spf_set() {
    local key=$1 value=$2 found="" text
    text="$key = $value"
    found=$(spf_conf_line "$key" "$staged") || found=""
    if [ -n "$found" ] && [ "$(spf_line_value "${found#* }")" = "$value" ]; then
        return 0
    fi
    # The key as the host had it, kept once: the first change of the key is the one destroy undoes.
    if [ ! -e "$saved/$key.original" ] && [ ! -e "$saved/$key.absent" ]; then
        if [ -n "$found" ]; then printf '%s\n' "${found#* }" >"$saved/$key.original"; else : >"$saved/$key.absent"; fi
    fi
    if [ -n "$found" ]; then
        spf_edit_line "${found%% *}" "$text"
    else
        # A last line without its newline gets one first.
        [ ! -s "$staged" ] || [ -z "$(tail -c 1 "$staged")" ] || echo >>"$staged"
        printf '%s\n' "$text" >>"$staged"
    fi
    printf '%s\n' "$text" >"$saved/$key.applied"
    echo "policyd-spf.conf: $text"
}

# The stack lets go of KEY: the host's own line comes back (or the stack's line goes, when the
# key had none), if the line is still the one the stack wrote; a line changed since stays.
spf_release() {
    local key=$1 found=""
    [ -e "$saved/$key.applied" ] || return 0
    found=$(spf_conf_line "$key" "$staged") || found=""
    if [ -n "$found" ] && [ "${found#* }" = "$(cat "$saved/$key.applied")" ]; then
        if [ -e "$saved/$key.original" ]; then
            spf_edit_line "${found%% *}" "$(cat "$saved/$key.original")"
            echo "policyd-spf.conf: $(cat "$saved/$key.original") (the host's own, back)"
        else
            spf_edit_line "${found%% *}"
            echo "policyd-spf.conf: $key removed (the host's file had none)"
        fi
    else
        echo "policyd-spf.conf: $key kept as it is now (changed since the stack set it)"
    fi
    rm -f "$saved/$key.applied" "$saved/$key.original" "$saved/$key.absent"
}

# The staged file in place of CONF when it differs, and Postfix reloaded if it runs: policyd-spf
# reads its file once, when it starts (spf_engine/policyd_spf.py:59), and the agents running now
# serve the policy connections smtpd keeps open (smtpd_policy_service_max_ttl, 1000 s); a reload
# has smtpd's processes finish their sessions and exit, and with them those agents.
# A run cut short after the swap (reload-pending) reloads on the next one.
spf_apply() {
    if [ -e "$POLICYD_SPF_CONF" ] && cmp -s "$staged" "$POLICYD_SPF_CONF" && [ ! -e "$saved/reload-pending" ]; then
        echo "unchanged: policyd-spf.conf"
        return 0
    fi
    : >"$saved/reload-pending"
    cmp -s "$staged" "$POLICYD_SPF_CONF" 2>/dev/null || replace_file "$staged" "$POLICYD_SPF_CONF"
    if service_active postfix; then
        systemctl reload-or-restart postfix
        echo "reloaded: postfix (policyd-spf reads its new settings)"
    fi
    rm -f "$saved/reload-pending"
}
