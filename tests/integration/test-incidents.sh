#!/bin/bash
# Every failure the core detects is recorded in the incident store, state_dir/incidents.db:
# repeated crashes of one instance fold into one incident with each crash and each restart as
# an event, the breaker opening escalates that incident to CRITICAL instead of opening another,
# an exec failure and a permanent exit (78, "validation") are CRITICAL incidents of their own,
# and the journal priority of each end follows its incident's severity. A second vigild on the
# same store keeps the crash loops where they were (an open breaker stays open, a backoff level
# goes on), adopts the open incidents (one row per key, counts continuing) and resolves the
# incidents of workers that are no longer configured as obsolete.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 > /dev/null || skip "the sqlite3 shell is not installed"
DB=$T/state/incidents.db
q() { sqlite3 -readonly "$DB" "$1"; }

crasher='{
                name = "crasher";
                command = [ "'"$VT_WORKER"'", "--stamp", "'"$T/crasher.stamps"'", "--crash", "SEGV", "--after", "50" ];
                start_secs = "10ms";
                backoff = { initial = "10ms"; max = "50ms"; reset_after = "1m"; };
                breaker = { failures = 4; window = "1m"; open_for = "1m"; };
        }'
flaky='{
                name = "flaky";
                command = [ "'"$VT_WORKER"'", "--stamp", "'"$T/flaky.stamps"'", "--crash", "SEGV", "--after", "300" ];
                start_secs = "10ms";
                backoff = { initial = "10ms"; max = "20ms"; reset_after = "1m"; };
                breaker = { failures = 64; window = "1m"; open_for = "1m"; };
        }'
# Crashes once (it removes the file that makes it crash), then runs: its restart worked.
: > "$T/crash-once"
write_config "$T/vigil.conf" <<EOF
daemon = { store_flush_interval = "100ms"; };
workers = (
        $crasher,
        $flaky,
        { name = "badexec"; command = [ "/nonexistent/vigil-test-program" ]; },
        { name = "badconf"; command = [ "$VT_WORKER", "--exit", "78" ]; },
        {
                name = "recovers";
                command = [ "/bin/sh", "-c", "if [ -e '$T/crash-once' ]; then rm '$T/crash-once'; kill -SEGV \$\$; fi; exec '$VT_WORKER'" ];
                start_secs = "10ms";
                backoff = { initial = "10ms"; max = "20ms"; reset_after = "300ms"; };
        }
);
EOF

start_vigild "$T/vigil.conf"
wait_for_log 'crasher: breaker closed -> open'
wait_for_log 'badexec:0: [a-z]+ -> fatal'
wait_for_log 'badconf:0: [a-z]+ -> fatal'
wait_for_log 'flaky:0: [a-z]+ -> backoff \(restart 2 in'
wait_until '[[ -f $DB ]] && (( $(q "SELECT count(*) FROM events WHERE kind = '"'breaker-open'"'") == 1 ))' 10

wait_until '[[ $(q "SELECT resolution FROM incidents WHERE worker = '"'recovers'"'") == auto ]]' 10
assert_eq "$(q "SELECT count(*) FROM incidents")" 5 "incidents"
# What vigild did and whether it helped: each restart of the crasher failed; the one of
# "recovers" worked, and its incident was resolved automatically.
assert_eq "$(q "SELECT group_concat(action || ':' || outcome, ' ') FROM (SELECT * FROM actions WHERE incident_id =
                (SELECT id FROM incidents WHERE worker = 'crasher') ORDER BY seq)")" \
        "restart:failed restart:failed restart:failed" "the crasher's actions"
assert_eq "$(q "SELECT a.action || ':' || a.outcome || ' ' || i.state FROM actions a JOIN incidents i ON a.incident_id = i.id
                WHERE i.worker = 'recovers'")" "restart:worked resolved" "the restart that worked"
