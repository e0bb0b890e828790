#!/bin/bash
# A command that cannot be executed (ENOENT) is a permanent failure: fatal at once, never
# restarted, while a crashing canary keeps being restarted.
. "$(dirname "$0")/lib.sh"

missing=$T/no-such-dir/vigil-no-such-binary
write_config "$T/vigil.conf" <<EOF
workers = (
        {
                name = "victim";
                command = [ "$missing", "--flag" ];
                restart = "always";
                start_secs = "10ms";
                backoff = { initial = "5ms"; max = "20ms"; factor = 2.0; reset_after = "10s"; };
        },
$(canary_conf)
);
EOF

start_vigild "$T/vigil.conf"
wait_for_log 'victim:0: pid [0-9]+ exec failed: No such file or directory \(permanent\)'
wait_for_log 'victim:0: [a-z]+ -> fatal'

wait_canary 5
assert_eq "$(count_log 'victim:0: [a-z]+ -> starting')" 1 "victim transitions to starting"
assert_eq "$(count_log 'victim:0: pid [0-9]+ ')" 1 "victim process ends"
assert_no_log 'victim:0: [a-z]+ -> backoff'
pid_alive "$VIGILD_PID" || fail "vigild died"

stop_vigild
exit 0
