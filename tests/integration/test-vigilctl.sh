#!/bin/bash
# vigilctl reviews the incident store with vigild running and stopped: lists (table, --json made
# by SQLite, --csv) with filters, one incident's story, stats, the health verdict and its exit
# codes, manual resolution (recorded with uid and note, shown escaped, never overwritten), and
# purge. The unprivileged test user in reader_group reads but cannot resolve. Bad input gets one
# clear message, a non-zero exit, and leaves the store as it was.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 > /dev/null || skip "the sqlite3 shell is not installed"
command -v setpriv > /dev/null || skip "setpriv (util-linux) is not installed"
ensure_test_user
VIGILCTL=${VIGILCTL:?VIGILCTL is not set}
[[ -x $VIGILCTL ]] || fail "VIGILCTL=$VIGILCTL is not executable"
DB=$T/state/incidents.db
ctl() { "$VIGILCTL" -c "$T/vigil.conf" "$@"; }
as_user() { setpriv --reuid vigiltest --regid vigiltest --init-groups -- "$@"; }
# expect_fail STATUS REGEX CMD...: CMD exits with STATUS and says REGEX on stderr, store untouched.
expect_fail() {
        local want=$1 re=$2 rc=0 before after
        shift 2
        before=$(sha256sum "$DB" 2> /dev/null)
        "$@" > "$T/out" 2> "$T/err" || rc=$?
        after=$(sha256sum "$DB" 2> /dev/null)
        [[ $rc == "$want" ]] || fail "$* exited $rc, expected $want; stderr: $(cat "$T/err")"
        grep -Eq -- "$re" "$T/err" || fail "$* said '$(cat "$T/err")', expected /$re/"
        [[ $(wc -l < "$T/err") == 1 ]] || fail "$* said more than one line: $(cat "$T/err")"
        [[ $before == "$after" ]] || fail "$* changed the store"
}
json_ok() { sqlite3 :memory: "SELECT json_valid(readfile('$1'))"; }

chmod 0755 "$T"
write_config "$T/vigil.conf" <<EOF
daemon = { store_flush_interval = "100ms"; reader_group = "vigiltest"; runtime_dir = "$T/run";
           state_dir = "$T/state"; };
workers = (
        {
                name = "crasher";
                command = [ "$VT_WORKER", "--crash", "SEGV", "--after", "30" ];
                start_secs = "10ms";
                backoff = { initial = "10ms"; max = "20ms"; reset_after = "1m"; };
                breaker = { failures = 3; window = "1m"; open_for = "1m"; };
        },
        { name = "badexec"; command = [ "/nonexistent/vigil-test-program" ]; },
        { name = "steady"; command = [ "$VT_WORKER" ]; }
);
EOF
mkdir -p "$T/run" "$T/state"
chmod 0755 "$T/run" "$T/state"
start_vigild "$T/vigil.conf"
wait_for_log 'crasher: breaker closed -> open'
wait_for_log 'badexec:0: [a-z]+ -> fatal'
wait_until '[[ -f $DB ]] && [[ $(sqlite3 -readonly "$DB" "SELECT count(*) FROM incidents") == 2 ]]' 10
assert_eq "$(stat -c '%a %U %G' "$DB")" "640 root vigiltest" "the store's mode, owner and group"

# incidents: a table, newest first; filters.
ctl incidents > "$T/table"
assert_eq "$(sed -n 1p "$T/table" | awk '{ print $1, $2, $3 }')" "ID OPENED WORKER" "table header"
assert_eq "$(grep -c 'CRITICAL' "$T/table")" 2 "CRITICAL rows"
assert_eq "$(ctl incidents --worker badexec | tail -n +2 | awk '{ print $4 }')" "badexec:0" "--worker"
assert_eq "$(ctl incidents --category permanent | tail -n +2 | wc -l)" 1 "--category permanent"
assert_eq "$(ctl incidents --resolved | tail -n +2 | wc -l)" 0 "--resolved"
assert_eq "$(ctl incidents --since 1h --limit 1 | tail -n +2 | wc -l)" 1 "--since --limit"
assert_eq "$(ctl incidents --until '2000-01-01' | tail -n +2 | wc -l)" 0 "--until in the past"
ctl --json incidents > "$T/json"
assert_eq "$(json_ok "$T/json")" 1 "--json is valid JSON"
assert_eq "$(sqlite3 :memory: "SELECT json_array_length(readfile('$T/json')),
        json_extract(readfile('$T/json'), '\$[0].severity')")" "2|CRITICAL" "--json content"
ctl --csv incidents > "$T/csv"
assert_eq "$(sed -n 1p "$T/csv" | cut -d, -f1-5)" "id,opened_at,last_seen,resolved_at,worker" "--csv header"
assert_eq "$(grep -c ',badexec,0,failure,permanent,CRITICAL,exec-failed,' "$T/csv")" 1 "--csv row"

# The unprivileged reader: reads while vigild runs; cannot resolve.
as_user "$VIGILCTL" -c "$T/vigil.conf" incidents > "$T/user-table" || fail "vigiltest cannot list incidents: $(cat "$T/user-table")"
assert_eq "$(tail -n +2 "$T/user-table" | wc -l)" 2 "rows vigiltest sees (vigild running)"
crasher_id=$(sqlite3 -readonly "$DB" "SELECT id FROM incidents WHERE worker = 'crasher'")
expect_fail 1 'cannot open .* for writing: Permission denied' as_user "$VIGILCTL" -c "$T/vigil.conf" resolve "$crasher_id" --note "not mine"

