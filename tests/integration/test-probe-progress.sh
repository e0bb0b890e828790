#!/bin/bash
# The progress probe: "alive but stuck". Two workers (vt-report) send X_VIGIL_PROGRESS= every
# 100 ms, both with watchdog = "3s" and a progress probe with for = "1s":
#   busy    keeps sending WATCHDOG=1; its counter stops advancing while $T/hold exists. Held, it
#           opens a CRITICAL "progress" incident once the counter has stood still for `for`
#           (the evidence says for how long, and at which value); released, the incident
#           resolves. It is not restarted for it: the probe has no actions.
#   silent  never sends WATCHDOG=1 and its counter never advances: that is silence, judged by
#           the watchdog (unresponsive, restarted), never by the progress probe, even though
#           the probe would have had time to fire twice over before the watchdog's 3 s.
# The real host's pressure is not looked at (starved_some and starved_full are off): a busy test
# machine must not defer the verdicts this scenario waits for (test-starved-host.sh tests that).
. "$(dirname "$0")/lib.sh"

command -v sqlite3 > /dev/null || skip "the sqlite3 shell is not installed"
VT_REPORT=${VT_REPORT:-$(dirname "$VT_WORKER")/vt-report}
[[ -x $VT_REPORT ]] || { echo "no vt-report at $VT_REPORT" >&2; exit 99; }

DB=$T/state/incidents.db
q() { sqlite3 "$DB" "$1"; }
open_count() { q "SELECT count(*) FROM incidents WHERE worker = '$1' AND probe = 'progress' AND state <> 'resolved'" 2> /dev/null; }

common='notify = true;
                watchdog = "3s";
                restart = "always";
                start_timeout = "5s";
                stop_timeout = "2s";
                backoff = { initial = "50ms"; max = "100ms"; factor = 2.0; reset_after = "30s"; };
                breaker = { failures = 64; window = "10s"; open_for = "1s"; trial_ok = "100ms"; };
                probes = ( { kind = "progress"; every = "200ms"; for = "1s"; fail_after = 2; recover_after = 2; } );'
: > "$T/silent-hold"
write_config "$T/vigil.conf" <<EOF
daemon = { store_flush_interval = "100ms"; starved_some = "off"; starved_full = "off"; };
workers = (
        {
                name = "busy";
                command = [ "$VT_REPORT", "--stamp", "$T/busy.stamps", "--hold", "$T/hold" ];
                $common
        },
        {
                name = "silent";
                command = [ "$VT_REPORT", "--stamp", "$T/silent.stamps", "--hold", "$T/silent-hold", "--no-heartbeat" ];
                $common
        }
);
EOF
start_vigild "$T/vigil.conf"
wait_for_log 'busy:0: starting -> running \(READY=1\)'
wait_for_log 'silent:0: starting -> running \(READY=1\)'

# silent is judged by its watchdog, and restarted; busy's probe has sampled an advancing counter
# all along (15 samples in 3 s) without firing.
wait_for_log 'silent:0: unresponsive: no WATCHDOG=1 within 3s, stopping it' 10
wait_until '(( $(stamp_count "$T/silent.stamps") >= 2 ))' 10
assert_no_log 'busy:0/progress: fired'
assert_no_log 'silent:0/progress: fired' "silence was taken for a stuck counter"
assert_eq "$(stamp_count "$T/busy.stamps")" 1 "busy ran on"

# busy's counter stops, its heartbeats go on: CRITICAL once it has stood still for 1 s.
: > "$T/hold"
wait_for_log 'busy:0/progress: fired, critical: no progress for [0-9]+s \(X_VIGIL_PROGRESS stuck at [0-9]+\) while heartbeats continue' 10
wait_until '[[ $(open_count busy) == 1 ]]' 10
assert_eq "$(q "SELECT instance, cause, severity, category, state FROM incidents WHERE worker = 'busy'
                AND probe = 'progress'")" "0|probe|2|transient|open" "busy's progress incident"
assert_eq "$(q "SELECT json_extract(details, '$.status'), json_extract(details, '$.value') >= 1.0,
                json_extract(details, '$.unchanged_sec') >= 1.0, json_extract(details, '$.threshold'),
                json_extract(details, '$.heartbeat_since_last_sample'),
                json_extract(details, '$.last_heartbeat_sec') < 1.0,
                json_extract(details, '$.progress') > 0
                FROM incidents WHERE worker = 'busy' AND probe = 'progress'")" "critical|1|1|1|1|1|1" \
        "fired only once the counter stood still for 1 s, with heartbeats: the evidence"

# Released: the counter advances again, the incident resolves; busy was never restarted.
rm "$T/hold"
wait_for_log 'busy:0/progress: recovered: X_VIGIL_PROGRESS advanced from [0-9]+ to [0-9]+' 10
wait_until '[[ $(open_count busy) == 0 ]]' 10
assert_eq "$(q "SELECT resolution, resolution_note LIKE 'auto: probe recovered: X_VIGIL_PROGRESS advanced from %'
                FROM incidents WHERE worker = 'busy' AND probe = 'progress'")" "auto|1" "resolved by the advancing counter"
assert_eq "$(stamp_count "$T/busy.stamps")" 1 "busy was not restarted"
assert_no_log 'busy:0: unresponsive'

# silent, meanwhile, has been judged by its watchdog at each run, never by the probe.
wait_until '(( $(stamp_count "$T/silent.stamps") >= 3 ))' 15
assert_no_log 'silent:0/progress: fired'
assert_eq "$(q "SELECT count(*) FROM incidents WHERE worker = 'silent' AND cause = 'probe'")" 0 \
        "no probe incident for a silent worker"
assert_eq "$(q "SELECT count(*) > 0 FROM incidents WHERE worker = 'silent' AND cause = 'failure'")" 1 \
        "silent's unresponsive ends are failures"
stop_vigild
