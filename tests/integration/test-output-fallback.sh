#!/bin/bash
# Without journald, output = "journal" falls back to vigild's stderr: the worker's stdout and
# stderr are one pipe that vigild reads, and every line appears in vigild's log as
# "WORKER:INSTANCE: line", whole, a partial last line included; vigild warns exactly once, however
# many workers and restarts there are. journald is kept out of sight with an empty tmpfs on
# /run/systemd/journal in a private mount namespace, so the scenario means the same on a host
# that runs journald.
. "$(dirname "$0")/lib.sh"

command -v unshare > /dev/null || skip "unshare (util-linux) is needed"

# Mounts an empty tmpfs where the journal sockets live, in this mount namespace only. A directory
# created with mkdir would appear on the host's /run too (a namespace has its own mounts, not its
# own files), so the tmpfs goes over the deepest of /run/systemd/journal, /run/systemd and /run
# that exists, and the rest of the path is created inside it.
HIDE_JOURNAL='set -e
for m in /run/systemd/journal /run/systemd /run; do [ -d "$m" ] && break; done
mount -t tmpfs -o mode=0755 tmpfs "$m"
mkdir -p /run/systemd/journal'

write_config "$T/vigil.conf" <<EOF
workers = (
        {
                name = "jw";
                instances = 2;
                command = [ "/bin/sh", "-c",
                            "echo \"hello from \$VIGIL_WORKER:\$VIGIL_INSTANCE fd1=\$(readlink /proc/\$\$/fd/1) fd2=\$(readlink /proc/\$\$/fd/2)\"; echo \"complaint from \$VIGIL_INSTANCE\" >&2; exec \"\$0\"",
                            "$VT_WORKER" ];
                stdout = "journal";
                stderr = "journal";
                start_secs = "50ms";
        },
        {
                name = "chatty";
                command = [ "/bin/sh", "-c", "echo \"start \$\$\"; printf 'no newline at the end'; exit 3" ];
                stdout = "journal";
                restart = "always";
                start_secs = "10ms";
                backoff = { initial = "10ms"; max = "50ms"; factor = 2.0; reset_after = "10s"; };
                breaker = { failures = 64; window = "10s"; open_for = "1s"; trial_ok = "100ms"; };
        }
);
EOF

VIGILD_PREFIX=(unshare --mount --propagation private -- sh -c "$HIDE_JOURNAL"'
exec "$@"' sh)
start_vigild "$T/vigil.conf"

for n in 0 1; do
        wait_for_log "^jw:$n: hello from jw:$n " 20
        wait_for_log "^jw:$n: complaint from $n\$" 20
done
# stdout and stderr are the same pipe, not vigild's own stderr (a file here).
for n in 0 1; do
        line=$(grep -E "^jw:$n: hello from" "$VIGILD_LOG")
        [[ $line =~ fd1=(pipe:\[[0-9]+\])\ fd2=(pipe:\[[0-9]+\])$ ]] || fail "jw:$n's output is not a pipe: $line"
        [[ ${BASH_REMATCH[1]} == "${BASH_REMATCH[2]}" ]] || fail "jw:$n's stdout and stderr are different pipes: $line"
done

# A partial last line is flushed at the worker's end, as a line of its own (checked, for every
# start, once vigild has stopped).
wait_until '(( $(count_log "^chatty:0: no newline at the end$") >= 3 ))' 20

# One warning, after three workers' starts and several restarts.
warnings=$(grep -E '^warning: .*journal' "$VIGILD_LOG" || true)
assert_eq "$(grep -c . <<< "$warnings")" 1 "warnings about the missing journal"
grep -q 'stderr' <<< "$warnings" || fail "the warning does not say where the output goes: $warnings"

stop_vigild
# One per run that got as far as its exit: the last start may have been stopped by vigild between
# its two writes.
assert_eq "$(count_log '^chatty:0: no newline at the end$')" "$(count_log 'chatty:0: pid [0-9]+ exited with code 3')" \
        "flushed partial lines, one per run that exited"
assert_no_log 'no newline at the end.' "a partial line was glued to something else"
exit 0
