#!/bin/bash
# A storm: all 1000 instances of a worker crash at once. Every crash has its event in the store
# and the storm costs few commits (events are grouped: the test hook counts commits). Then a
# second storm, with vigild SIGKILLed while it is restarting the workers: the store passes
# PRAGMA integrity_check, and every crash whose replacement had started at least one flush
# interval before the kill has its event; a new vigild takes over with every instance's backoff
# level restored, and stops cleanly.
. "$(dirname "$0")/lib.sh"

need_hooks
command -v sqlite3 > /dev/null || skip "the sqlite3 shell is not installed"
command -v prlimit > /dev/null || skip "prlimit is not installed"
DB=$T/state/incidents.db
STATS=$T/store-stats
q() { sqlite3 -readonly "$DB" "$1"; }
commits() { awk '$1 == "commits" { print $2 }' "$STATS" 2> /dev/null || echo 0; }
FLUSH_MS=500

write_config "$T/vigil.conf" <<EOF
daemon = { store_flush_interval = "${FLUSH_MS}ms"; };
workers = (
        {
                name = "storm";
                command = [ "$VT_WORKER", "--stamp", "$T/stamps" ];
                instances = 1000;
                start_secs = "0";
                restart = "always";
                stop_timeout = "10s";
                backoff = { initial = "1ms"; max = "1ms"; reset_after = "1h"; immediate_first = true; };
                breaker = { failures = 64; window = "1us"; open_for = "1s"; };
        }
);
EOF

hard=$(ulimit -Hn)
[[ $hard == unlimited ]] || ((hard >= 4096)) || skip "the hard NOFILE limit ($hard) is too low for 1000 workers"
VIGILD_PREFIX=(prlimit "--nofile=1024:$hard")
VIGIL_TEST_STORE_STATS=$STATS start_vigild "$T/vigil.conf"
wait_until 'vigild_up && (( $(stamp_count "$T/stamps") >= 1000 ))' 120
wait_for_log 'ready: 1000 instances of 1 worker' 60

# Storm 1: one kill(1) for all 1000.
mapfile -t first < <(stamp_pids "$T/stamps")
before=$(commits)
kill -SEGV "${first[@]}"
wait_until '(( $(stamp_count "$T/stamps") >= 2000 ))' 120
wait_until '[[ -f $DB ]] && (( $(q "SELECT count(*) FROM events WHERE kind = '"'restarted'"'") >= 1000 ))' 30
after=$(commits)
log "storm of 1000 crashes: $((after - before)) commits"
((after - before >= 1 && after - before <= 20)) || fail "the storm cost $((after - before)) commits, expected 1..20"
assert_eq "$(q "SELECT count(*) FROM events WHERE kind = 'crash'")" 1000 "crash events"
assert_eq "$(q "SELECT count(*) FROM incidents")" 1000 "incidents (one per instance)"
missing=$(comm -23 <(printf '%s\n' "${first[@]}" | sort) \
        <(q "SELECT json_extract(details, '\$.pid') FROM events WHERE kind = 'crash'" | sort))
[[ -z $missing ]] || fail "crashes without an event: $(echo $missing | head -c 200)"

# Storm 2, and vigild SIGKILLed while restarting.
mapfile -t second < <(stamp_pids "$T/stamps" | tail -n 1000)
kill -SEGV "${second[@]}"
wait_until '(( $(stamp_count "$T/stamps") >= 2300 ))' 60
wait_ms $((FLUSH_MS + 200))
kill_at=$("$VT_WORKER" --now)
kill -KILL "$VIGILD_PID"
wait_vigild_exit "$VIGILD_PID"
assert_eq "$VIGILD_EXIT" 137 "exit status of the SIGKILLed vigild"
assert_eq "$(sqlite3 "$DB" "PRAGMA integrity_check")" ok "integrity_check after SIGKILL"

# The crashed pid of each instance whose next start was at least one flush interval before the
# kill: the second start of an instance crashed, its third start is the replacement.
awk -v limit=$((kill_at - FLUSH_MS * 1000)) '
        $1 == "start" { n[$3]++; if (n[$3] == 2) p[$3] = $2; if (n[$3] == 3 && $4 <= limit) print p[$3] }' \
        "$T/stamps" | sort > "$T/due"
recorded=$(q "SELECT json_extract(details, '\$.pid') FROM events WHERE kind = 'crash'" | sort)
due=$(wc -l < "$T/due")
log "$due crashes of storm 2 had their replacement up ${FLUSH_MS}ms before the kill"
((due > 0)) || fail "no replacement of storm 2 started ${FLUSH_MS}ms before the kill: nothing was tested"
missing=$(comm -23 "$T/due" <(echo "$recorded"))
[[ -z $missing ]] || fail "$(echo "$missing" | wc -l) crashes due before the kill have no event"

# A new vigild on the same store and cgroups takes over.
VIGILD_CGROUP=$VIGILD_LEAF VIGIL_TEST_STORE_STATS=$STATS start_vigild "$T/vigil.conf"
wait_for_log 'ready: 1000 instances of 1 worker' 120
# Each instance crashed once or twice: its backoff level (1 or 2) came back from the store.
assert_eq "$(count_log 'storm:[0-9]+: restored backoff level [12], ')" 1000 "instances with their backoff level restored"
stop_vigild
assert_eq "$(sqlite3 "$DB" "PRAGMA integrity_check")" ok "integrity_check after the second vigild"
cgroup_populated "$VIGILD_LEAF" && fail "processes left in vigild's cgroup"
exit 0
