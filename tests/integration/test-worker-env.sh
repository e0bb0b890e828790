#!/bin/bash
# What a worker starts with: a clean environment (vigil's variables and the configured ones,
# none of vigild's own, in particular no NOTIFY_SOCKET, WATCHDOG_*, LISTEN_*, JOURNAL_STREAM or
# INVOCATION_ID), its own process group, its own instance cgroup, stdin from /dev/null, stdout
# to the configured file, no inherited fds, and the default NOFILE limit of 1024.
. "$(dirname "$0")/lib.sh"

write_config "$T/vigil.conf" <<EOF
workers = (
        {
                name = "envw";
                command = [ "$VT_WORKER", "--report", "$T/report" ];
                cgroups = "auto";
                environment = [ "EXTRA=yes", "WITH_EQUALS=a=b" ];
                stdout = "file:$T/stdout.txt";
                start_secs = "50ms";
        }
);
EOF

NOTIFY_SOCKET=/run/vigil-test-nonexistent/notify WATCHDOG_USEC=60000000 WATCHDOG_PID=1 \
LISTEN_FDS=1 LISTEN_PID=1 LISTEN_FDNAMES=x JOURNAL_STREAM=1:1 INVOCATION_ID=0123456789abcdef \
VIGIL_TEST_LEAK=1 start_vigild "$T/vigil.conf"
wait_until '[[ -e $T/report ]]'
wait_for_log 'envw:0: starting -> running'

pid=$(awk '$1 == "pid" { print $2 }' "$T/report")
env_of() {
        sed -n "s/^env $1=//p" "$T/report"
}
assert_eq "$(env_of VIGIL_WORKER)" envw "VIGIL_WORKER"
assert_eq "$(env_of VIGIL_INSTANCE)" 0 "VIGIL_INSTANCE"
assert_eq "$(env_of EXTRA)" yes "configured EXTRA"
assert_eq "$(env_of WITH_EQUALS)" a=b "configured WITH_EQUALS"
[[ -n $(env_of PATH) ]] || fail "no PATH in the worker's environment"
assert_eq "$(env_of USER)" root "USER"
assert_eq "$(env_of HOME)" "$(getent passwd root | cut -d: -f6)" "HOME"
[[ $(env_of NOTIFY_SOCKET) != /run/vigil-test-nonexistent/notify ]] || fail "vigild passed its own NOTIFY_SOCKET on"
if leaked=$(grep -E '^env (WATCHDOG_[A-Z]+|LISTEN_[A-Z]+|JOURNAL_STREAM|INVOCATION_ID|VIGIL_TEST_LEAK)=' "$T/report"); then
        fail "vigild's environment leaked into the worker: $leaked"
fi

assert_eq "$(awk '$1 == "pgid" { print $2 }' "$T/report")" "$pid" "process group (its own)"
assert_eq "$(awk '$1 == "cgroup" { print $2 }' "$T/report")" "0::$(cgroup_rel "$VIGILD_LEAF")/envw-0" "cgroup"
assert_eq "$(awk '$1 == "nofile" { print $2 }' "$T/report")" 1024 "soft NOFILE limit"
assert_eq "$(readlink "/proc/$pid/fd/0")" /dev/null "stdin"
assert_eq "$(readlink "/proc/$pid/fd/1")" "$T/stdout.txt" "stdout"
fds=$(ls "/proc/$pid/fd" | sort -n | tr '\n' ' ')
assert_eq "$fds" "0 1 2 " "open fds of the worker"

stop_vigild
exit 0
