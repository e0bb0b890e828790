#!/bin/bash
# The queue probe:
#   spool          a host probe on a spool directory the test fills (warning 3, critical 6):
#                  WARNING, then CRITICAL (one incident, raised), resolved once emptied.
#   spool-bounded  the same spool counted up to max_count = 4 only: "queue depth >= 4".
#   filler:0       a worker (vt-report) whose X_VIGIL_QUEUE= grows by 50 a second (3000/min):
#                  a growth incident, CRITICAL by growth_critical = 2000/min, with the fitted
#                  slope and the samples in its evidence.
#   steady:0       the same with a backlog that stays put: never fires.
#   command        a host probe on a script in $T that prints the depth read from a file
#                  (warning 3, critical 6): raised past both and back, one incident that
#                  opens, is raised to CRITICAL and resolves, with the command's output in it.
#   command-bad    a command whose first line holds no depth: UNKNOWN, saying so.
#   command-user   /usr/bin/id -u run as user = "nobody": the depth is nobody's uid.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 > /dev/null || skip "the sqlite3 shell is not installed"
VT_REPORT=${VT_REPORT:-$(dirname "$VT_WORKER")/vt-report}
[[ -x $VT_REPORT ]] || { echo "no vt-report at $VT_REPORT" >&2; exit 99; }

DB=$T/state/incidents.db
q() { sqlite3 "$DB" "$1"; }
open_count() { q "SELECT count(*) FROM incidents WHERE probe = '$1' AND state <> 'resolved'" 2> /dev/null; }
add_files() {
        local i
        for ((i = $1; i < $2; i++)); do : > "$T/spool/job.$i"; done
}

mkdir "$T/spool"
cat > "$T/depth.sh" <<EOF
#!/bin/sh
read depth < "$T/depth" || exit 3
echo "\$depth jobs waiting"
EOF
chmod 0755 "$T/depth.sh"
set_depth() {
        echo "$1" > "$T/depth.tmp"
        mv "$T/depth.tmp" "$T/depth"
}
set_depth 0
nobody_uid=$(id -u nobody)
backlog='probes = ( { name = "backlog"; kind = "queue"; source = "notify"; growth_warning = 600; growth_critical = 2000;
                              growth_window = "3s"; every = "100ms"; fail_after = 2; recover_after = 2; } );'
write_config "$T/vigil.conf" <<EOF
daemon = { store_flush_interval = "100ms"; };
host_probes = (
        { name = "spool"; kind = "queue"; spool = "$T/spool"; warning = 3; critical = 6; every = "100ms";
          fail_after = 2; recover_after = 2; },
        { name = "spool-bounded"; kind = "queue"; spool = "$T/spool"; max_count = 4; warning = 2; every = "100ms";
          fail_after = 2; recover_after = 2; },
        { name = "command"; kind = "queue"; command = [ "$T/depth.sh" ]; warning = 3; critical = 6;
          every = "100ms"; fail_after = 2; recover_after = 2; },
        { name = "command-bad"; kind = "queue"; command = [ "/bin/echo", "none", "42" ]; warning = 3;
          every = "100ms"; fail_after = 2; },
        { name = "command-user"; kind = "queue"; command = [ "/usr/bin/id", "-u" ]; user = "nobody";
          critical = $((nobody_uid - 1)); every = "100ms"; fail_after = 1; }
);
workers = (
        {
                name = "filler";
                command = [ "$VT_REPORT", "--queue", "0", "--queue-step", "5", "--every", "100" ];
                notify = true;
                $backlog
        },
        {
                name = "steady";
                command = [ "$VT_REPORT", "--queue", "40", "--queue-step", "0", "--every", "100" ];
                notify = true;
                $backlog
        }
);
EOF
start_vigild "$T/vigil.conf" -v
wait_for_log 'filler:0: starting -> running \(READY=1\)'
wait_for_log 'steady:0: starting -> running \(READY=1\)'
wait_until '(( $(count_log "host/spool: sample: ok queue depth 0 \(spool $T/spool\)") >= 3 ))'

# The spool fills: WARNING, then CRITICAL.
add_files 0 4
wait_for_log "host/spool: fired, warning: queue depth 4 \(spool $T/spool\)"
wait_until '[[ $(open_count spool) == 1 ]]'
assert_eq "$(q "SELECT worker IS NULL, severity, category, json_extract(details, '$.depth'),
                json_extract(details, '$.source'), json_extract(details, '$.threshold')
                FROM incidents WHERE probe = 'spool'")" "1|1|resource|4|spool|3" "the WARNING incident"
