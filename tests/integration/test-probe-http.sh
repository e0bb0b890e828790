#!/bin/bash
# The http probe against a loopback HTTP server (vt-net http-serve). While it answers 200 with
# the expected body the probe is OK; told to answer 500 (SIGUSR1), the probe fires CRITICAL
# with "HTTP 500" and the status in the evidence, and recovers when it answers 200 again.
# SIGSTOPped, the server still completes connections in the kernel but never answers: curl's
# own timeout, just under the probe's, makes it CRITICAL with curl's error, and SIGCONT
# resolves it. Loopback only.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 > /dev/null || skip "the sqlite3 shell is not installed"
VT_NET=${VT_NET:-$(dirname "$VT_WORKER")/vt-net}
[[ -x $VT_NET ]] || { echo "no vt-net at $VT_NET" >&2; exit 99; }

DB=$T/state/incidents.db
q() { sqlite3 "$DB" "$1"; }
open_count() { q "SELECT count(*) FROM incidents WHERE probe = 'api' AND state <> 'resolved'" 2> /dev/null; }

"$VT_NET" http-serve "$T/http.state" &
SERVER_PID=$!
HELPERS_RUNNING[$SERVER_PID]="http server"
wait_until "[[ -s $T/http.state ]] || ! pid_alive $SERVER_PID"
pid_alive "$SERVER_PID" || fail "vt-net http-serve did not start"
read -r _ PORT < "$T/http.state"
URL="http://127.0.0.1:$PORT/health"
URL_RE="http://127\.0\.0\.1:$PORT/health"

write_config "$T/vigil.conf" <<EOF
daemon = { store_flush_interval = "100ms"; };
host_probes = (
        { name = "api"; kind = "http"; url = "$URL"; body_contains = "vigil ok"; every = "300ms";
          timeout = "250ms"; fail_after = 2; recover_after = 2; }
);
workers = ();
EOF
start_vigild "$T/vigil.conf" -v
wait_for_log 'ready: 0 instances of 0 workers'
wait_for_log "host/api: sample: ok HTTP 200 from $URL_RE in [0-9.e-]+ ms" 10

# 500: CRITICAL, with the status and the URL as evidence.
kill -USR1 "$SERVER_PID"
wait_until "[[ \$(< $T/http.state) == '500 $PORT' ]]"
wait_for_log "host/api: fired, critical: HTTP 500 from $URL_RE \(expected 200-399\)" 10
wait_until '[[ $(open_count) == 1 ]]' 10
assert_eq "$(q "SELECT worker IS NULL, cause, severity, category, json_extract(details, '$.kind'),
                json_extract(details, '$.status'), json_extract(details, '$.http_status'),
                json_extract(details, '$.url'), json_extract(details, '$.bytes')
                FROM incidents WHERE probe = 'api'")" \
        "1|probe|2|transient|http|critical|500|$URL|6" "an HTTP 500's incident"

# 200 again: recovered.
kill -USR1 "$SERVER_PID"
wait_until "[[ \$(< $T/http.state) == '200 $PORT' ]]"
wait_for_log "host/api: recovered: HTTP 200 from $URL_RE in" 10
wait_until '[[ $(open_count) == 0 ]]' 10
assert_eq "$(q "SELECT resolution, resolution_note LIKE 'auto: probe recovered: HTTP 200 from $URL in % ms'
                FROM incidents WHERE probe = 'api'")" "auto|1" "resolved with the recovering answer"

# Stopped: connected, never answered; curl's timeout (225ms) comes before the runner's (250ms).
kill -STOP "$SERVER_PID"
wait_until "[[ \$(pid_state $SERVER_PID) == T ]]"
wait_for_log "host/api: fired, critical: $URL_RE: no answer: Operation timed out after 2[0-9]{2} milliseconds" 10
assert_no_log 'host/api: .*no answer within 250ms'
wait_until '[[ $(open_count) == 1 ]]' 10
assert_eq "$(q "SELECT severity, json_extract(details, '$.http_status') IS NULL,
                json_extract(details, '$.error') LIKE 'Operation timed out after %'
                FROM incidents WHERE probe = 'api' AND state <> 'resolved'")" "2|1|1" "a server that never answers"
kill -CONT "$SERVER_PID"
wait_until '[[ $(open_count) == 0 ]]' 10
assert_eq "$(count_log 'host/api: fired')" 2 "fired twice in all"
assert_eq "$(q "SELECT count(*) FROM incidents")" 2 "no other incident"
stop_vigild
