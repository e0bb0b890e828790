#!/bin/bash
# The cpu probe against real busy loops (vt-hog spin), sampling every 200ms with critical =
# "50%" of one core and for = "2s". First an instance in its cgroup (usage_usec of cpu.stat):
# spinning opens a CRITICAL incident only after two seconds of bad samples, and idling (told by
# SIGUSR1) resolves it. Then a worker with cgroups = "off" whose spinning is done by a child in
# the main process's group: the probe finds the child by walking down from the main process
# (source "proc", two processes) and fires and recovers the same way. The spinners run at nice
# -10: on a test machine busy with other work, a plain busy loop may not get half a core.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 > /dev/null || skip "the sqlite3 shell is not installed"
VT_HOG=${VT_HOG:-$(dirname "$VT_WORKER")/vt-hog}
[[ -x $VT_HOG ]] || { echo "no vt-hog at $VT_HOG" >&2; exit 99; }

DB=$T/state/incidents.db
q() { sqlite3 "$DB" "$1"; }
open_count() { q "SELECT count(*) FROM incidents WHERE worker = '$1' AND state <> 'resolved'" 2> /dev/null; }
states() { grep -c "^$2 " "$T/$1.state" 2> /dev/null || true; }
PROBE='{ kind = "cpu"; every = "200ms"; critical = "50%"; for = "2s"; }'

write_config "$T/vigil.conf" <<EOF
daemon = { store_flush_interval = "100ms"; };
workers = (
        { name = "hog";
          command = [ "$VT_HOG", "spin", "--nice", "-10", "--state", "$T/hog.state", "--pid-file", "$T/hog.pid" ];
          probes = ( $PROBE ); },
        { name = "nocg"; cgroups = "off";
          command = [ "$VT_HOG", "spin", "--nice", "-10", "--idle", "--child",
                      "--state", "$T/nocg.state", "--pid-file", "$T/nocg.pid" ];
          probes = ( $PROBE ); }
);
EOF
start_vigild "$T/vigil.conf" -v
wait_for_log 'ready: 2 instances of 2 workers'
wait_until "[[ -s $T/hog.pid && -s $T/nocg.pid && \$(states nocg idle) == 1 ]]"
assert_eq "$(sed -n 's/^0:://p' "/proc/$(cat "$T/nocg.pid")/cgroup")" "$(sed -n 's/^0:://p' /proc/$VIGILD_PID/cgroup)" \
        "the cgroups = off worker stays in vigild's cgroup"

# Spinning from the start: CRITICAL, but not before 2s of bad samples.
wait_for_log 'hog:0/cpu: fired, critical: CPU [0-9.]+% of one core \(cgroup\)' 15
wait_until '[[ $(open_count hog) == 1 ]]' 5
bad=$(sed -n '/hog:0\/cpu: fired/q; /hog:0\/cpu: sample: critical/p' "$VIGILD_LOG" | wc -l)
((bad >= 10)) || fail "fired after $bad bad samples: for = 2s at every = 200ms needs at least 10"
assert_eq "$(q "SELECT severity, json_extract(details, '$.threshold'), json_extract(details, '$.source'),
                json_extract(details, '$.value') > 50, json_extract(details, '$.n_processes'),
                json_extract(details, '$.usage_usec_delta') > 0
                FROM incidents WHERE worker = 'hog'")" "2|50|cgroup|1|1|1" "the cgroup instance's incident"
assert_no_log 'nocg:0/cpu: (fired|sample: critical)' "the idle worker was called busy"

kill -USR1 "$(cat "$T/hog.pid")"
wait_until '[[ $(states hog idle) == 1 ]]'
wait_for_log 'hog:0/cpu: recovered: CPU [0-9.]+% of one core \(cgroup\)' 10
wait_until '[[ $(open_count hog) == 0 ]]' 5

# Without a cgroup: the main process only waits, its child spins.
kill -USR1 "$(cat "$T/nocg.pid")"
wait_until '[[ $(states nocg spinning) == 1 ]]'
spinner=$(awk '$1 == "spinning" { print $2 }' "$T/nocg.state")
[[ $spinner != "$(cat "$T/nocg.pid")" ]] || fail "the child should be the one spinning"
wait_for_log 'nocg:0/cpu: fired, critical: CPU [0-9.]+% of one core \(proc\)' 15
wait_until '[[ $(open_count nocg) == 1 ]]' 5
assert_eq "$(q "SELECT severity, json_extract(details, '$.source'), json_extract(details, '$.n_processes')
                FROM incidents WHERE worker = 'nocg'")" "2|proc|2" "found through the process group: main and child"
kill -USR1 "$(cat "$T/nocg.pid")"
wait_until '[[ $(states nocg idle) == 2 ]]'
wait_for_log 'nocg:0/cpu: recovered: CPU [0-9.]+% of one core \(proc\)' 10
wait_until '[[ $(open_count nocg) == 0 ]]' 5

stop_vigild
assert_eq "$(q "SELECT count(*) FROM incidents")" 2 "no other incident"
assert_eq "$(q "SELECT count(*) FROM incidents WHERE resolution_note LIKE 'auto: probe recovered: CPU %'")" 2 \
        "both resolved by recovery"
