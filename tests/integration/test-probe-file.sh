#!/bin/bash
# The file probe, against real files:
#   hb     a host probe on a heartbeat file with max_age = "1s", touched every 100 ms by a
#          helper: OK while touched; once the touching stops, CRITICAL (the incident's value is
#          the file's age, past max_age); touched again, resolved.
#   model  a probe of worker "app" on a data file whose SHA-256 (computed here by sha256sum, an
#          implementation independent of vigild's) is in the config: verified while intact;
#          corrupted (same size, other bytes), CRITICAL with the digest vigild found (which must
#          be sha256sum's of the corrupt file); restored, resolved.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 > /dev/null || skip "the sqlite3 shell is not installed"
command -v sha256sum > /dev/null || skip "sha256sum is not installed"

DB=$T/state/incidents.db
q() { sqlite3 "$DB" "$1"; }
open_count() { q "SELECT count(*) FROM incidents WHERE probe = '$1' AND state <> 'resolved'" 2> /dev/null; }

# A subshell that truncates the (empty) file every 100 ms, which sets its mtime; it waits with
# read -t on a FIFO nobody writes to, so that it has no child to leave behind when stopped.
mkfifo "$T/never"
start_toucher() {
        (
                exec {fd}<> "$T/never"
                while :; do
                        : > "$T/hb"
                        read -r -t 0.1 -u "$fd" _ || true
                done
        ) &
        TOUCHER_PID=$!
        HELPERS_RUNNING[$TOUCHER_PID]="heartbeat toucher"
}

head -c 300000 /dev/urandom > "$T/model.bin"
cp "$T/model.bin" "$T/model.good"
good_sum=$(sha256sum "$T/model.bin" | cut -d' ' -f1)
touch "$T/hb"
start_toucher

write_config "$T/vigil.conf" <<EOF
daemon = { store_flush_interval = "100ms"; };
host_probes = (
        { name = "hb"; kind = "file"; path = "$T/hb"; max_age = "1s"; every = "200ms"; fail_after = 2;
          recover_after = 2; }
);
workers = (
        {
                name = "app";
                command = [ "$VT_WORKER" ];
                probes = ( { name = "model"; kind = "file"; path = "$T/model.bin"; checksum = "sha256:$good_sum";
                             min_size = "100K"; every = "200ms"; fail_after = 2; recover_after = 2; } );
        }
);
EOF
start_vigild "$T/vigil.conf" -v
wait_for_log 'app:0: .*-> running'

# Touched: OK, sample after sample; the model verified.
wait_until '(( $(count_log "host/hb: sample: ok .*/hb: 0, modified") >= 10 ))' 10
wait_until '(( $(count_log "app:0/model: sample: ok .*model.bin: 293K, modified .* ago, checksum verified") >= 5 ))' 10
assert_no_log '/(hb|model): fired'

# The touching stops: CRITICAL once the file is older than 1 s.
stop_helper "$TOUCHER_PID" || true
wait_for_log 'host/hb: fired, critical: .*/hb: last modified [0-9.a-z ]+ ago, more than max_age 1s' 10
wait_until '[[ $(open_count hb) == 1 ]]' 10
assert_eq "$(q "SELECT worker IS NULL, cause, severity, category, state FROM incidents WHERE probe = 'hb'")" \
        "1|probe|2|validation|open" "the stale heartbeat's incident"
assert_eq "$(q "SELECT json_extract(details, '$.value') > 1.0, json_extract(details, '$.threshold'),
                json_extract(details, '$.age_sec') > 1.0, json_extract(details, '$.exists')
                FROM incidents WHERE probe = 'hb'")" "1|1|1|1" "the evidence: the age, past max_age"

# Touched again: resolved.
start_toucher
wait_for_log 'host/hb: recovered: .*/hb: 0, modified' 10
wait_until '[[ $(open_count hb) == 0 ]]' 10
assert_eq "$(q "SELECT resolution, resolution_note LIKE 'auto: probe recovered: %/hb: 0, modified%'
                FROM incidents WHERE probe = 'hb'")" "auto|1" "resolved by a fresh heartbeat"

# The model is corrupted in place: same size, other content.
head -c 300000 /dev/urandom > "$T/model.bad"
bad_sum=$(sha256sum "$T/model.bad" | cut -d' ' -f1)
cat "$T/model.bad" > "$T/model.bin"
wait_for_log 'app:0/model: fired, critical: .*model.bin: content differs from its checksum \(sha256 is '"${bad_sum:0:16}"'\.\.\.\)' 10
wait_until '[[ $(open_count model) == 1 ]]' 10
assert_eq "$(q "SELECT worker, instance, severity, json_extract(details, '$.checksum'), json_extract(details, '$.sha256')
                FROM incidents WHERE probe = 'model'")" "app|0|2|mismatch|$bad_sum" \
        "the mismatch, with the digest of the corrupt file"

# Restored (a new file renamed into place, as a deploy does): verified again, resolved.
cp "$T/model.good" "$T/model.new"
mv "$T/model.new" "$T/model.bin"
wait_for_log 'app:0/model: recovered: .*checksum verified' 10
wait_until '[[ $(open_count model) == 0 ]]' 10
assert_eq "$(q "SELECT count(*) FROM incidents WHERE cause = 'probe-unknown'")" 0 "every sample could run"
assert_eq "$(q "SELECT count(*) FROM incidents")" 2 "no other incident"
stop_vigild
