#!/bin/bash
# The TILT guard: when vigild's loop ran late (here a test hook holds it for 3 s, with
# tilt_margin 500ms and tilt_settle 3s), watchdog verdicts are suspended for the settle period
# and the suspension is logged, so that a stalled vigild or a frozen host does not make healthy
# workers look hung. Three workers, watchdog 1s each:
#   steady  keeps pinging every ~333 ms while vigild's loop is held;
#   frozen  is stopped (SIGSTOP) for as long as the loop is held, as on a frozen host, and
#           continued right after: its deadline passed during the stall, and only the guard
#           keeps it from being judged when the loop resumes;
#   hang    pings twice after each start and falls silent: the guard must not hide it, it is
#           still found unresponsive once the settle period is over.
. "$(dirname "$0")/lib.sh"

need_hooks
VT_NOTIFY=${VT_NOTIFY:-$(dirname "$VT_WORKER")/vt-notify}
[[ -x $VT_NOTIFY ]] || { echo "no vt-notify at $VT_NOTIFY" >&2; exit 99; }

common='notify = true;
                watchdog = "1s";
                restart = "always";
                start_timeout = "5s";
                stop_timeout = "2s";
                backoff = { initial = "50ms"; max = "100ms"; factor = 2.0; reset_after = "30s"; };
                breaker = { failures = 64; window = "10s"; open_for = "1s"; trial_ok = "100ms"; };'
write_config "$T/vigil.conf" <<EOF
daemon = { tilt_margin = "500ms"; tilt_settle = "3s"; };
workers = (
        {
                name = "steady";
                command = [ "$VT_NOTIFY", "worker", "--stamp", "$T/steady.stamps" ];
                $common
        },
        {
                name = "frozen";
                command = [ "$VT_NOTIFY", "worker", "--stamp", "$T/frozen.stamps" ];
                $common
        },
        {
                name = "hang";
                command = [ "$VT_NOTIFY", "worker", "--stamp", "$T/hang.stamps", "--pings", "2" ];
                $common
        }
);
EOF

ping_count() {
        grep -c '^ping ' "$1" || true
}

VIGIL_TEST_STALL_MS=3000 start_vigild "$T/vigil.conf"
wait_for_log 'steady:0: starting -> running \(READY=1\)'
wait_for_log 'frozen:0: starting -> running \(READY=1\)'
# Verdicts work before the stall: hang is found unresponsive without any TILT.
wait_for_log 'hang:0: unresponsive: no WATCHDOG=1 within 1s, stopping it'
assert_no_log 'TILT'
steady_pid=$(last_stamp_pid "$T/steady.stamps")
frozen_pid=$(last_stamp_pid "$T/frozen.stamps")
wait_until "(( \$(ping_count \"\$T/frozen.stamps\") >= 3 ))"

# The stall, with frozen stopped for as long as it lasts.
kill -STOP "$frozen_pid"
kill -USR2 "$VIGILD_PID"
wait_for_log 'test hook: holding the loop for 3000ms'
wait_for_log 'test hook: loop released' 10
if ! kill -CONT "$frozen_pid" 2> /dev/null; then
        assert_no_log 'frozen:0: unresponsive' "a worker frozen with the host was judged after the stall"
        fail "frozen (pid $frozen_pid) was gone when the loop resumed"
fi
frozen_pings=$(ping_count "$T/frozen.stamps")

wait_for_log "TILT: vigild's loop ran late by [0-9][0-9a-z.]*; timeout verdicts suspended for 3s"
wait_for_log 'frozen:0: watchdog verdict deferred \(TILT\), checking again in [0-9][0-9a-z.]*$'
tilt_line=$(grep -n -m 1 'TILT: ' "$VIGILD_LOG" | cut -d: -f1)

# hang is still judged, twice more after the TILT line: the first of those verdicts cannot come
# before the settle period ended (3 s after the stall), the second comes more than 1.6 s later
# (a restart, READY, two pings, one interval), so by then frozen's suspended verdict, due one
# interval after the settle period, was due too.
hang_after_tilt() {
        tail -n +"$tilt_line" "$VIGILD_LOG" | grep -c 'hang:0: unresponsive: no WATCHDOG=1 within 1s' || true
}
wait_until '(( $(hang_after_tilt) >= 2 ))' 20

assert_no_log 'steady:0: unresponsive' "a worker that pinged through the stall was judged"
assert_no_log 'frozen:0: unresponsive' "a worker frozen with the host was judged after the stall"
assert_eq "$(stamp_count "$T/steady.stamps")" 1 "starts of steady"
assert_eq "$(stamp_count "$T/frozen.stamps")" 1 "starts of frozen"
pid_alive "$steady_pid" || fail "steady (pid $steady_pid) is gone"
pid_alive "$frozen_pid" || fail "frozen (pid $frozen_pid) is gone"
(($(ping_count "$T/frozen.stamps") > frozen_pings + 3)) || fail "frozen did not ping again after SIGCONT"

stop_vigild
exit 0