assert_eq "$(q "SELECT cause, category, severity, error_type, occurrences, state FROM incidents WHERE worker = 'crasher'")" \
        "failure|transient|3|crash|4|escalated" "the crasher's incident"
assert_eq "$(q "SELECT group_concat(kind, ' ') FROM (SELECT kind FROM events WHERE incident_id =
                (SELECT id FROM incidents WHERE worker = 'crasher') ORDER BY seq)")" \
        "crash restarted crash restarted crash restarted crash breaker-open" "the crasher's story"
assert_eq "$(q "SELECT json_extract(details, '\$.signal') FROM events WHERE kind = 'crash' LIMIT 1")" "SEGV" \
        "a crash's details"
assert_eq "$(q "SELECT category, severity, error_type, json_extract(details, '\$.errno') FROM incidents WHERE worker = 'badexec'")" \
        "permanent|3|exec-failed|ENOENT" "the exec failure's incident"
assert_eq "$(q "SELECT category, severity, error_type, json_extract(details, '\$.exit_code') FROM incidents WHERE worker = 'badconf'")" \
        "validation|3|permanent-exit|78" "the permanent exit's incident"
# Journal priority follows severity: crashes are HIGH (err), the rest CRITICAL (crit,
# "critical" on stderr).
assert_log '^error: crasher:0: pid [0-9]+ killed by SIGSEGV'
assert_log '^critical: badconf:0: pid [0-9]+ exited with code 78'
assert_eq "$(stat -c '%a %U' "$DB")" "640 root" "the store's mode and owner"
stop_vigild

# What the first vigild left: the breaker open, flaky's backoff level, flaky's open incident.
assert_eq "$(q "SELECT breaker_state FROM worker_state WHERE worker = 'crasher'")" open "the saved breaker"
level=$(q "SELECT backoff_level FROM instance_state WHERE worker = 'flaky' AND instance = 0")
((level >= 2)) || fail "flaky's saved backoff level is '$level', expected 2 or more"
flaky_id=$(q "SELECT id FROM incidents WHERE worker = 'flaky'")
flaky_n=$(q "SELECT occurrences FROM incidents WHERE worker = 'flaky'")
crasher_starts=$(stamp_count "$T/crasher.stamps")

# A second vigild with only crasher and flaky.
write_config "$T/vigil.conf" <<EOF
daemon = { store_flush_interval = "100ms"; };
workers = ( $crasher, $flaky );
EOF
phase2_at=$(date +%s%6N)
start_vigild "$T/vigil.conf"
wait_for_log 'crasher: breaker restored open; next trial in [0-9]+s'
wait_for_log 'crasher:0: [a-z]+ -> fatal \(breaker open'
wait_for_log "flaky:0: restored backoff level $level, "
wait_for_log "flaky:0: [a-z]+ -> backoff \\(restart $((level + 1)) in" 10
wait_until '[[ $(q "SELECT group_concat(resolution) FROM incidents WHERE worker LIKE '"'bad%'"'") == obsolete,obsolete ]]' 10
# A restart of the first vigild still under way when it stopped has no end to be seen: the
# second one says so instead of leaving it open.
assert_eq "$(q "SELECT count(*) FROM actions WHERE outcome IS NULL AND at < $phase2_at")" 0 \
        "actions of the first vigild without an outcome"
wait_until '(( $(q "SELECT occurrences FROM incidents WHERE worker = '"'flaky'"'") > flaky_n ))' 10
assert_eq "$(q "SELECT count(*) FROM incidents WHERE worker = 'flaky'")" 1 "incidents of flaky:0 after the restart"
assert_eq "$(q "SELECT id FROM incidents WHERE worker = 'flaky'")" "$flaky_id" "the adopted incident's id"
assert_eq "$(q "SELECT state FROM incidents WHERE worker = 'badexec'")" resolved "the obsolete incident's state"
assert_eq "$(stamp_count "$T/crasher.stamps")" "$crasher_starts" "starts of crasher behind its restored open breaker"
stop_vigild
exit 0
