#!/bin/bash
# cgroups = "off": the worker runs in vigild's cgroup and its own process group; a grandchild
# that double-forked and called setsid() left that group, and is killed when vigild, its
# subreaper, exits.
. "$(dirname "$0")/lib.sh"

write_config "$T/vigil.conf" <<EOF
workers = (
        {
                name = "df";
                command = [ "$VT_WORKER", "--stamp", "$T/stamps", "--double-fork", "$T/grandchild.pid" ];
                cgroups = "off";
                start_secs = "50ms";
                stop_timeout = "2s";
        }
);
EOF

start_vigild "$T/vigil.conf"
wait_until '[[ -s $T/grandchild.pid ]]'
wait_until '(( $(stamp_count "$T/stamps") >= 1 ))'
pid=$(last_stamp_pid "$T/stamps")
gpid=$(< "$T/grandchild.pid")
pid_alive "$gpid" || fail "the grandchild $gpid is not running"

read -r -a wst < <(sed 's/.*) //' "/proc/$pid/stat")
read -r -a gst < <(sed 's/.*) //' "/proc/$gpid/stat")
assert_eq "${wst[2]}" "$pid" "worker process group (its own)"
assert_eq "${gst[3]}" "$gpid" "grandchild session id"
assert_eq "${gst[1]}" "$VIGILD_PID" "grandchild's parent (vigild, the subreaper)"
assert_eq "$(pid_cgroup "$pid")" "$(pid_cgroup "$VIGILD_PID")" "worker cgroup without cgroups (vigild's)"

stop_vigild
pid_alive "$pid" && fail "the worker $pid survived vigild's stop"
# vigild has exited; what it killed on the way out may take a moment to finish dying.
wait_until "! pid_alive $gpid" 2
wait_until "! cgroup_populated '$VIGILD_LEAF'" 2
exit 0
