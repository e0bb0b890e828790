#!/bin/bash
# The tcp probe against a loopback listener (vt-net tcp-listen) that stops accepting, two
# ways. (a) It closes its listening socket: connects are refused, the probe fires CRITICAL
# with the error in the evidence (a host probe, and a worker's probe that names no host and
# so connects to 127.0.0.1), and recovers once it listens again. (b) It is SIGSTOPped with
# its backlog of 1 filled by connections nobody accepts (vt-net tcp-fill): new connection
# requests are dropped, the connect never finishes, and just before its timeout the probe
# reports it CRITICAL (a hang, with the address); SIGCONT lets it accept again and the probe
# recovers. Then the same refusal on ::1, where lo has IPv6 (skipped, saying so, where it has
# not). Loopback only.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 > /dev/null || skip "the sqlite3 shell is not installed"
VT_NET=${VT_NET:-$(dirname "$VT_WORKER")/vt-net}
[[ -x $VT_NET ]] || { echo "no vt-net at $VT_NET" >&2; exit 99; }

DB=$T/state/incidents.db
q() { sqlite3 "$DB" "$1"; }
open_count() { q "SELECT count(*) FROM incidents WHERE probe = '$1' AND state <> 'resolved'" 2> /dev/null; }

# start_listener NAME [vt-net tcp-listen options]: sets LISTENER_PID and PORT; state in $T/NAME.state.
start_listener() {
        local name=$1
        shift
        "$VT_NET" tcp-listen "$@" "$T/$name.state" &
        LISTENER_PID=$!
        HELPERS_RUNNING[$LISTENER_PID]="tcp listener $name"
        wait_until "[[ -s $T/$name.state ]] || ! pid_alive $LISTENER_PID"
        pid_alive "$LISTENER_PID" || fail "vt-net tcp-listen $* did not start"
        read -r _ PORT < "$T/$name.state"
}

start_listener v4 --backlog 1
L4=$LISTENER_PID P4=$PORT

HAVE_V6=
if grep -Eq '^0{31}1 .* lo$' /proc/net/if_inet6 2> /dev/null; then
        HAVE_V6=1
        start_listener v6 --host ::1
        L6=$LISTENER_PID P6=$PORT
        V6_PROBE="{ name = \"v6\"; kind = \"tcp\"; host = \"::1\"; port = $P6; every = \"200ms\"; timeout = \"150ms\";
          fail_after = 2; recover_after = 2; },"
else
        log "lo has no IPv6 address (::1) here: the ::1 part is skipped"
        V6_PROBE=
fi

write_config "$T/vigil.conf" <<EOF
daemon = { store_flush_interval = "100ms"; };
host_probes = (
        $V6_PROBE
        { name = "db"; kind = "tcp"; host = "127.0.0.1"; port = $P4; every = "200ms"; timeout = "150ms";
          warning = "100ms"; fail_after = 2; recover_after = 2; }
);
workers = (
        { name = "web"; command = [ "$VT_WORKER" ];
          probes = ( { name = "port"; kind = "tcp"; port = $P4; every = "200ms"; timeout = "150ms";
                       fail_after = 2; recover_after = 2; } ); }
);
EOF
start_vigild "$T/vigil.conf" -v
wait_for_log 'ready: 1 instances of 1 worker'
wait_for_log "host/db: sample: ok 127\.0\.0\.1:$P4: connected in [0-9.e-]+ ms" 10
wait_for_log "web:0/port: sample: ok 127\.0\.0\.1:$P4: connected in" 10

