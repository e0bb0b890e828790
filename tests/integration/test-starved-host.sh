#!/bin/bash
# A simulated starved host: vigild reads pressure files the test writes (VIGIL_TEST_PRESSURE_DIR,
# /proc/pressure's format). While cpu some avg10 is 95% (starved_some is 80%), hang verdicts
# are deferred, not given, and said to be deferred:
#   hang    (vt-notify, watchdog = "1s") pings three times and falls silent: its watchdog
#           verdict is deferred ("host starved: cpu some avg10 95.0% > 80%") again and again and
#           it is not restarted; once the pressure is low, it is found unresponsive and
#           restarted.
#   stuck   (vt-report) keeps its heartbeats but its counter never advances: its progress
#           probe's CRITICAL is a hang, deferred likewise; once the pressure is low it fires.
#   host/cpu, a pressure probe on the same files, says the host is starving: CRITICAL at 95%,
#           WARNING at 60%, recovered at 5%.
# The other half of an untrustworthy host, vigild's own loop stalled, is covered by
# test-tilt.sh (VIGIL_TEST_STALL_MS and SIGUSR2: watchdog verdicts suspended by the TILT guard).
. "$(dirname "$0")/lib.sh"

need_hooks
command -v sqlite3 > /dev/null || skip "the sqlite3 shell is not installed"
VT_NOTIFY=${VT_NOTIFY:-$(dirname "$VT_WORKER")/vt-notify}
VT_REPORT=${VT_REPORT:-$(dirname "$VT_WORKER")/vt-report}
[[ -x $VT_NOTIFY ]] || { echo "no vt-notify at $VT_NOTIFY" >&2; exit 99; }
[[ -x $VT_REPORT ]] || { echo "no vt-report at $VT_REPORT" >&2; exit 99; }

DB=$T/state/incidents.db
q() { sqlite3 "$DB" "$1"; }

P=$T/pressure
mkdir -p "$P"
# set_cpu SOME_AVG10: replaces the cpu file at once (rename), so that vigild never reads half.
set_cpu() {
        printf 'some avg10=%s avg60=50.00 avg300=20.00 total=987654\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n' \
                "$1" > "$P/cpu.tmp"
        mv "$P/cpu.tmp" "$P/cpu"
}
for r in memory io; do
        printf 'some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n' > "$P/$r"
done
set_cpu 95.00
: > "$T/stuck-hold"

common='notify = true;
                restart = "always";
                start_timeout = "5s";
                stop_timeout = "2s";
                backoff = { initial = "50ms"; max = "100ms"; factor = 2.0; reset_after = "30s"; };
                breaker = { failures = 64; window = "10s"; open_for = "1s"; trial_ok = "100ms"; };'
write_config "$T/vigil.conf" <<EOF
daemon = { store_flush_interval = "100ms"; starved_some = "80%"; starved_full = "40%"; };
host_probes = (
        { name = "cpu"; kind = "pressure"; resource = "cpu"; warning = "50%"; critical = "90%"; every = "200ms";
          fail_after = 2; recover_after = 2; }
);
workers = (
        {
                name = "hang";
                command = [ "$VT_NOTIFY", "worker", "--stamp", "$T/hang.stamps", "--pings", "3" ];
                watchdog = "1s";
                $common
        },
        {
                name = "stuck";
                command = [ "$VT_REPORT", "--stamp", "$T/stuck.stamps", "--hold", "$T/stuck-hold" ];
                watchdog = "3s";
                probes = ( { kind = "progress"; every = "200ms"; for = "1s"; fail_after = 2; recover_after = 2; } );
                $common
        }
);
EOF
VIGIL_TEST_PRESSURE_DIR=$P start_vigild "$T/vigil.conf"
wait_for_log 'hang:0: starting -> running \(READY=1\)'
wait_for_log 'stuck:0: starting -> running \(READY=1\)'

# The host says it is starving.
wait_for_log 'host/cpu: fired, critical: cpu some avg10 95.0% \(avg10 95.0%, avg60 50.0%, avg300 20.0%\)'

# hang's verdict is deferred, again at each interval, and it is not restarted.
wait_for_log 'hang:0: watchdog verdict deferred \(host starved: cpu some avg10 95.0% > 80%\), checking again in ' 10
wait_until '(( $(count_log "hang:0: watchdog verdict deferred \(host starved: cpu some avg10 95.0% > 80%\)") >= 3 ))' 15
# stuck's progress verdict is deferred too; by now (3 deferrals of hang: more than 2 s of
# starvation) it would have fired twice over.
wait_for_log 'stuck:0/progress: critical verdict deferred: host starved: cpu some avg10 95.0% > 80% \(no progress for [0-9]+s \(X_VIGIL_PROGRESS stuck at 0\) while heartbeats continue\)' 10
assert_no_log 'hang:0: unresponsive'
assert_no_log 'stuck:0/progress: fired'
assert_eq "$(stamp_count "$T/hang.stamps")" 1 "hang was restarted while the host was starved"
assert_eq "$(q "SELECT count(*) FROM incidents WHERE worker IS NOT NULL")" 0 "no incident of a worker while starved"

# The pressure falls below starved_some (but is still a WARNING for the probe): verdicts are
# given again.
set_cpu 60.00
wait_for_log 'hang:0: unresponsive: no WATCHDOG=1 within 1s, stopping it' 10
wait_until '(( $(stamp_count "$T/hang.stamps") >= 2 ))' 10
wait_for_log 'stuck:0/progress: verdicts judged again after ' 10
wait_for_log 'stuck:0/progress: fired, critical: no progress for [0-9]+s \(X_VIGIL_PROGRESS stuck at 0\) while heartbeats continue' 10
wait_for_log 'host/cpu: now warning: cpu some avg10 60.0%' 10
assert_eq "$(q "SELECT severity, category FROM incidents WHERE worker = 'stuck' AND probe = 'progress'")" "2|transient" \
        "stuck's incident, once the host can be trusted"
assert_eq "$(stamp_count "$T/stuck.stamps")" 1 "stuck was never restarted (its heartbeats never stopped)"

# The host recovers.
set_cpu 5.00
wait_for_log 'host/cpu: recovered: cpu some avg10 5.0%' 10
wait_until '[[ $(q "SELECT state FROM incidents WHERE probe = '"'cpu'"'") == resolved ]]' 10
assert_eq "$(q "SELECT json_extract(details, '$.total_usec'), json_extract(details, '$.avg300')
                FROM incidents WHERE probe = 'cpu'")" "987654|20.0" "the pressure incident's evidence"
stop_vigild
