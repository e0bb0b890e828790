#!/bin/bash
# Retention: vigild purges resolved incidents (with their events and actions) resolved longer
# ago than daemon.retention; open incidents stay however old they are.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 > /dev/null || skip "the sqlite3 shell is not installed"
DB=$T/state/incidents.db
q() { sqlite3 -readonly "$DB" "$1"; }
: > "$T/crash-once"
# The same workers under two retentions: the first vigild keeps everything for an hour, the
# second only for a second.
config() {
        write_config "$T/vigil.conf" <<EOF
daemon = { store_flush_interval = "100ms"; retention = "$1"; };
workers = (
        {
                name = "recovers";
                command = [ "/bin/sh", "-c", "if [ -e '$T/crash-once' ]; then rm '$T/crash-once'; kill -SEGV \$\$; fi; exec '$VT_WORKER'" ];
                start_secs = "10ms";
                backoff = { initial = "10ms"; max = "20ms"; reset_after = "200ms"; };
        },
        { name = "badexec"; command = [ "/nonexistent/vigil-test-program" ]; }
);
EOF
}

# A first vigild: one incident resolved (recovers), one open for good (badexec).
config 1h
start_vigild "$T/vigil.conf"
wait_until '[[ -f $DB && $(q "SELECT resolution FROM incidents WHERE worker = '"'recovers'"'") == auto ]]' 10
wait_until '[[ $(q "SELECT count(*) FROM incidents WHERE worker = '"'badexec'"'") == 1 ]]' 10
assert_eq "$(q "SELECT count(*) FROM events e JOIN incidents i ON e.incident_id = i.id WHERE i.worker = 'recovers'")" 2 \
        "events of the resolved incident (crash, restarted)"
stop_vigild

# More than the retention later, a second vigild purges the resolved one at its first
# maintenance, about a second after it starts.
wait_ms 1200
config 1s
start_vigild "$T/vigil.conf"
wait_for_log 'purged 1 resolved incident\(s\) past the retention' 10
assert_eq "$(q "SELECT group_concat(worker) FROM incidents")" badexec "incidents left"
assert_eq "$(q "SELECT count(*) FROM events e LEFT JOIN incidents i ON e.incident_id = i.id WHERE i.id IS NULL")" 0 \
        "events of purged incidents"
assert_eq "$(q "SELECT count(*) FROM actions a LEFT JOIN incidents i ON a.incident_id = i.id WHERE i.id IS NULL")" 0 \
        "actions of purged incidents"
stop_vigild
exit 0
