# inputs: CONF DOMAIN SELECTOR TIMEOUT INTERVAL
# The guide's check: opendkim-testkey until the published record matches the installed key
# ("key OK"), or until the time runs out. Prints the last verdict; never fails the run.
deadline=$((SECONDS + TIMEOUT))
while :; do
    out=$(opendkim-testkey -x "$CONF" -d "$DOMAIN" -s "$SELECTOR" -vvv 2>&1 || true)
    if printf '%s\n' "$out" | grep -q 'key OK'; then
        verdict="key OK"
        break
    fi
    verdict="not verified: $(printf '%s\n' "$out" | tail -n 1)"
    [ "$SECONDS" -lt "$deadline" ] || break
    sleep "$INTERVAL"
done
echo "$DOMAIN $SELECTOR $verdict"
