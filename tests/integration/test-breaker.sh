#!/bin/bash
# The crash-loop breaker: it opens after `failures` failures within `window` and starts nothing
# while open; after open_for it half-opens and admits one trial; a failed trial re-opens it; a
# trial that stays up trial_ok closes it, after which failures are restarted again. The incident
# store tells the same story.
. "$(dirname "$0")/lib.sh"

touch "$T/crash"
write_config "$T/vigil.conf" <<EOF
workers = (
        {
                name = "br";
                command = [ "$VT_WORKER", "--stamp", "$T/stamps", "--crash-if-exists", "$T/crash" ];
                restart = "always";
                start_secs = "100ms";
                backoff = { initial = "10ms"; max = "20ms"; factor = 2.0; reset_after = "10s"; };
                breaker = { failures = 3; window = "10s"; open_for = "1s"; trial_ok = "500ms"; };
        }
);
EOF

start_vigild "$T/vigil.conf"
wait_for_log 'br: breaker closed -> open \(3 failures within 10s[,)]'
assert_eq "$(stamp_count "$T/stamps")" 3 "starts when the breaker opened"

wait_for_log 'br: breaker open -> half-open' 5
wait_for_log 'br: breaker half-open -> open \(trial failed\)' 5
assert_eq "$(stamp_count "$T/stamps")" 4 "starts after the failed trial"
# Let the next trial succeed.
rm "$T/crash"

wait_until '(( $(count_log "br: breaker open -> half-open") >= 2 ))' 5
wait_for_log 'br: breaker half-open -> closed' 5
assert_eq "$(stamp_count "$T/stamps")" 5 "starts when the breaker closed"
trial=$(last_stamp_pid "$T/stamps")
pid_alive "$trial" || fail "the successful trial $trial is not running"

# Closed again: a crash is restarted as usual.
kill -SEGV "$trial"
wait_until '(( $(stamp_count "$T/stamps") >= 6 ))' 5
stop_vigild

# In the incident store: the crash loop is one incident, escalated by the breaker and resolved
# when it closed; its story has every transition. The crash after that is a new incident.
if command -v sqlite3 > /dev/null; then
        q() { sqlite3 -readonly "$T/state/incidents.db" "$1"; }
        assert_eq "$(q "SELECT count(*) FROM incidents WHERE worker = 'br'")" 2 "incidents of br"
        assert_eq "$(q "SELECT severity, resolution, resolution_note FROM incidents WHERE worker = 'br' ORDER BY id LIMIT 1")" \
                "3|auto|breaker closed: the trial stayed up" "the crash loop's incident"
        assert_eq "$(q "SELECT group_concat(kind, ' ') FROM (SELECT kind FROM events WHERE incident_id =
                        (SELECT min(id) FROM incidents WHERE worker = 'br') AND kind LIKE 'breaker-%' ORDER BY seq)")" \
                "breaker-open breaker-half-open breaker-open breaker-half-open breaker-closed" "the breaker's story"
        assert_eq "$(q "SELECT resolved_at IS NULL FROM incidents WHERE worker = 'br' ORDER BY id DESC LIMIT 1")" 1 \
                "the crash after the breaker closed opens a new incident"
fi

# While open, nothing was started: no transition to starting between the breaker opening and
# the next half-open, both times.
awk '
        /br: breaker [a-z-]+ -> open/ { open = 1; next }
        /br: breaker open -> half-open/ { open = 0; next }
        open && /br:0: [a-z]+ -> starting/ { print "started while open: " $0; bad = 1 }
        END { exit bad }' "$VIGILD_LOG" || fail "an instance was started while the breaker was open"
assert_eq "$(count_log 'br: breaker closed -> open')" 1 "times the breaker opened from closed"
assert_eq "$(count_log 'br: breaker half-open -> open')" 1 "failed trials"

# Each trial came open_for after the breaker opened (starts 3 and 4 were the failures that
# opened it).
mapfile -t starts < <(awk '$1 == "start" { print $4 }' "$T/stamps")
((starts[3] - starts[2] >= 1000000)) || fail "the first trial started $((starts[3] - starts[2]))us after the breaker opened, before open_for (1s)"
((starts[4] - starts[3] >= 1000000)) || fail "the second trial started $((starts[4] - starts[3]))us after the failed trial, before open_for (1s)"
exit 0
