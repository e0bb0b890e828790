#!/bin/bash
# The distribution's own systemd-notify works unchanged under vigild, as root and as an
# unprivileged user: a notify worker whose shell runs `systemd-notify --ready --status=up`
# becomes running, STATUS= reaches vigild, and systemd-notify exits 0. It exits 0 only if vigild
# closed the descriptor it sent with BARRIER=1. As root systemd-notify sends READY=1 in its
# parent's name (the worker's main process); as vigiltest in its own (a process in the worker's
# cgroup), through the socket in the runtime directory, which vigiltest must be able to reach.
. "$(dirname "$0")/lib.sh"

SYSTEMD_NOTIFY=$(command -v systemd-notify) || skip "systemd-notify is not installed"
ensure_test_user

# vigiltest must reach $T/run/notify.sock and write its result into $T/out.
chmod 0711 "$T"
mkdir -m 1777 "$T/out"

write_config "$T/vigil.conf" <<EOF
workers = (
        {
                name = "asroot";
                command = [ "/bin/sh", "-c", "$SYSTEMD_NOTIFY --ready --status=up; echo rc=\$? > $T/out/root.rc; exec sleep 1000" ];
                notify = true;
                start_timeout = "30s";
        },
        {
                name = "asuser";
                command = [ "/bin/sh", "-c", "$SYSTEMD_NOTIFY --ready --status=up; echo rc=\$? > $T/out/user.rc; exec sleep 1000" ];
                user = "vigiltest";
                notify = true;
                start_timeout = "30s";
        }
);
EOF

start_vigild "$T/vigil.conf" -v

# systemd-notify gives up on its barrier after 5s; a leaked descriptor shows as rc=1 by then.
wait_until '[[ -s $T/out/root.rc && -s $T/out/user.rc ]]' 20
wait_for_log 'asroot:0: starting -> running \(READY=1\)$'
wait_for_log 'asuser:0: starting -> running \(READY=1\)$'
assert_eq "$(cat "$T/out/root.rc")" rc=0 "systemd-notify's exit status as root"
assert_eq "$(cat "$T/out/user.rc")" rc=0 "systemd-notify's exit status as vigiltest"
assert_log 'asroot:0: STATUS=up$'
assert_log 'asuser:0: STATUS=up$'
assert_no_log 'Dropped notify datagram' "a datagram of systemd-notify was dropped"

# The workers stay up: their main processes are the shells, now sleep.
for w in asroot asuser; do
        pid=$(sed -nE "s/.*$w:0: stopped -> starting \(pid ([0-9]+)\).*/\1/p" "$VIGILD_LOG")
        pid_alive "$pid" || fail "$w (pid $pid) is gone"
done
assert_eq "$(stat -c %U "$T/out/user.rc")" vigiltest "owner of the unprivileged worker's result"
assert_no_log '(asroot|asuser):0: [a-z]+ -> (stopping|exited|backoff)'

stop_vigild
exit 0
