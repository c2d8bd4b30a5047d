# inputs: CONF TIMEOUT INTERVAL
# The guide's check: opendkim-testkey until the published record matches the installed key
# ("key OK"), or until the time runs out. One run for every domain: stdin lists
# `<domain> <selector> <digest of the published value>`; a domain whose key was verified before
# with the same digest is not tested again. Prints `<domain> <selector> <verdict>` for every
# domain; never fails the run.
cache="$STATE_DIR/testkey"
mkdir -p "$cache"
pending=()
while read -r domain selector digest; do
    [ -n "$domain" ] || continue
    if [ "$(cat "$cache/$domain" 2>/dev/null)" = "$selector $digest key OK" ]; then
        echo "$domain $selector key OK"
    else
        pending+=("$domain $selector $digest")
    fi
done
deadline=$((SECONDS + TIMEOUT))
declare -A last=()
while [ "${#pending[@]}" -gt 0 ]; do
    again=()
    for entry in "${pending[@]}"; do
        read -r domain selector digest <<<"$entry"
        out=$(opendkim-testkey -x "$CONF" -d "$domain" -s "$selector" -vvv 2>&1 || true)
        if grep -q 'key OK' <<<"$out"; then
            echo "$selector $digest key OK" >"$cache/$domain"
            echo "$domain $selector key OK"
        else
            last[$domain]=$(printf '%s\n' "$out" | tail -n 1)
            again+=("$entry")
        fi
    done
    pending=("${again[@]}")
    if [ "${#pending[@]}" -eq 0 ] || [ "$SECONDS" -ge "$deadline" ]; then break; fi
    sleep "$INTERVAL"
done
for entry in "${pending[@]}"; do
    read -r domain selector digest <<<"$entry"
    rm -f "$cache/$domain"
    echo "$domain $selector not verified: ${last[$domain]}"
done