# incident: the whole story.
ctl --no-pager incident "$crasher_id" > "$T/story"
grep -q "^incident $crasher_id: " "$T/story" || fail "incident header missing: $(head -3 "$T/story")"
assert_eq "$(grep -cE '^  #[0-9]+ .* crash ' "$T/story")" 3 "crash events in the story"
grep -qE '^  #[0-9]+ .* breaker-open ' "$T/story" || fail "no breaker-open event in the story"
grep -qE '^ +[0-9-]+ [0-9:.]+  action: restart -> failed after ' "$T/story" || fail "no restart action in the story"
assert_eq "$(ctl --no-pager incident "$crasher_id" --offset 2 --limit 2 | grep -cE '^  (#[0-9]+ +| +)[0-9]{4}-')" 2 "a page of the story"
ctl --json incident "$crasher_id" > "$T/one.json"
assert_eq "$(sqlite3 :memory: "SELECT json_valid(readfile('$T/one.json')), json_array_length(json_extract(readfile('$T/one.json'), '\$.events'))")" \
        "1|$(sqlite3 -readonly "$DB" "SELECT count(*) FROM events WHERE incident_id = $crasher_id")" "--json incident"

# health: a CRITICAL incident is open: unhealthy.
rc=0; ctl health > "$T/health" || rc=$?
assert_eq "$rc" 2 "health exit status with CRITICAL incidents open"
grep -q '^unhealthy: .*CRITICAL' "$T/health" || fail "health said: $(cat "$T/health")"

# resolve: by hand, with uid and note; control characters shown escaped; never overwritten.
ctl resolve "$crasher_id" --note $'restarted the database\e[31m' > /dev/null
assert_eq "$(sqlite3 -readonly "$DB" "SELECT resolution, resolved_by FROM incidents WHERE id = $crasher_id")" \
        "manual|uid 0 (root)" "the manual resolution"
grep -qF 'restarted the database\x1b[31m' <(ctl --no-pager incident "$crasher_id") || fail "the note is not shown escaped"
expect_fail 1 "is resolved already" ctl resolve "$crasher_id" --note again
badexec_id=$(sqlite3 -readonly "$DB" "SELECT id FROM incidents WHERE worker = 'badexec'")
ctl resolve "$badexec_id" --note "installed the program" > /dev/null
rc=0; ctl health > "$T/health" || rc=$?
assert_eq "$rc" 0 "health exit status with nothing open and vigild running: $(cat "$T/health")"
rc=0; ctl health --max-opened-24h 1 > "$T/health" || rc=$?
assert_eq "$rc" 1 "health exit status past --max-opened-24h: $(cat "$T/health")"
grep -q '^degraded: 2 opened in 24h' "$T/health" || fail "health said: $(cat "$T/health")"

# stats.
ctl stats > "$T/stats"
grep -qE '^incidents: +2 \(0 open, 0 of them CRITICAL; 2 resolved\)' "$T/stats" || fail "stats said: $(cat "$T/stats")"
grep -qE '^by severity: .*CRITICAL 2' "$T/stats" || fail "stats by severity: $(cat "$T/stats")"
grep -qE '^ +[0-9]+  crasher$' "$T/stats" || fail "stats top workers: $(cat "$T/stats")"
ctl --json stats > "$T/stats.json"
assert_eq "$(sqlite3 :memory: "SELECT json_extract(readfile('$T/stats.json'), '\$.resolved')")" 2 "--json stats"
stop_vigild

# vigild stopped: the reader still reads; health says no vigild.
as_user "$VIGILCTL" -c "$T/vigil.conf" incidents > "$T/user-table" || fail "vigiltest cannot list incidents with vigild stopped: $(cat "$T/user-table")"
assert_eq "$(tail -n +2 "$T/user-table" | wc -l)" 2 "rows vigiltest sees (vigild stopped)"
rc=0; ctl health > "$T/health" || rc=$?
assert_eq "$rc" 2 "health exit status with no vigild"
grep -q 'no vigild is running' "$T/health" || fail "health said: $(cat "$T/health")"

# Bad input.
expect_fail 1 "no incident 999999 in" ctl incident 999999
expect_fail 2 'invalid number "abc"' ctl incident abc
expect_fail 2 '--older-than: invalid duration "soon"' ctl purge --older-than soon
expect_fail 2 '--since: invalid time "yesterday"' ctl incidents --since yesterday
expect_fail 2 '--severity: unknown severity "urgent"' ctl incidents --severity urgent
expect_fail 2 'resolve: --note TEXT is required' ctl resolve "$badexec_id"
expect_fail 2 'unknown command "frobnicate"' ctl frobnicate
expect_fail 1 "no incident store at $T/nothing.db" "$VIGILCTL" --db "$T/nothing.db" incidents
[[ -e $T/nothing.db ]] && fail "vigilctl created a database"
rc=0; "$VIGILCTL" --db "$T/nothing.db" health > "$T/health" || rc=$?
assert_eq "$rc" 3 "health exit status without a store"
cp "$DB" "$T/newer.db"
sqlite3 "$T/newer.db" "PRAGMA user_version = 99"
expect_fail 1 "newer than this vigil knows" "$VIGILCTL" --db "$T/newer.db" incidents
assert_eq "$(sqlite3 -readonly "$T/newer.db" "PRAGMA user_version")" 99 "the newer store's version"

# purge: dry run first, then for real; only resolved incidents go.
assert_eq "$(ctl purge --older-than 1us --dry-run)" "would purge 2 resolved incident(s) older than 1us (dry run: nothing changed)" "purge --dry-run"
assert_eq "$(sqlite3 -readonly "$DB" "SELECT count(*) FROM incidents")" 2 "incidents after a dry run"
ctl purge --older-than 1us > /dev/null
assert_eq "$(sqlite3 -readonly "$DB" "SELECT count(*) FROM incidents")|$(sqlite3 -readonly "$DB" "SELECT count(*) FROM events")" \
        "0|0" "incidents and events after purge"
exit 0
