#!/bin/bash
# A worker that ignores SIGTERM is SIGKILLed once stop_timeout has passed; vigild still exits 0.
. "$(dirname "$0")/lib.sh"

write_config "$T/vigil.conf" <<EOF
workers = (
        {
                name = "stubborn";
                command = [ "$VT_WORKER", "--stamp", "$T/stamps", "--ignore-term" ];
                start_secs = "50ms";
                stop_timeout = "1s";
        }
);
EOF

start_vigild "$T/vigil.conf"
wait_for_log 'stubborn:0: starting -> running'
pid=$(last_stamp_pid "$T/stamps")
# The scenario means something only if the worker really ignores SIGTERM (bit 15 of SigIgn).
sigign=$(awk '$1 == "SigIgn:" { print $2 }' "/proc/$pid/status")
(( 0x$sigign & (1 << 14) )) || fail "the worker does not ignore SIGTERM (SigIgn $sigign)"

_now
t0=$NOW_MS
stop_vigild
_now
elapsed=$((NOW_MS - t0))
log "stop took ${elapsed} ms"

assert_log 'stubborn:0: stop timeout( after [^,]+)?, killing'
assert_log "stubborn:0: pid $pid killed by SIGKILL \(stopped\)"
assert_log 'stopped all workers, exiting'
((elapsed >= 1000)) || fail "vigild stopped after ${elapsed} ms, before the 1s stop_timeout could pass"
((elapsed < 10000)) || fail "vigild took ${elapsed} ms to stop with a 1s stop_timeout"
pid_alive "$pid" && fail "worker $pid survived the stop"
exit 0
