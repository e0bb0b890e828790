#!/bin/bash
# Workers start with no blocked and no ignored signals, even though vigild blocks the signals it
# handles and was itself started with some ignored; on stop the worker receives SIGTERM and,
# with the default action restored, dies of it.
. "$(dirname "$0")/lib.sh"

write_config "$T/vigil.conf" <<EOF
workers = (
        {
                name = "sig";
                command = [ "$VT_WORKER", "--term-log", "$T/term.log", "--report", "$T/report" ];
                start_secs = "50ms";
                stop_timeout = "5s";
        }
);
EOF

VIGILD_IGNORE_SIGNALS="HUP PIPE USR1 USR2" start_vigild "$T/vigil.conf"
wait_until '[[ -e $T/report ]]'
# The scenario is meaningful only if vigild itself has signals blocked and ignored.
vblk=$(awk '$1 == "SigBlk:" { print $2 }' "/proc/$VIGILD_PID/status")
vign=$(awk '$1 == "SigIgn:" { print $2 }' "/proc/$VIGILD_PID/status")
log "vigild SigBlk $vblk SigIgn $vign"
[[ $vblk != 0000000000000000 ]] || fail "vigild blocks no signal; sd_event_add_signal needs them blocked"

pid=$(awk '$1 == "pid" { print $2 }' "$T/report")
assert_eq "$(awk '$1 == "SigBlk:" { print $2 }' "$T/report")" 0000000000000000 "worker SigBlk"
assert_eq "$(awk '$1 == "SigIgn:" { print $2 }' "$T/report")" 0000000000000000 "worker SigIgn"

stop_vigild
assert_eq "$(cat "$T/term.log")" "term $pid" "the worker's SIGTERM log"
assert_log "sig:0: pid $pid killed by SIGTERM \(stopped\)"
assert_no_log 'sig:0: stop timeout'
exit 0
