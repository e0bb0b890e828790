#!/bin/bash
# A vigild that starts without a worker the store still has an open incident for resolves it as
# obsolete and writes that at once, though nothing else happens (no event to carry it along).
. "$(dirname "$0")/lib.sh"

command -v sqlite3 > /dev/null || skip "the sqlite3 shell is not installed"
DB=$T/state/incidents.db
q() { sqlite3 -readonly "$DB" "$1"; }

write_config "$T/vigil.conf" <<EOF
daemon = { store_flush_interval = "100ms"; };
workers = (
        { name = "steady"; command = [ "$VT_WORKER" ]; },
        { name = "gone"; command = [ "/nonexistent/vigil-test-program" ]; }
);
EOF
start_vigild "$T/vigil.conf"
wait_until '[[ -f $DB && $(q "SELECT count(*) FROM incidents WHERE worker = '"'gone'"' AND resolved_at IS NULL") == 1 ]]' 10
stop_vigild

write_config "$T/vigil.conf" <<EOF
daemon = { store_flush_interval = "100ms"; };
workers = ( { name = "steady"; command = [ "$VT_WORKER" ]; } );
EOF
start_vigild "$T/vigil.conf"
wait_until '[[ $(q "SELECT resolution || '"' '"' || resolution_note FROM incidents WHERE worker = '"'gone'"'") == "obsolete worker no longer configured" ]]' 10
stop_vigild

# Probes: a disk probe that always fires (less than 100% free), three of them.
write_config "$T/vigil.conf" <<EOF
daemon = { store_flush_interval = "100ms"; };
host_probes = (
        { name = "gone-host"; kind = "disk"; path = "/"; critical = "100%"; every = "100ms"; fail_after = 1; },
        { name = "kept"; kind = "disk"; path = "/"; critical = "100%"; every = "100ms"; fail_after = 1; }
);
workers = ( { name = "steady"; command = [ "$VT_WORKER" ];
              probes = ( { name = "gone-probe"; kind = "disk"; path = "/"; critical = "100%"; every = "100ms";
                           fail_after = 1; } ); } );
EOF
start_vigild "$T/vigil.conf"
wait_until '[[ $(q "SELECT count(*) FROM incidents WHERE cause = '"'probe'"' AND resolved_at IS NULL") == 3 ]]' 10
stop_vigild
# The next vigild has neither gone-host nor steady's gone-probe; "kept" now never fires, and
# recovers the incident the last vigild left open.
write_config "$T/vigil.conf" <<EOF
daemon = { store_flush_interval = "100ms"; };
host_probes = ( { name = "kept"; kind = "disk"; path = "/"; critical = "0%"; every = "100ms"; recover_after = 1; } );
workers = ( { name = "steady"; command = [ "$VT_WORKER" ]; } );
EOF
start_vigild "$T/vigil.conf"
wait_until '[[ $(q "SELECT count(*) FROM incidents WHERE cause = '"'probe'"' AND resolved_at IS NULL") == 0 ]]' 10
wait_for_log 'host/kept: recovered: /: '
assert_eq "$(q "SELECT probe || ' ' || resolution || ' ' || (resolution_note LIKE 'auto: probe recovered: /: % free of %'
                                                             OR resolution_note LIKE '%no longer configured')
                FROM incidents WHERE cause = 'probe' ORDER BY probe")" "gone-host obsolete 1
gone-probe obsolete 1
kept auto 1" "obsolete probes resolved, the kept one recovered"
assert_eq "$(q "SELECT resolution_note FROM incidents WHERE probe LIKE 'gone-%' ORDER BY probe")" \
        "host probe no longer configured
probe no longer configured" "why they are obsolete"
assert_eq "$(q "SELECT count(*) FROM incidents WHERE probe = 'kept'")" 1 "the kept probe's incident was adopted, not reopened"
stop_vigild
exit 0
