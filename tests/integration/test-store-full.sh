#!/bin/bash
# The incident store on a full filesystem (a small tmpfs in a private mount namespace): vigild
# goes on supervising with no change in restart behaviour, keeps the incident and its counts
# exact, holds events in its bounded queue (store_queue = 100) dropping the oldest repeats,
# and when space returns writes everything in order and records the outage as an incident of
# its own stating how many events were held and dropped.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 > /dev/null || skip "the sqlite3 shell is not installed"
if ! command -v unshare > /dev/null || ! command -v nsenter > /dev/null; then
        skip "unshare and nsenter (util-linux) are needed"
fi

# A tmpfs of 1 MiB over $T/state, visible only to whoever joins the namespace.
mkdir -p "$T/state"
start_ns_holder 'mount -t tmpfs -o size=1m,mode=0755 tmpfs "$1"' "$T/state"
DB=$T/state/incidents.db
q() { in_ns sqlite3 "$DB" "$1"; }

write_config "$T/vigil.conf" <<EOF
daemon = { store_queue = 100; store_flush_interval = "100ms"; };
workers = (
        {
                name = "crasher";
                command = [ "$VT_WORKER", "--stamp", "$T/stamps", "--crash", "SEGV", "--after", "20" ];
                restart = "always";
                start_secs = "0";
                backoff = { initial = "1ms"; max = "5ms"; reset_after = "1h"; };
                breaker = { failures = 64; window = "1us"; open_for = "1s"; };
        }
);
EOF
VIGILD_PREFIX=(nsenter "--mount=/proc/$NS_PID/ns/mnt" --)
start_vigild "$T/vigil.conf"
wait_until '(( $(q "SELECT count(*) FROM events" 2> /dev/null || echo 0) >= 10 ))' 20

# Fill the filesystem. The write-ahead log may still have room it can reuse, so wait for the
# store to actually fail.
in_ns sh -c 'head -c 64M /dev/zero > "$1" 2> /dev/null' sh "$T/state/filler" || true
wait_for_log 'cannot write the incident store .*: (database or disk is full|.*No space)' 30
outage_starts=$(stamp_count "$T/stamps")
# vigilctl health sees the outage: at least degraded (unhealthy once repetition has made the
# crash loop's incident CRITICAL).
rc=0; in_ns "$VIGILCTL" --runtime-dir "$T/run" --db "$DB" health > "$T/health" || rc=$?
((rc == 1 || rc == 2)) || fail "vigilctl health during the outage exited $rc: $(cat "$T/health")"
grep -q 'the incident store cannot be written' "$T/health" || fail "health said: $(cat "$T/health")"
# Supervision goes on: well over store_queue events (a crash and a restart each) while full.
wait_until '(( $(stamp_count "$T/stamps") >= outage_starts + 120 ))' 60
in_ns rm -f "$T/state/filler"
wait_for_log 'incident store .* is writable again after' 90
[[ -e $T/run/store-degraded ]] && fail "the outage marker outlived the outage"
stop_vigild

crashes=$(count_log 'crasher:0: pid [0-9]+ killed by SIGSEGV')
restarts=$(count_log 'crasher:0: backoff -> starting')
log "$crashes crashes, $restarts restarts"
assert_eq "$(q "SELECT occurrences FROM incidents WHERE worker = 'crasher'")" "$crashes" "the incident's occurrences"
read -r kept dropped < <(q "SELECT (SELECT count(*) FROM events WHERE incident_id = i.id), events_dropped
                             FROM incidents i WHERE worker = 'crasher'" | tr '|' ' ')
assert_eq "$((kept + dropped))" "$((crashes + restarts))" "events kept + dropped"
((dropped > 0)) || fail "nothing was dropped: the queue bound was not reached"
assert_eq "$(q "SELECT cause || ' ' || state || ' ' || resolution FROM incidents WHERE worker IS NULL")" \
        "store resolved auto" "the outage incident"
assert_eq "$(q "SELECT json_extract(details, '\$.dropped') FROM incidents WHERE cause = 'store'")" "$dropped" \
        "the outage incident's count of dropped events"
held=$(q "SELECT json_extract(details, '\$.queued') FROM incidents WHERE cause = 'store'")
assert_eq "$held" 100 "the outage incident's count of held events"
assert_eq "$(q "PRAGMA integrity_check")" ok "integrity_check"
# The first event of the incident is never dropped.
assert_eq "$(q "SELECT min(seq) FROM events")" 1 "the first event"
exit 0
