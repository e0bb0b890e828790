#!/bin/bash
# One worker with 1000 instances under a 1024 soft / 524288 hard NOFILE limit: vigild raises its
# own soft limit to the hard one, starts all 1000 (each a distinct process, instances 0..999),
# gives each worker the default 1024 back, and stops them all leaving nothing behind.
. "$(dirname "$0")/lib.sh"

command -v prlimit > /dev/null || skip "prlimit is not installed"
write_config "$T/vigil.conf" <<EOF
workers = (
        {
                name = "many";
                command = [ "$VT_WORKER", "--stamp", "$T/stamps" ];
                instances = 1000;
                start_secs = "100ms";
                stop_timeout = "10s";
        }
);
EOF

# Raising a hard limit needs CAP_SYS_RESOURCE, which containers often drop: then the current
# hard limit has to do, as long as it leaves room for 1000 workers.
hard=524288
if ! prlimit --nofile=1024:$hard true 2> /dev/null; then
        hard=$(ulimit -Hn)
        log "cannot raise the hard NOFILE limit to 524288 here; using the current hard limit $hard"
        [[ $hard == unlimited ]] || ((hard >= 4096)) || skip "the hard NOFILE limit ($hard) is too low for 1000 workers"
fi
VIGILD_PREFIX=(prlimit "--nofile=1024:$hard")
start_vigild "$T/vigil.conf"
wait_until 'vigild_up && (( $(stamp_count "$T/stamps") >= 1000 ))' 120
wait_for_log 'ready: 1000 instances of 1 worker' 60
wait_until 'vigild_up && (( $(count_log "many:[0-9]+: starting -> running") >= 1000 ))' 120

assert_eq "$(stamp_count "$T/stamps")" 1000 "starts"
assert_eq "$(stamp_pids "$T/stamps" | sort -u | wc -l)" 1000 "distinct worker pids"
assert_eq "$(awk '{ print $3 }' "$T/stamps" | sort -n | uniq | tr '\n' ' ')" "$(seq -s ' ' 0 999) " "instances"
assert_no_log 'many:[0-9]+: .*-> (backoff|fatal)'

read -r vsoft vhard < <(awk '/^Max open files/ { print $4, $5 }' "/proc/$VIGILD_PID/limits")
assert_eq "$vsoft $vhard" "$hard $hard" "vigild's NOFILE limit (soft raised to hard)"
some=$(stamp_pids "$T/stamps" | sed -n '500p')
read -r wsoft _ < <(awk '/^Max open files/ { print $4, $5 }' "/proc/$some/limits")
assert_eq "$wsoft" 1024 "a worker's soft NOFILE limit"

# Idle, vigild waits for events: with every instance running and no timer due for minutes
# (reset_after defaults to 10m), a 2 s window must see it woken at most a couple of times.
ctx() { awk '/^voluntary_ctxt_switches/ { v = $2 } /^nonvoluntary_ctxt_switches/ { n = $2 } END { print v + n }' "/proc/$VIGILD_PID/status"; }
before=$(ctx)
wait_ms 2000
after=$(ctx)
log "vigild context switches over 2 s idle with 1000 workers: $((after - before))"
((after - before <= 2)) || fail "idle vigild woke $((after - before)) times in 2 s"

mapfile -t pids < <(stamp_pids "$T/stamps")
stop_vigild
cgroup_populated "$VIGILD_LEAF" && fail "vigild's cgroup still holds $(cgroup_pids "$VIGILD_LEAF" | wc -l) processes"
for p in "${pids[@]}"; do
        pid_alive "$p" && fail "worker $p survived"
done
exit 0
