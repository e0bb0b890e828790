#!/bin/bash
# The exec probe with real commands. (1) A command that hangs, with a grandchild in its process
# group: every sample times out, so after fail_after a probe-unknown incident opens ("probe
# cannot run"), and once the command answers again neither the command nor its grandchild of
# any sample remains, and vigild has no zombie child. (2) Debian's monitoring plugins unchanged:
# check_dummy, whose exit status the test flips 0 -> 1 -> 2 -> 0, opens a WARNING incident,
# raises it to CRITICAL and resolves it with the recovering output; check_procs on a worker's
# instance counts exactly its process (OK, no incident; with an impossible range, CRITICAL).
# (3) An instance's probe sees the instance's main pid in VIGIL_PID.
. "$(dirname "$0")/lib.sh"

PLUGINS=/usr/lib/nagios/plugins
command -v sqlite3 > /dev/null || skip "the sqlite3 shell is not installed"
[[ -d $PLUGINS ]] || skip "$PLUGINS is absent (packaging/dev-setup.sh installs monitoring-plugins-basic)"
for p in check_dummy check_procs; do
        [[ -x $PLUGINS/$p ]] || fail "$PLUGINS/$p is missing although $PLUGINS exists"
done

DB=$T/state/incidents.db
q() { sqlite3 "$DB" "$1"; }
open_count() { q "SELECT count(*) FROM incidents WHERE probe = '$1' AND state <> 'resolved'" 2> /dev/null; }

# A command that hangs while $T/hang exists: it appends "its pid and its grandchild's pid" to
# $T/hang.pids, the grandchild sleeping in its process group. Without the file it answers OK.
cat > "$T/hang.sh" <<EOF
#!/bin/sh
[ -e "$T/hang" ] || { echo "OK - not hanging"; exit 0; }
sleep 300 &
echo "\$\$ \$!" >> "$T/hang.pids"
wait
EOF
# check_dummy with the exit status in $T/dummy.code.
cat > "$T/dummy.sh" <<EOF
#!/bin/sh
code=\$(cat "$T/dummy.code")
exec $PLUGINS/check_dummy "\$code" "dummy says \$code"
EOF
chmod 0755 "$T/hang.sh" "$T/dummy.sh"
: > "$T/hang"
echo 0 > "$T/dummy.code"

write_config "$T/vigil.conf" <<EOF
daemon = { store_flush_interval = "100ms"; };
host_probes = (
        { name = "hang"; kind = "exec"; command = [ "$T/hang.sh" ]; every = "1s"; timeout = "500ms";
          fail_after = 2; recover_after = 1; },
        { name = "dummy"; kind = "exec"; command = [ "$T/dummy.sh" ]; every = "300ms";
          fail_after = 2; recover_after = 2; }
);
workers = (
        {
                name = "svc";
                command = [ "$VT_WORKER", "--stamp", "$T/svc.stamps" ];
                probes = (
                        { name = "procs"; kind = "exec"; every = "1s"; fail_after = 1;
                          command = [ "$PLUGINS/check_procs", "-c", "1:1", "-C", "vt-worker",
                                      "-a", "$T/svc.stamps" ]; },
                        { name = "procs2"; kind = "exec"; every = "1s"; fail_after = 1;
                          command = [ "$PLUGINS/check_procs", "-c", "2:2", "-C", "vt-worker",
                                      "-a", "$T/svc.stamps" ]; },
                        { name = "pid"; kind = "exec"; every = "300ms";
                          command = [ "/bin/sh", "-c", "echo \$VIGIL_WORKER:\$VIGIL_INSTANCE \$VIGIL_PID > $T/pid.tmp"
                                                       " && mv $T/pid.tmp $T/pid.out" ]; }
                );
        }
);
EOF
start_vigild "$T/vigil.conf" -v
wait_for_log 'ready: 1 instances of 1 workers'

# (1) Timeouts: UNKNOWN, and after fail_after an incident of its own.
wait_for_log 'host/hang: probe cannot run \(2 times in a row\): no answer within 500ms' 10
wait_until '[[ $(open_count hang) == 1 ]]' 10
assert_eq "$(q "SELECT cause, category, json_extract(details, '$.status') FROM incidents WHERE probe = 'hang'")" \
        "probe-unknown|transient|unknown" "a hanging command's incident"
