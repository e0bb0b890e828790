#!/bin/bash
# The pressure probe as a host probe, on pressure files in /proc/pressure's format that the
# test writes (vigild reads them through the VIGIL_TEST_PRESSURE_DIR test hook):
#   cpu-some   memory "some" avg10, warning 50%, critical 90%: rising pressure fires WARNING,
#              then raises the same incident to CRITICAL, and falling pressure resolves it;
#              the evidence has all three averages and the total.
#   io-full    io "full" avg60, critical 20%: judges that line and window only (a high some
#              avg10 does not fire it), and a pressure file that cannot be read is UNKNOWN
#              ("probe cannot run"), resolved when it can be read again.
# starved_some and starved_full are off: this is about the probe, not the deferral of hang
# verdicts (see test-starved-host.sh).
. "$(dirname "$0")/lib.sh"

need_hooks
command -v sqlite3 > /dev/null || skip "the sqlite3 shell is not installed"

DB=$T/state/incidents.db
q() { sqlite3 "$DB" "$1"; }
open_count() { q "SELECT count(*) FROM incidents WHERE probe = '$1' AND cause = '${2:-probe}' AND state <> 'resolved'" 2> /dev/null; }

# set_pressure RESOURCE SOME_AVG10 SOME_AVG60 FULL_AVG10 FULL_AVG60: replaces the file at once
# (rename), so that vigild never reads half of it.
P=$T/pressure
mkdir -p "$P"
set_pressure() {
        printf 'some avg10=%s avg60=%s avg300=1.00 total=%s\nfull avg10=%s avg60=%s avg300=0.50 total=%s\n' \
                "$2" "$3" 123456 "$4" "$5" 789 > "$P/$1.tmp"
        mv "$P/$1.tmp" "$P/$1"
}
set_pressure cpu 0.00 0.00 0.00 0.00
set_pressure memory 10.00 5.00 0.00 0.00
set_pressure io 0.00 0.00 0.00 0.00

write_config "$T/vigil.conf" <<EOF
daemon = { store_flush_interval = "100ms"; starved_some = "off"; starved_full = "off"; };
host_probes = (
        { name = "mem-some"; kind = "pressure"; resource = "memory"; warning = "50%"; critical = "90%";
          every = "200ms"; fail_after = 2; recover_after = 2; },
        { name = "io-full"; kind = "pressure"; resource = "io"; line = "full"; window = "avg60";
          critical = "20%"; every = "200ms"; fail_after = 2; recover_after = 2; }
);
workers = ();
EOF
VIGIL_TEST_PRESSURE_DIR=$P start_vigild "$T/vigil.conf" -v
wait_for_log 'test hook VIGIL_TEST_PRESSURE_DIR: host pressure is read from '
wait_until '(( $(count_log "host/mem-some: sample: ok memory some avg10 10.0% \(avg10 10.0%, avg60 5.0%, avg300 1.0%\)") >= 3 ))'
wait_until '(( $(count_log "host/io-full: sample: ok io full avg60 0.0%") >= 3 ))'

# Memory pressure rises: WARNING, then CRITICAL, one incident.
set_pressure memory 60.00 20.00 0.00 0.00
wait_for_log 'host/mem-some: fired, warning: memory some avg10 60.0% \(avg10 60.0%, avg60 20.0%, avg300 1.0%\)'
wait_until '[[ $(open_count mem-some) == 1 ]]'
assert_eq "$(q "SELECT worker IS NULL, severity, category, json_extract(details, '$.value'),
                json_extract(details, '$.threshold'), json_extract(details, '$.avg10'),
                json_extract(details, '$.avg60'), json_extract(details, '$.avg300'),
                json_extract(details, '$.total_usec'), json_extract(details, '$.resource'),
                json_extract(details, '$.line'), json_extract(details, '$.window')
                FROM incidents WHERE probe = 'mem-some'")" "1|1|resource|60|50|60.0|20.0|1.0|123456|memory|some|avg10" \
        "the WARNING incident and its evidence"
set_pressure memory 95.50 40.00 3.00 0.00
wait_for_log 'host/mem-some: now critical: memory some avg10 95.5%'
wait_until '[[ $(q "SELECT severity FROM incidents WHERE probe = '"'mem-some'"'") == 2 ]]'

# Falling: resolved with the recovering reading.
set_pressure memory 2.00 30.00 0.00 0.00
wait_for_log 'host/mem-some: recovered: memory some avg10 2.0%'
wait_until '[[ $(open_count mem-some) == 0 ]]'
assert_eq "$(q "SELECT count(*), resolution, resolution_note LIKE 'auto: probe recovered: memory some avg10 2.0%%'
                FROM incidents WHERE probe = 'mem-some'")" "1|auto|1" "one incident, resolved"

# io: only full avg60 counts.
set_pressure io 99.00 99.00 99.00 5.00
wait_until '(( $(count_log "host/io-full: sample: ok io full avg60 5.0% \(avg10 99.0%") >= 3 ))'
assert_no_log 'host/io-full: fired'
set_pressure io 0.00 0.00 0.00 25.00
wait_for_log 'host/io-full: fired, critical: io full avg60 25.0%'

# An unreadable file is no verdict on the host: UNKNOWN, its own incident; readable again, over.
mv "$P/io" "$P/io.away"
wait_for_log 'host/io-full: probe cannot run \(2 times in a row\): pressure probe cannot run: No such file or directory'
wait_until '[[ $(open_count io-full probe-unknown) == 1 ]]'
assert_eq "$(open_count io-full)" 1 "UNKNOWN neither fires nor recovers the probe"
set_pressure io 0.00 0.00 0.00 0.00
rm "$P/io.away"
wait_for_log 'host/io-full: probe runs again'
wait_for_log 'host/io-full: recovered: io full avg60 0.0%'
wait_until '[[ $(open_count io-full probe-unknown) == 0 && $(open_count io-full) == 0 ]]'
stop_vigild
