#!/bin/bash
# One vigild per runtime directory: a second one refuses with a clear message naming the first
# one's pid and the lock, exits non-zero, and the first keeps supervising undisturbed.
. "$(dirname "$0")/lib.sh"

write_config "$T/vigil.conf" <<EOF
workers = (
        {
                name = "w";
                command = [ "$VT_WORKER", "--stamp", "$T/stamps" ];
                start_secs = "50ms";
        }
);
EOF

start_vigild "$T/vigil.conf"
wait_for_log 'w:0: starting -> running'
first=$VIGILD_PID
worker=$(last_stamp_pid "$T/stamps")

# The second runs in the foreground, in a leaf of its own; "timeout" only guards the scenario.
mkdir "$SCENARIO_CGROUP/second"
rc=0
sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' sh "$SCENARIO_CGROUP/second" \
        timeout -s KILL 20 "$VIGILD" -d -c "$T/vigil.conf" --runtime-dir "$T/run" --state-dir "$T/state" \
        > "$T/second.log" 2>&1 || rc=$?
log "second vigild: exit status $rc: $(cat "$T/second.log")"
((rc != 0)) || fail "the second vigild exited 0"
((rc != 137)) || fail "the second vigild did not refuse: it ran until killed"
grep -Eq "another vigild \(pid $first\) holds $T/run/vigild.lock" "$T/second.log" ||
        fail "the second vigild's message does not name pid $first and the lock: $(cat "$T/second.log")"
cgroup_populated "$SCENARIO_CGROUP/second" && fail "the second vigild left processes"

# The first is undisturbed: same worker, still running, never restarted.
pid_alive "$first" || fail "the first vigild died"
pid_alive "$worker" || fail "the first vigild's worker died"
assert_eq "$(stamp_count "$T/stamps")" 1 "worker starts"
[[ -e $T/run/vigild.lock ]] || fail "the lock file is gone"
stop_vigild "$first"
exit 0