# (a) The listening socket is closed: refused, CRITICAL at once (not a hang), for both probes.
kill -USR1 "$L4"
wait_until "[[ \$(< $T/v4.state) == 'closed $P4' ]]"
wait_for_log "host/db: fired, critical: 127\.0\.0\.1:$P4: connect: Connection refused" 10
wait_for_log "web:0/port: fired, critical: 127\.0\.0\.1:$P4: connect: Connection refused" 10
wait_until '[[ $(open_count db) == 1 && $(open_count port) == 1 ]]' 10
assert_eq "$(q "SELECT worker IS NULL, cause, severity, category, json_extract(details, '$.kind'),
                json_extract(details, '$.status'), json_extract(details, '$.address'),
                json_extract(details, '$.port') = $P4, json_extract(details, '$.error')
                FROM incidents WHERE probe = 'db'")" \
        "1|probe|2|transient|tcp|critical|127.0.0.1|1|Connection refused" "a refused port's incident"
assert_eq "$(q "SELECT worker, instance, severity, json_extract(details, '$.address') FROM incidents
                WHERE probe = 'port'")" "web|0|2|127.0.0.1" "a worker's probe connects to 127.0.0.1"

kill -USR2 "$L4"
wait_until "[[ \$(< $T/v4.state) == 'listening $P4' ]]"
wait_for_log "host/db: recovered: 127\.0\.0\.1:$P4: connected in" 10
wait_until '[[ $(open_count db) == 0 && $(open_count port) == 0 ]]' 10
assert_eq "$(q "SELECT resolution, resolution_note LIKE 'auto: probe recovered: 127.0.0.1:$P4: connected in % ms'
                FROM incidents WHERE probe = 'db'")" "auto|1" "resolved with the recovering connect"

# (b) Stopped, its backlog full: the connection requests are dropped and the connect hangs;
# the probe judges the silence at 135ms, before the runner's timeout of 150ms.
kill -STOP "$L4"
wait_until "[[ \$(pid_state $L4) == T ]]"
"$VT_NET" tcp-fill 127.0.0.1 "$P4" "$T/fill.ready" &
FILL_PID=$!
HELPERS_RUNNING[$FILL_PID]="backlog filler"
wait_until "[[ -e $T/fill.ready ]] || ! pid_alive $FILL_PID"
pid_alive "$FILL_PID" || fail "vt-net tcp-fill could not fill the backlog"
wait_for_log "host/db: fired, critical: 127\.0\.0\.1:$P4: connect: no answer within 1[34][0-9]ms" 10
assert_no_log 'host/db: .*no answer within 150ms'
wait_until '[[ $(open_count db) == 1 ]]' 10
assert_eq "$(q "SELECT severity, json_extract(details, '$.kind'), json_extract(details, '$.status'),
                json_extract(details, '$.address'), json_extract(details, '$.port') = $P4,
                json_extract(details, '$.error'), json_extract(details, '$.value') IS NULL
                FROM incidents WHERE probe = 'db' AND state <> 'resolved'")" \
        "2|tcp|critical|127.0.0.1|1|no answer|1" "a connect that hangs"

kill -CONT "$L4"
wait_for_log "host/db: recovered: 127\.0\.0\.1:$P4: connected in" 10
wait_until '[[ $(open_count db) == 0 && $(open_count port) == 0 ]]' 10
assert_eq "$(count_log 'host/db: fired')" 2 "db fired twice in all"
stop_helper "$FILL_PID" || true

# ::1: the same refusal and recovery over IPv6.
if [[ -n $HAVE_V6 ]]; then
        wait_for_log "host/v6: sample: ok \[::1\]:$P6: connected in" 10
        kill -USR1 "$L6"
        wait_for_log "host/v6: fired, critical: \[::1\]:$P6: connect: Connection refused" 10
        wait_until '[[ $(open_count v6) == 1 ]]' 10
        assert_eq "$(q "SELECT severity, json_extract(details, '$.address'), json_extract(details, '$.error')
                        FROM incidents WHERE probe = 'v6'")" "2|::1|Connection refused" "the IPv6 incident"
        kill -USR2 "$L6"
        wait_for_log "host/v6: recovered: \[::1\]:$P6: connected in" 10
        wait_until '[[ $(open_count v6) == 0 ]]' 10
fi

assert_eq "$(q "SELECT count(*) FROM incidents WHERE cause <> 'probe'")" 0 "no other incident"
stop_vigild