rm "$T/hang"
wait_for_log 'host/hang: probe runs again' 10
wait_until '[[ $(open_count hang) == 0 ]]' 10
mapfile -t hang_pids < <(tr ' ' '\n' < "$T/hang.pids")
((${#hang_pids[@]} >= 4)) || fail "expected two hanging samples or more, got pids: ${hang_pids[*]}"
for pid in "${hang_pids[@]}"; do
        wait_until "[[ \$(pid_state $pid) == gone ]]" 10
done
vigild_zombies() {
        local f pid
        for f in /proc/"$VIGILD_PID"/task/*/children; do
                for pid in $(< "$f"); do
                        [[ $(pid_state "$pid") == Z ]] && echo "$pid"
                done
        done
        return 0
}
wait_until '[[ -z $(vigild_zombies) ]]' 10

# (2) check_dummy: WARNING, raised to CRITICAL on the same incident, recovered.
echo 1 > "$T/dummy.code"
wait_for_log 'host/dummy: fired, warning: WARNING: dummy says 1$' 10
wait_until '[[ $(open_count dummy) == 1 ]]' 10
assert_eq "$(q "SELECT cause, severity, json_extract(details, '$.exit_status'), json_extract(details, '$.output')
                FROM incidents WHERE probe = 'dummy'")" "probe|1|1|WARNING: dummy says 1" "check_dummy 1"
echo 2 > "$T/dummy.code"
wait_for_log 'host/dummy: now critical: CRITICAL: dummy says 2$' 10
wait_until '[[ $(q "SELECT severity FROM incidents WHERE probe = '"'dummy'"'") == 2 ]]' 10
assert_eq "$(q "SELECT count(*), json_extract(details, '$.exit_status') FROM incidents WHERE probe = 'dummy'")" \
        "1|2" "one incident, raised to CRITICAL"
echo 0 > "$T/dummy.code"
wait_for_log 'host/dummy: recovered: OK: dummy says 0$' 10
wait_until '[[ $(open_count dummy) == 0 ]]' 10
assert_eq "$(q "SELECT resolution, resolution_note FROM incidents WHERE probe = 'dummy'")" \
        "auto|auto: probe recovered: OK: dummy says 0" "resolved with the recovering output"

# check_procs on the instance: exactly one process has its unique argument. (-C: two check_procs
# running at once may count each other, as their arguments hold it too.)
what="1 process with command name 'vt-worker', args '$T/svc.stamps'"
wait_for_log "svc:0/procs2: fired, critical: PROCS CRITICAL: $what" 15
wait_for_log "svc:0/procs: sample: ok PROCS OK: $what" 15
assert_eq "$(q "SELECT count(*) FROM incidents WHERE probe = 'procs' AND cause = 'probe'")" 0 \
        "check_procs -c 1:1 stays OK"
assert_eq "$(q "SELECT json_extract(details, '$.value'), json_extract(details, '$.threshold'),
                json_extract(details, '$.perfdata') FROM incidents WHERE probe = 'procs2'")" \
        "1|2|procs=1;;2:2;0;" "check_procs' perfdata"

# (3) VIGIL_PID is the instance's main process.
main_pid=$(sed -n 's/.*svc:0: .*starting.*pid \([0-9]*\).*/\1/p' "$VIGILD_LOG" | tail -n 1)
[[ -n $main_pid ]] || fail "no start of svc:0 with its pid in the log"
assert_eq "$main_pid" "$(last_stamp_pid "$T/svc.stamps")" "the logged pid is the worker's"
wait_until '[[ -e $T/pid.out ]]' 10
assert_eq "$(< "$T/pid.out")" "svc:0 $main_pid" "VIGIL_WORKER:VIGIL_INSTANCE VIGIL_PID"

stop_vigild
# (A sample that timed out on a loaded machine may have opened a probe-unknown incident; no
# probe may have fired that should not have.)
assert_eq "$(q "SELECT count(*) FROM incidents WHERE cause = 'probe' AND probe NOT IN ('dummy', 'procs2')")" 0 \
        "no other probe fired"
