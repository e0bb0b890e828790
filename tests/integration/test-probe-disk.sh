#!/bin/bash
# The disk probe as a host probe on a small tmpfs (in a private mount namespace): filling it
# past the warning threshold opens a "probe" incident of severity MEDIUM with the reading as
# evidence, past critical raises the same incident to HIGH, emptying it resolves it ("auto:
# probe recovered" with the recovering value), and a remount read-only is CRITICAL at once and
# recovers when it is writable again.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 > /dev/null || skip "the sqlite3 shell is not installed"
if ! command -v unshare > /dev/null || ! command -v nsenter > /dev/null; then
        skip "unshare and nsenter (util-linux) are needed"
fi

mkdir -p "$T/fs"
start_ns_holder 'mount -t tmpfs -o size=1m,mode=0755 tmpfs "$1"' "$T/fs"
DB=$T/state/incidents.db
q() { sqlite3 "$DB" "$1"; }
fill() { in_ns sh -c 'rm -f "$1"/fill; head -c "$2" /dev/zero > "$1"/fill' sh "$T/fs" "$1"; }
open_count() { q "SELECT count(*) FROM incidents WHERE probe = 'scratch' AND state <> 'resolved'" 2> /dev/null; }

write_config "$T/vigil.conf" <<EOF
daemon = { store_flush_interval = "100ms"; };
host_probes = (
        { name = "scratch"; kind = "disk"; path = "$T/fs"; every = "100ms"; warning = "50%"; critical = "20%";
          fail_after = 2; recover_after = 2; }
);
workers = ();
EOF
VIGILD_PREFIX=(nsenter "--mount=/proc/$NS_PID/ns/mnt" --)
start_vigild "$T/vigil.conf"
wait_for_log 'ready: 0 instances of 0 workers'

# 600K of 1M used: 40% free, below the warning level of 50%.
fill 600K
wait_for_log 'host/scratch: fired, warning: .*/fs: [0-9.]+K free of 1M \(4[0-9.]+%\)' 10
wait_until '[[ $(open_count) == 1 ]]' 10
assert_eq "$(q "SELECT worker IS NULL, instance IS NULL, cause, severity, category, state FROM incidents
                WHERE probe = 'scratch'")" "1|1|probe|1|resource|open" "a host probe's WARNING incident"
assert_eq "$(q "SELECT json_extract(details, '$.status'), json_extract(details, '$.total_bytes'),
                json_extract(details, '$.free_bytes') < 524288, json_extract(details, '$.threshold')
                FROM incidents WHERE probe = 'scratch'")" "warning|1048576|1|50" "the evidence"

# 900K used: 10% free, CRITICAL: the same incident, raised.
fill 900K
wait_for_log 'host/scratch: now critical' 10
wait_until '[[ $(q "SELECT severity FROM incidents WHERE probe = '"'scratch'"'") == 2 ]]' 10
assert_eq "$(q "SELECT count(*), sum(occurrences) FROM incidents WHERE probe = 'scratch'")" "1|2" "one incident, raised"

# Emptied: recovered after two good samples, resolved with the recovering reading.
fill 0
wait_for_log 'host/scratch: recovered: ' 10
wait_until '[[ $(open_count) == 0 ]]' 10
assert_eq "$(q "SELECT resolution, resolution_note LIKE 'auto: probe recovered: %/fs: 1M free of 1M (100.0%)'
                FROM incidents WHERE probe = 'scratch'")" "auto|1" "resolved with the recovering value"

# Read-only: CRITICAL whatever the free space; a new incident, resolved when writable again.
in_ns mount -o remount,ro "$T/fs"
wait_for_log 'host/scratch: fired, critical: .*/fs: filesystem is read-only' 10
wait_until '[[ $(open_count) == 1 ]]' 10
assert_eq "$(q "SELECT severity, json_extract(details, '$.read_only') FROM incidents
                WHERE probe = 'scratch' AND state <> 'resolved'")" "2|1" "read-only is CRITICAL"
in_ns mount -o remount,rw "$T/fs"
wait_until '[[ $(open_count) == 0 ]]' 10
assert_eq "$(count_log 'host/scratch: fired')" 2 "fired twice in all"
assert_eq "$(q "SELECT count(*) FROM incidents")" 2 "no other incident"
stop_vigild
