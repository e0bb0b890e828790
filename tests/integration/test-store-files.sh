#!/bin/bash
# What vigild does with the store file it finds at start. None, and no state directory: both
# made. Not a database (with -wal and -shm
# beside it): moved aside, all three, never deleted, replaced by a new store, and recorded as an
# incident. A newer schema, a file that cannot be opened (a directory in its place) and a store
# on a read-only filesystem: left exactly where they are and reported, while the workers are
# supervised as always.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 > /dev/null || skip "the sqlite3 shell is not installed"
DB=$T/state/incidents.db
mkdir -p "$T/state"
write_config "$T/vigil.conf" <<EOF
daemon = { store_flush_interval = "100ms"; };
workers = (
        {
                name = "crasher";
                command = [ "$VT_WORKER", "--stamp", "$T/stamps", "--crash", "SEGV", "--after", "100" ];
                start_secs = "10ms";
                backoff = { initial = "10ms"; max = "20ms"; reset_after = "1m"; };
                breaker = { failures = 64; window = "1m"; open_for = "1m"; };
        }
);
EOF

# 0. No state directory yet: vigild makes it (0750) and the store in it.
start_vigild "$T/vigil.conf" --state-dir "$T/fresh/state"
wait_until '[[ -f $T/fresh/state/incidents.db ]]' 10
wait_until '(( $(sqlite3 -readonly "$T/fresh/state/incidents.db" "SELECT count(*) FROM incidents" 2> /dev/null || echo 0) >= 1 ))' 10
assert_eq "$(stat -c %a "$T/fresh/state")" 750 "the state directory vigild made"
assert_no_log 'cannot write the incident store'
stop_vigild

# 1. Not a database.
for f in "$DB" "$DB-wal" "$DB-shm"; do
        printf 'not a database: %s\n' "$f" > "$f"
done
start_vigild "$T/vigil.conf"
wait_for_log "incident store $DB was not a database or was damaged; moved aside to $DB\\.corrupt-[0-9]+"
moved=$(grep -oE "moved aside to $DB\\.corrupt-[0-9]+" "$VIGILD_LOG" | head -1 | sed 's/^moved aside to //')
for suffix in "" -wal -shm; do
        [[ -f $moved$suffix ]] || fail "$moved$suffix is missing"
        grep -q "^not a database: $DB$suffix\$" "$moved$suffix" || fail "$moved$suffix is not the old file"
done
wait_until '(( $(sqlite3 -readonly "$DB" "SELECT count(*) FROM incidents WHERE cause = '"'failure'"'" 2> /dev/null || echo 0) >= 1 ))' 10
assert_eq "$(sqlite3 -readonly "$DB" "SELECT count(*) FROM incidents WHERE cause = 'store-corrupt' AND message LIKE '%moved aside to $moved%'")" 1 \
        "the quarantine's incident"
stop_vigild
rm -f "$DB" "$DB-wal" "$DB-shm" "$moved" "$moved-wal" "$moved-shm"

# 2. A newer schema.
sqlite3 "$DB" "CREATE TABLE from_the_future (x); PRAGMA user_version = 99;"
inode=$(stat -c %i "$DB")
start_vigild "$T/vigil.conf"
wait_for_log "cannot write the incident store $DB: schema version 99 is newer than this vigil knows"
wait_until '(( $(stamp_count "$T/stamps") >= 3 ))' 10   # supervising all the same
stop_vigild
assert_eq "$(stat -c %i "$DB")" "$inode" "the newer store's inode"
assert_eq "$(sqlite3 -readonly "$DB" "PRAGMA user_version")" 99 "the newer store's version"
assert_eq "$(sqlite3 -readonly "$DB" "SELECT group_concat(name) FROM sqlite_master")" from_the_future "the newer store's tables"
ls "$T/state" | grep -q corrupt && fail "the newer store was moved aside"
rm -f "$DB" "$DB-wal" "$DB-shm"

# 3. A directory where the store should be: cannot be opened.
mkdir "$DB"
: > "$DB/keep"
: > "$T/stamps"
start_vigild "$T/vigil.conf"
wait_for_log "cannot write the incident store $DB: cannot open $DB: Is a directory"
wait_until '(( $(stamp_count "$T/stamps") >= 3 ))' 10
stop_vigild
[[ -d $DB && -e $DB/keep ]] || fail "the directory in the store's place was touched"
rm -f "$DB/keep"
rmdir "$DB"

# 4. A store on a read-only filesystem (a tmpfs in a private mount namespace, remounted
#    read-only once the store is there).
if command -v unshare > /dev/null && command -v nsenter > /dev/null; then
        sqlite3 "$T/valid.db" "PRAGMA user_version = 0"   # an empty database: vigild would migrate it
        start_ns_holder 'mount -t tmpfs -o size=1m tmpfs "$1"
cp "$2" "$1/incidents.db"
mount -o remount,ro "$1"' "$T/state" "$T/valid.db"
        before=$(in_ns sha256sum "$DB")
        : > "$T/stamps"
        VIGILD_PREFIX=(nsenter "--mount=/proc/$NS_PID/ns/mnt" --)
        start_vigild "$T/vigil.conf"
        wait_for_log "cannot write the incident store $DB: .*Read-only file system"
        wait_until '(( $(stamp_count "$T/stamps") >= 3 ))' 10
        stop_vigild
        after=$(in_ns sha256sum "$DB")
        stop_helper "$NS_PID" || true
        assert_eq "$after" "$before" "the store on the read-only filesystem"
else
        log "unshare/nsenter missing: the read-only filesystem case is not run"
fi
exit 0