add_files 4 7
wait_for_log "host/spool: now critical: queue depth 7 \(spool $T/spool\)"
wait_until '[[ $(q "SELECT severity FROM incidents WHERE probe = '"'spool'"'") == 2 ]]'

# Counted up to max_count only.
wait_for_log "host/spool-bounded: sample: warning queue depth >= 4 \(spool $T/spool, counted up to max_count\)"
wait_until '[[ $(q "SELECT json_extract(details, '"'\$.depth'"') || json_extract(details, '"'\$.bounded'"')
                    FROM incidents WHERE probe = '"'spool-bounded'"'") == 41 ]]'

# Emptied: resolved.
rm -f "$T"/spool/job.*
wait_for_log "host/spool: recovered: queue depth 0 \(spool $T/spool\)"
wait_until '[[ $(open_count spool) == 0 && $(open_count spool-bounded) == 0 ]]'
assert_eq "$(q "SELECT count(*), resolution FROM incidents WHERE probe = 'spool'")" "1|auto" "one incident, resolved"

# The command's depth: WARNING, raised to CRITICAL on the same incident, then resolved.
wait_until '(( $(count_log "host/command: sample: ok queue depth 0 \(command $T/depth.sh\)") >= 3 ))'
set_depth 4
wait_for_log "host/command: fired, warning: queue depth 4 \(command $T/depth.sh\)"
wait_until '[[ $(open_count command) == 1 ]]'
set_depth 7
wait_for_log "host/command: now critical: queue depth 7 \(command $T/depth.sh\)"
wait_until '[[ $(q "SELECT severity FROM incidents WHERE probe = '"'command'"'") == 2 ]]'
assert_eq "$(q "SELECT count(*), category, json_extract(details, '$.source'), json_extract(details, '$.depth'),
                json_extract(details, '$.exit_status'), json_extract(details, '$.output')
                FROM incidents WHERE probe = 'command'")" \
        "1|resource|command|7|0|7 jobs waiting" "one incident, raised to CRITICAL, with the command's output"
set_depth 1
wait_for_log "host/command: recovered: queue depth 1 \(command $T/depth.sh\)"
wait_until '[[ $(open_count command) == 0 ]]'
assert_eq "$(q "SELECT count(*), resolution FROM incidents WHERE probe = 'command'")" "1|auto" \
        "the command's incident, resolved"

# A first line without a depth is UNKNOWN, saying so; user = "nobody" runs the command as nobody.
wait_for_log 'host/command-bad: probe cannot run \(2 times in a row\): queue command /bin/echo printed no depth: "none 42"'
assert_eq "$(q "SELECT count(*) FROM incidents WHERE probe = 'command-bad' AND cause = 'probe'")" 0 \
        "no depth is no verdict on the backlog"
wait_for_log "host/command-user: fired, critical: queue depth $nobody_uid \(command /usr/bin/id\)"

# filler's backlog grows steadily: a growth incident, CRITICAL by its rate.
wait_for_log 'filler:0/backlog: (fired,|now) critical: queue growing by [0-9.]+/min over the last [0-9a-z]+ \(depth [0-9]+, X_VIGIL_QUEUE=\)' 15
wait_until '[[ $(q "SELECT severity FROM incidents WHERE worker = '"'filler'"' AND probe = '"'backlog'"'") == 2 ]]'
assert_eq "$(q "SELECT json_extract(details, '$.growth.slope_per_min') BETWEEN 2400 AND 3600,
                abs(json_extract(details, '$.value') - json_extract(details, '$.growth.slope_per_min')) < 0.001,
                json_extract(details, '$.threshold'), json_array_length(json_extract(details, '$.growth.samples')) >= 12,
                json_extract(details, '$.growth_reason'), json_extract(details, '$.source')
                FROM incidents WHERE worker = 'filler' AND probe = 'backlog' AND severity = 2")" \
        "1|1|2000|1|steady growth|notify" "the growth's evidence: about 3000/min, the samples it was fitted on"

# steady's backlog never grew: judged, and never fired.
wait_until '(( $(count_log "steady:0/backlog: sample: ok queue depth 40 \(X_VIGIL_QUEUE=\)") >= 40 ))' 10
assert_no_log 'steady:0/backlog: fired'
assert_eq "$(q "SELECT count(*) FROM incidents WHERE worker = 'steady'")" 0 "no incident for a steady backlog"
stop_vigild
