#!/bin/bash
# systemd that stops reading does not stop vigild. A NOTIFY_SOCKET listener stands in for a busy
# PID 1 and is frozen (SIGSTOP) once vigild is READY: its socket queue fills after a few
# datagrams (net.unix.max_dgram_qlen), and a blocking sd_notify() would now hang vigild's loop
# at its next STATUS=. Meanwhile a worker crash-loops at a 1 ms backoff, changing the STATUS=
# summary all the time. vigild must go on restarting it, take SIGTERM at once, and, once the
# listener reads again, deliver what it still owes: STOPPING=1, watchdog pings, and the latest
# STATUS= (a text that is no longer true is never sent late). READY=1 comes exactly once.
. "$(dirname "$0")/lib.sh"

OUT=$T/systemd.out
# Its queue length is the kernel's default of 10 whatever the host's sysctl says (systemd raises
# it to 512), so that it fills in seconds.
start_notify_listener "$T/systemd.sock" "$OUT" 10

write_config "$T/vigil.conf" <<EOF
workers = (
        {
                name = "loop";
                command = [ "$VT_WORKER", "--stamp", "$T/loop.stamps", "--crash", "SEGV" ];
                restart = "always";
                start_secs = "0";
                backoff = { initial = "1ms"; max = "1ms"; reset_after = "1h"; immediate_first = true; };
                breaker = { failures = 64; window = "1us"; open_for = "1s"; };
        },
        {
                name = "slow";
                command = [ "$VT_WORKER", "--ignore-term" ];
                stop_timeout = "4s";
        }
);
EOF

NOTIFY_SOCKET=$T/systemd.sock WATCHDOG_USEC=1000000 start_vigild "$T/vigil.conf" -v
wait_until 'grep -q " READY=1$" "$OUT"'

# The stand-in systemd stops reading; its queue is full within a few seconds (STATUS= at 5 a
# second, pings), which vigild says in its debug log.
kill -STOP "$LISTENER_PID"
wait_until '[[ $(pid_state "$LISTENER_PID") == T ]]'
wait_for_log "upstream: the service manager's socket is full" 20
full_at=$(stamp_count "$T/loop.stamps")
log "systemd's queue full after $full_at restarts of loop"

# vigild keeps supervising: hundreds more restarts, each of which changed STATUS= twice.
wait_until 'vigild_up && (( $(stamp_count "$T/loop.stamps") >= full_at + 300 ))' 30
log "$(($(stamp_count "$T/loop.stamps") - full_at)) restarts while systemd's queue was full"

# And it takes SIGTERM at once; "slow" then holds the stop for its 4 s stop timeout.
kill -TERM "$VIGILD_PID"
wait_for_log 'SIGTERM: stopping all workers' 3

# The listener reads again: what vigild still owes arrives while it is stopping. What was
# queued arrives at once; a ping received 400 ms later was sent after the stall, so the pings
# go on (the listener stamps each datagram with the clock of --now).
cont_at=$("$VT_WORKER" --now)
kill -CONT "$LISTENER_PID"
wait_until 'grep -q " STOPPING=1$" "$OUT"' 3
wait_until "awk -v t=$((cont_at + 400000)) '\$2 == \"WATCHDOG=1\" && \$1 >= t { f = 1 } END { exit !f }' \"\$OUT\"" 3
wait_until 'sed -nE "s/^[0-9]+ STATUS=//p" "$OUT" | tail -n 1 | grep -q "^stopping: "' 3
pid_alive "$VIGILD_PID" || fail "vigild exited before the listener read again: the test proved nothing"

wait_vigild_exit "$VIGILD_PID" 30
assert_eq "$VIGILD_EXIT" 0 "exit status after SIGTERM"
assert_eq "$(grep -c ' READY=1$' "$OUT")" 1 "READY=1 messages"
exit 0
