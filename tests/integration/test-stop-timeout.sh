#!/bin/bash
# A worker that ignores SIGTERM is SIGKILLed once stop_timeout has passed, with a cgroup
# (cgroup.kill) and without one (its process group); vigild still exits 0.
. "$(dirname "$0")/lib.sh"

for mode in auto off; do
        rm -f "$T/stamps"
        write_config "$T/vigil-$mode.conf" <<EOF2
workers = (
        {
                name = "stubborn";
                command = [ "$VT_WORKER", "--stamp", "$T/stamps", "--ignore-term" ];
                start_secs = "50ms";
                stop_timeout = "1s";
                cgroups = "$mode";
        }
);
EOF2

        start_vigild "$T/vigil-$mode.conf"
        wait_for_log 'stubborn:0: starting -> running'
        pid=$(last_stamp_pid "$T/stamps")
        # The scenario means something only if the worker really ignores SIGTERM (bit 15 of SigIgn).
        sigign=$(awk '$1 == "SigIgn:" { print $2 }' "/proc/$pid/status")
        (( 0x$sigign & (1 << 14) )) || fail "$mode: the worker does not ignore SIGTERM (SigIgn $sigign)"
        if [[ $mode == auto ]]; then
                [[ $(pid_cgroup "$pid") == */stubborn-0 ]] || fail "auto: worker not in its own cgroup: $(pid_cgroup "$pid")"
        else
                [[ $(pid_cgroup "$pid") != */stubborn-0 ]] || fail "off: worker has a cgroup of its own"
        fi

        _now
        t0=$NOW_MS
        stop_vigild
        _now
        elapsed=$((NOW_MS - t0))
        log "$mode: stop took ${elapsed} ms"

        assert_log 'stubborn:0: stop timeout( after [^,]+)?, killing'
        assert_log "stubborn:0: pid $pid killed by SIGKILL \(stopped\)"
        assert_log 'stopped all workers, exiting'
        ((elapsed >= 1000)) || fail "$mode: vigild stopped after ${elapsed} ms, before the 1s stop_timeout could pass"
        ((elapsed < 10000)) || fail "$mode: vigild took ${elapsed} ms to stop with a 1s stop_timeout"
        pid_alive "$pid" && fail "$mode: worker $pid survived the stop"
done
exit 0
