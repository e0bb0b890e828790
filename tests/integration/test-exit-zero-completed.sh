#!/bin/bash
# Under restart = "on-failure" a clean exit 0 completes the instance: no restart, no failure.
. "$(dirname "$0")/lib.sh"

write_config "$T/vigil.conf" <<EOF
workers = (
        {
                name = "oneshot";
                command = [ "$VT_WORKER", "--stamp", "$T/oneshot.stamps", "--exit", "0", "--after", "20" ];
                restart = "on-failure";
                start_secs = "10ms";
                backoff = { initial = "5ms"; max = "20ms"; factor = 2.0; reset_after = "10s"; };
        },
$(canary_conf)
);
EOF

start_vigild "$T/vigil.conf"
wait_until '(( $(stamp_count "$T/oneshot.stamps") >= 1 ))'
pid=$(last_stamp_pid "$T/oneshot.stamps")
wait_for_log "oneshot:0: pid $pid exited with code 0 \(success\)"
wait_for_log 'oneshot:0: [a-z]+ -> completed'

wait_canary 5
assert_eq "$(stamp_count "$T/oneshot.stamps")" 1 "oneshot starts"
assert_eq "$(count_log 'oneshot:0: [a-z]+ -> starting')" 1 "oneshot transitions to starting"
assert_no_log 'oneshot:0: [a-z]+ -> (backoff|fatal)'
assert_no_log 'oneshot: breaker'

stop_vigild
exit 0
