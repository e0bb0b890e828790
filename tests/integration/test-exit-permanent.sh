#!/bin/bash
# Exit code 78 (EX_CONFIG) is permanent: the instance becomes fatal and is not restarted, while
# vigild keeps supervising (a crashing canary keeps being restarted meanwhile).
. "$(dirname "$0")/lib.sh"

write_config "$T/vigil.conf" <<EOF
workers = (
        {
                name = "victim";
                command = [ "$VT_WORKER", "--stamp", "$T/victim.stamps", "--exit", "78" ];
                restart = "always";
                start_secs = "10ms";
                backoff = { initial = "5ms"; max = "20ms"; factor = 2.0; reset_after = "10s"; };
        },
$(canary_conf)
);
EOF

start_vigild "$T/vigil.conf"
wait_until '(( $(stamp_count "$T/victim.stamps") >= 1 ))'
pid=$(last_stamp_pid "$T/victim.stamps")
wait_for_log "victim:0: pid $pid exited with code 78 \(permanent\)"
wait_for_log 'victim:0: [a-z]+ -> fatal'

# Long enough for several restarts had it been restartable: the canary restarts 5 more times.
wait_canary 5
assert_eq "$(stamp_count "$T/victim.stamps")" 1 "victim starts"
assert_eq "$(count_log 'victim:0: [a-z]+ -> starting')" 1 "victim transitions to starting"
assert_no_log 'victim:0: [a-z]+ -> backoff'

stop_vigild
exit 0
