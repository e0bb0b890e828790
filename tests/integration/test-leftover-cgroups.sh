#!/bin/bash
# vigild is SIGKILLed while its workers run in their own cgroups. A new vigild on the same
# runtime directory, started in the same cgroup (as systemd restarts a service), kills the
# populated worker cgroups its predecessor left behind, says so, and starts fresh workers.
. "$(dirname "$0")/lib.sh"

write_config "$T/vigil.conf" <<EOF
workers = (
        {
                name = "lo";
                command = [ "$VT_WORKER", "--stamp", "$T/stamps" ];
                instances = 2;
                cgroups = "auto";
                start_secs = "50ms";
        }
);
EOF

start_vigild "$T/vigil.conf"
wait_until '(( $(count_log "lo:[0-9]+: starting -> running") >= 2 ))'
mapfile -t old < <(stamp_pids "$T/stamps")
assert_eq "${#old[@]}" 2 "first vigild's workers"
first=$VIGILD_PID
leaf=$VIGILD_LEAF

kill -KILL "$first"
wait_vigild_exit "$first"
assert_eq "$VIGILD_EXIT" 137 "exit status of the SIGKILLed vigild"
for p in "${old[@]}"; do
        pid_alive "$p" || fail "worker $p died with vigild; nothing left over to test"
        [[ $(pid_cgroup "$p") == "$(cgroup_rel "$leaf")"/lo-* ]] || fail "worker $p is not in a worker cgroup: $(pid_cgroup "$p")"
done

VIGILD_CGROUP=$leaf start_vigild "$T/vigil.conf"
wait_for_log 'killed leftover cgroup [^ ]*lo-0 of an earlier vigild'
wait_for_log 'killed leftover cgroup [^ ]*lo-1 of an earlier vigild'
for p in "${old[@]}"; do
        wait_until "! pid_alive $p" 5
done
wait_until '(( $(stamp_count "$T/stamps") >= 4 ))'
mapfile -t all < <(stamp_pids "$T/stamps")
assert_eq "$(printf '%s\n' "${all[@]}" | sort -u | wc -l)" 4 "distinct worker pids over both vigilds"
for p in "${all[@]:2}"; do
        pid_alive "$p" || fail "new worker $p is not running"
done

stop_vigild
cgroup_populated "$leaf" && fail "processes left in vigild's cgroup: $(cgroup_pids "$leaf" | tr '\n' ' ')"
exit 0
