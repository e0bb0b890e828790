#!/bin/bash
# A worker killed by a SIGTERM vigild did not send is judged only after a grace, so that a stop
# of vigild arriving a moment later (systemd signalling the whole service) makes that end
# "stopped": no failure, no restart. The test hooks stretch the grace so the order is certain.
# Without a stop, the end is judged a crash once the grace is over, and the worker restarts.
. "$(dirname "$0")/lib.sh"

need_hooks
write_config "$T/vigil.conf" <<EOF2
workers = (
        {
                name = "og";
                command = [ "$VT_WORKER", "--stamp", "$T/stamps" ];
                instances = 2;
                restart = "always";
                start_secs = "50ms";
                backoff = { initial = "10ms"; max = "20ms"; factor = 2.0; reset_after = "1m"; immediate_first = true; };
        }
);
EOF2

# 1. Worker first, vigild stopped inside the (60 s) grace: the end is "stopped".
VIGIL_TEST_STOP_GRACE_MS=60000 start_vigild "$T/vigil.conf"
wait_until '(( $(count_log "og:[0-9]+: starting -> running") >= 2 ))'
victim=$(awk '$3 == 0 { print $2 }' "$T/stamps")
kill -TERM "$victim"
wait_for_log "og:0: running -> exited \(pid $victim got SIGTERM from outside vigild; judged in 1m"
assert_eq "$(stamp_count "$T/stamps")" 2 "starts while the end waits to be judged"
stop_vigild
assert_log "og:0: pid $victim killed by SIGTERM \(stopped\)"
assert_no_log 'og:[0-9]+: .*\((crash|transient)\)'
assert_no_log 'og:[0-9]+: [a-z]+ -> (backoff|fatal)'
assert_eq "$(stamp_count "$T/stamps")" 2 "starts after the stop"

# 2. No stop follows: after the (200 ms) grace the end is a crash and the worker restarts.
rm -f "$T/stamps"
VIGIL_TEST_STOP_GRACE_MS=200 start_vigild "$T/vigil.conf"
wait_until '(( $(count_log "og:[0-9]+: starting -> running") >= 2 ))'
victim=$(awk '$3 == 0 { print $2 }' "$T/stamps")
kill -TERM "$victim"
wait_for_log "og:0: pid $victim killed by SIGTERM \(crash\)"
wait_for_log 'og:0: [a-z]+ -> backoff \(restart 1 in '
wait_until '(( $(stamp_count "$T/stamps") >= 3 ))'
stop_vigild
exit 0
