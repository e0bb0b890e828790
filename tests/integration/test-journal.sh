#!/bin/bash
# vigild without -d logs to the journal: its entries carry MESSAGE_ID, PRIORITY, VIGIL_WORKER and
# VIGIL_INSTANCE (a crash: PRIORITY 3 with the process-exit MESSAGE_ID; a state change: the
# instance-state MESSAGE_ID with OLD_STATE and NEW_STATE), and a worker whose output is
# "journal" gets a journald stream per output named "WORKER:INSTANCE" (stdout at priority 6,
# stderr at 4). journald is tests/helpers/journal-listener on a tmpfs mounted over
# /run/systemd/journal in a private mount namespace that vigild joins; nothing of this
# reaches vigild's stderr.
. "$(dirname "$0")/lib.sh"

if ! command -v unshare > /dev/null || ! command -v nsenter > /dev/null; then
        skip "unshare and nsenter (util-linux) are needed"
fi
JOURNAL_LISTENER=${JOURNAL_LISTENER:-$(dirname "$VT_WORKER")/journal-listener}
[[ -x $JOURNAL_LISTENER ]] || { echo "no journal-listener at $JOURNAL_LISTENER" >&2; exit 99; }

J=$T/journal.json
LISTENER_PID=
MID_STATE=5f0d7c1c8a2e4b7e9a4c3f2b1d0e9a01   # LOG_MID_INSTANCE_STATE in common/log.h
MID_EXIT=5f0d7c1c8a2e4b7e9a4c3f2b1d0e9a02    # LOG_MID_PROCESS_EXIT

# Mounts an empty tmpfs where the journal sockets live, in this mount namespace only. A directory
# created with mkdir would appear on the host's /run too (a namespace has its own mounts, not its
# own files), so the tmpfs goes over the deepest of /run/systemd/journal, /run/systemd and /run
# that exists, and the rest of the path is created inside it.
HIDE_JOURNAL='set -e
for m in /run/systemd/journal /run/systemd /run; do [ -d "$m" ] && break; done
mount -t tmpfs -o mode=0755 tmpfs "$m"
mkdir -p /run/systemd/journal'

stop_listener() {
        if [[ -n $LISTENER_PID ]]; then
                stop_helper "$LISTENER_PID" || fail "journal-listener exited with status $?"
                LISTENER_PID=
        fi
}

# The listener holds the namespace: vigild joins it by /proc/PID/ns/mnt.
host_journal_dir=$([[ -d /run/systemd/journal ]] && echo yes || echo no)
unshare --mount --propagation private -- sh -c "$HIDE_JOURNAL"'
exec "$0" /run/systemd/journal "$1" "$2"' "$JOURNAL_LISTENER" "$J" "$T/listener.ready" &
LISTENER_PID=$!
HELPERS_RUNNING[$LISTENER_PID]=journal-listener
wait_until '[[ -e $T/listener.ready ]] || ! pid_alive $LISTENER_PID'
pid_alive "$LISTENER_PID" || fail "journal-listener did not start"
if [[ $host_journal_dir == no && -e /run/systemd/journal ]]; then
        fail "/run/systemd/journal appeared outside the namespace"
fi

# journal_lines TRANSPORT [KEY=VALUE...]: prints the listener's records of TRANSPORT in which
# every KEY has exactly VALUE (plain values: no quotes, backslashes or control characters);
# false if there is none.
journal_lines() {
        local out kv
        out=$(grep -F -- "{\"transport\":\"$1\"," "$J" || true)
        shift
        for kv in "$@"; do
                out=$(grep -F -- "\"${kv%%=*}\":\"${kv#*=}\"" <<< "$out" || true)
        done
        [[ -n $out ]] && printf '%s\n' "$out"
}

write_config "$T/vigil.conf" <<EOF
workers = (
        {
                name = "crasher";
                command = [ "$VT_WORKER", "--stamp", "$T/crasher.stamps", "--crash", "SEGV", "--after", "50" ];
                restart = "on-failure";
                start_secs = "10ms";
                backoff = { initial = "10ms"; max = "100ms"; factor = 2.0; reset_after = "10s"; };
                breaker = { failures = 64; window = "10s"; open_for = "1s"; trial_ok = "100ms"; };
        },
        {
                name = "jw";
                instances = 2;
                command = [ "/bin/sh", "-c",
                            "echo \"hello from \$VIGIL_WORKER:\$VIGIL_INSTANCE\"; echo \"complaint from \$VIGIL_INSTANCE\" >&2; exec \"\$0\"",
                            "$VT_WORKER" ];
                stdout = "journal";
                stderr = "journal";
                start_secs = "50ms";
        }
);
EOF

