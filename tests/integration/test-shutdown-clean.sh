#!/bin/bash
# SIGTERM to vigild with several kinds of worker running (plain, double-forked with setsid, in
# and out of cgroups, one ignoring SIGTERM): exit 0, and afterwards the only processes left in
# the scenario's cgroup are the script's own.
. "$(dirname "$0")/lib.sh"

write_config "$T/vigil.conf" <<EOF
workers = (
        {
                name = "plain";
                command = [ "$VT_WORKER", "--stamp", "$T/plain.stamps" ];
                instances = 3;
                start_secs = "50ms";
        },
        {
                name = "forker";
                command = [ "$VT_WORKER", "--stamp", "$T/forker.stamps", "--double-fork", "$T/forker.gpid" ];
                cgroups = "auto";
                start_secs = "50ms";
        },
        {
                name = "nocg";
                command = [ "$VT_WORKER", "--stamp", "$T/nocg.stamps", "--double-fork", "$T/nocg.gpid" ];
                cgroups = "off";
                start_secs = "50ms";
        },
        {
                name = "stubborn";
                command = [ "$VT_WORKER", "--stamp", "$T/stubborn.stamps", "--ignore-term" ];
                start_secs = "50ms";
                stop_timeout = "500ms";
        }
);
EOF

start_vigild "$T/vigil.conf"
wait_for_log 'ready: 6 instances of 4 workers'
wait_until '[[ -s $T/forker.gpid && -s $T/nocg.gpid ]]'
wait_until '(( $(count_log "[a-z]+:[0-9]+: starting -> running") >= 6 ))'
mapfile -t pids < <(cat "$T"/*.stamps | awk '{ print $2 }'; cat "$T/forker.gpid" "$T/nocg.gpid")
assert_eq "${#pids[@]}" 8 "worker processes"

stop_vigild
assert_log 'stopped all workers, exiting'
for p in "${pids[@]}"; do
        pid_alive "$p" && fail "process $p survived vigild's stop"
done
# Only the script remains. Nothing more can come: vigild has exited and every worker is gone.
wait_until "! cgroup_populated '$VIGILD_LEAF'" 2
others=$(find "$SCENARIO_CGROUP" -path "$SCENARIO_CGROUP/script" -prune -o -name cgroup.procs -exec cat {} +)
[[ -z $others ]] || fail "processes outside the script's cgroup: $others"
exit 0
