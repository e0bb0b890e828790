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
exit 0