# start_vigild always passes -d; this wrapper, run inside the listener's mount namespace, drops
# it so that vigild picks its log target itself and finds the journal.
NO_FOREGROUND='v=$1; shift
if [ "${1:-}" != -d ]; then echo "test-journal: expected -d after vigild, got ${1:-nothing}" >&2; exit 99; fi
shift; exec "$v" "$@"'
VIGILD_PREFIX=(nsenter "--mount=/proc/$LISTENER_PID/ns/mnt" -- sh -c "$NO_FOREGROUND" sh)
start_vigild "$T/vigil.conf"

# The crash: PRIORITY 3 (err), the process-exit MESSAGE_ID, worker and instance, from vigild.
wait_until 'vigild_up && journal_lines journal MESSAGE_ID=$MID_EXIT VIGIL_WORKER=crasher > /dev/null' 20
crash=$(journal_lines journal MESSAGE_ID=$MID_EXIT VIGIL_WORKER=crasher | sed -n 1p)
for kv in PRIORITY=3 VIGIL_INSTANCE=0 "pid=$VIGILD_PID"; do
        grep -qF -- "\"${kv%%=*}\":\"${kv#*=}\"" <<< "$crash" || fail "crash entry without $kv: $crash"
done
grep -Eq '"MESSAGE":"crasher:0: pid [0-9]+ killed by SIGSEGV' <<< "$crash" || fail "crash entry's MESSAGE: $crash"

# The crash is followed by a restart, logged as a state change of that instance.
wait_until 'vigild_up && journal_lines journal MESSAGE_ID=$MID_STATE VIGIL_WORKER=crasher NEW_STATE=backoff > /dev/null' 20
backoff=$(journal_lines journal MESSAGE_ID=$MID_STATE VIGIL_WORKER=crasher NEW_STATE=backoff | sed -n 1p)
for re in '"VIGIL_INSTANCE":"0"' '"OLD_STATE":"[a-z]+"' '"PRIORITY":"[0-7]"' '"MESSAGE":"crasher:0: [a-z]+ -> backoff'; do
        grep -Eq -- "$re" <<< "$backoff" || fail "state change entry without /$re/: $backoff"
done

# Both instances of jw reach running, each entry naming its own instance.
for n in 0 1; do
        wait_until "vigild_up && journal_lines journal MESSAGE_ID=\$MID_STATE VIGIL_WORKER=jw VIGIL_INSTANCE=$n \
                NEW_STATE=running > /dev/null" 20
        running=$(journal_lines journal MESSAGE_ID=$MID_STATE VIGIL_WORKER=jw VIGIL_INSTANCE=$n NEW_STATE=running \
                PRIORITY=6 || true)
        grep -qF "\"MESSAGE\":\"jw:$n: " <<< "$running" ||
                fail "jw:$n's running entry: $(journal_lines journal VIGIL_WORKER=jw VIGIL_INSTANCE=$n)"
done

# Worker output: one stream per output and instance, named WORKER:INSTANCE, stdout at priority 6
# and stderr at 4.
for n in 0 1; do
        wait_until "vigild_up && journal_lines stdout identifier=jw:$n 'MESSAGE=hello from jw:$n' > /dev/null" 20
        journal_lines stdout identifier=jw:$n "MESSAGE=hello from jw:$n" priority=6 > /dev/null ||
                fail "jw:$n's stdout line not at priority 6: $(journal_lines stdout identifier=jw:$n)"
        wait_until "vigild_up && journal_lines stdout identifier=jw:$n 'MESSAGE=complaint from $n' > /dev/null" 20
        journal_lines stdout identifier=jw:$n "MESSAGE=complaint from $n" priority=4 > /dev/null ||
                fail "jw:$n's stderr line not at priority 4: $(journal_lines stdout identifier=jw:$n)"
done
if bad=$(grep -F '"transport":"error"' "$J"); then
        fail "the listener could not decode: $bad"
fi

stop_vigild
# What went to the journal did not also go to stderr, and no fallback was announced.
assert_no_log 'crasher:0: pid [0-9]+ killed' "a journal entry also went to stderr"
assert_no_log 'hello from jw' "worker output went to vigild's stderr"
assert_no_log 'no journal' "vigild did not find the journal"
stop_listener
exit 0
