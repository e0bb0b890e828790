#!/bin/bash
# The fds probe against a real descriptor leaker (vt-hog fds: 200 descriptors of /dev/null,
# one every 50ms, under RLIMIT_NOFILE 256), each instance in its cgroup, sampling every 200ms:
# the absolute form (critical = 150 open) opens a CRITICAL incident, the percentage form
# (warning = "60%" of RLIMIT_NOFILE) a WARNING one, leak detection over a 4s window a WARNING one
# while the count climbs; all are resolved once the helper closes its descriptors. The host
# form (file-nr) runs beside them with a threshold it cannot reach.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 > /dev/null || skip "the sqlite3 shell is not installed"
VT_HOG=${VT_HOG:-$(dirname "$VT_WORKER")/vt-hog}
[[ -x $VT_HOG ]] || { echo "no vt-hog at $VT_HOG" >&2; exit 99; }

DB=$T/state/incidents.db
q() { sqlite3 "$DB" "$1"; }
open_count() { q "SELECT count(*) FROM incidents WHERE worker = 'fdhog' AND probe = '$1' AND state <> 'resolved'" 2> /dev/null; }
detail() { q "SELECT json_extract(details, '$.$2') FROM incidents WHERE worker = 'fdhog' AND probe = '$1'"; }

write_config "$T/vigil.conf" <<EOF
daemon = { store_flush_interval = "100ms"; };
host_probes = ( { name = "handles"; kind = "fds"; every = "200ms"; critical = "100%"; } );
workers = (
        { name = "fdhog";
          command = [ "$VT_HOG", "fds", "--count", "200", "--interval", "50", "--state", "$T/fdhog.state",
                      "--pid-file", "$T/fdhog.pid" ];
          rlimits = { nofile = 256; };
          probes = (
                { name = "count"; kind = "fds"; every = "200ms"; critical = 150; },
                { name = "pct"; kind = "fds"; every = "200ms"; warning = "60%"; },
                { name = "leak"; kind = "fds"; every = "200ms"; leak_window = "4s"; }
          ); }
);
EOF
start_vigild "$T/vigil.conf" -v
wait_for_log 'ready: 1 instances of 1 workers'
wait_until "[[ -s $T/fdhog.pid ]]"
PID=$(cat "$T/fdhog.pid")

# Climbing at 20 a second: a leak, found within the window, before the count stops at 200.
wait_for_log 'fdhog:0/leak: fired, warning: [0-9]+ open fds in 1 process, [0-9.]+% of RLIMIT_NOFILE in pid '"$PID"' \([0-9]+ of 256\); leaking [0-9.]+ fds/min, RLIMIT_NOFILE \([0-9]+\) reached in ~' 12
wait_until '[[ $(open_count leak) == 1 ]]' 5
# Its first event (it turns CRITICAL later, once the projection to 256 falls within the window).
assert_eq "$(q "SELECT e.kind, e.severity, json_extract(e.details, '$.leak.slope_per_min') BETWEEN 900 AND 1500,
                json_extract(e.details, '$.leak_limit') BETWEEN 256 AND 260
                FROM events e JOIN incidents i ON e.incident_id = i.id
                WHERE i.worker = 'fdhog' AND i.probe = 'leak' ORDER BY e.seq LIMIT 1")" "probe-warning|1|1|1" \
        "the leak: WARNING, about 1200 a minute, projected to RLIMIT_NOFILE"
grep -qs '^opened ' "$T/fdhog.state" && fail "the leak was found only after the count had stopped climbing"

# 150 open in all: CRITICAL; 154 of 256 is past 60%: WARNING.
wait_for_log 'fdhog:0/count: fired, critical: 1[5-9][0-9] open fds in 1 process' 15
wait_for_log 'fdhog:0/pct: fired, warning: 1[5-9][0-9] open fds in 1 process, [0-9.]+% of RLIMIT_NOFILE in pid '"$PID" 15
wait_until '[[ $(open_count count) == 1 && $(open_count pct) == 1 ]]' 5
assert_eq "$(q "SELECT severity, json_extract(details, '$.threshold') FROM incidents WHERE worker = 'fdhog' AND probe = 'count'")" \
        "2|150" "the count incident: CRITICAL at 150"
(($(detail count open) > 150)) || fail "the count incident's reading: $(detail count open)"
assert_eq "$(q "SELECT severity, json_extract(details, '$.threshold'), json_extract(details, '$.worst_pid'),
                json_extract(details, '$.worst_limit'), json_extract(details, '$.percent') > 60
                FROM incidents WHERE worker = 'fdhog' AND probe = 'pct'")" "1|60|$PID|256|1" \
        "the percentage incident: WARNING, of the process's own RLIMIT_NOFILE"

# All 200 open, then closed: every incident resolves.
wait_until "grep -qs '^opened ' $T/fdhog.state" 10
kill -USR1 "$PID"
wait_until "grep -qs '^closed ' $T/fdhog.state"
wait_for_log 'fdhog:0/count: recovered: [0-9] open fds in 1 process' 10
wait_for_log 'fdhog:0/pct: recovered: ' 10
wait_for_log 'fdhog:0/leak: recovered: ' 10
wait_until '[[ $(open_count count) == 0 && $(open_count pct) == 0 && $(open_count leak) == 0 ]]' 5
assert_eq "$(q "SELECT count(*) FROM incidents WHERE resolution = 'auto' AND resolution_note LIKE 'auto: probe recovered: %'")" \
        3 "the three resolved by recovery"

# The host's file handles were sampled, below file-max.
assert_log 'host/handles: sample: ok [0-9]+ file handles allocated of [0-9]+' "the host form"
stop_vigild
assert_eq "$(q "SELECT count(*) FROM incidents")" 3 "no other incident"
