#!/bin/bash
# cgroups = "auto": a worker whose grandchild double-forked away and called setsid() still
# leaves nothing behind when vigild stops, because the whole instance cgroup is killed.
. "$(dirname "$0")/lib.sh"

write_config "$T/vigil.conf" <<EOF
workers = (
        {
                name = "df";
                command = [ "$VT_WORKER", "--stamp", "$T/stamps", "--double-fork", "$T/grandchild.pid" ];
                cgroups = "auto";
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

# It really escaped: its own session, not the worker's process group, and its parent is gone.
read -r -a wst < <(sed 's/.*) //' "/proc/$pid/stat")
read -r -a gst < <(sed 's/.*) //' "/proc/$gpid/stat")
assert_eq "${wst[2]}" "$pid" "worker process group (its own)"
assert_eq "${gst[3]}" "$gpid" "grandchild session id"
[[ ${gst[2]} != "${wst[2]}" ]] || fail "the grandchild is still in the worker's process group"
assert_eq "$(pid_cgroup "$gpid")" "$(pid_cgroup "$pid")" "grandchild cgroup vs worker cgroup"
assert_eq "$(pid_cgroup "$pid")" "$(cgroup_rel "$VIGILD_LEAF")/df-0" "worker instance cgroup"
[[ $(pid_cgroup "$VIGILD_PID") != "$(pid_cgroup "$pid")" ]] || fail "the worker shares vigild's cgroup"

stop_vigild
pid_alive "$pid" && fail "the worker $pid survived vigild's stop"
pid_alive "$gpid" && fail "the setsid grandchild $gpid survived vigild's stop (state $(pid_state "$gpid"))"
cgroup_populated "$VIGILD_LEAF" && fail "vigild's cgroup still holds: $(cgroup_pids "$VIGILD_LEAF" | tr '\n' ' ')"
exit 0
