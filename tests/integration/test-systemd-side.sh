#!/bin/bash
# vigild speaks to systemd: a NOTIFY_SOCKET listener stands in for systemd (Type=notify with
# WatchdogSec=1s) and records what arrives, with its time. A STATUS= summary comes before
# READY=1 and follows the workers' states (a crash and the restart show as changes); the loop
# pings WATCHDOG=1 with no gap longer than 3/4 of WATCHDOG_USEC + 200 ms; while the loop is
# held (the test hook, 2.5 s) no ping arrives, so systemd would see the stall; STOPPING=1 at the
# end.
. "$(dirname "$0")/lib.sh"

need_hooks

OUT=$T/systemd.out
start_notify_listener "$T/systemd.sock" "$OUT"

# Prints the payloads of the listener's STATUS= lines, in order.
statuses() {
        sed -nE 's/^[0-9]+ STATUS=//p' "$OUT"
}
pings() {
        grep -c ' WATCHDOG=1$' "$OUT" || true
}

write_config "$T/vigil.conf" <<EOF
workers = (
        {
                name = "w";
                command = [ "$VT_WORKER", "--stamp", "$T/w.stamps" ];
                restart = "always";
                start_secs = "300ms";
                backoff = { initial = "100ms"; max = "200ms"; factor = 2.0; reset_after = "20s"; };
        }
);
EOF

NOTIFY_SOCKET=$T/systemd.sock WATCHDOG_USEC=1000000 VIGIL_TEST_STALL_MS=2500 start_vigild "$T/vigil.conf"

# READY=1 once the worker was started, after a first STATUS=; then the worker's running shows.
wait_until 'grep -q " READY=1$" "$OUT"'
first=$(grep -m 1 -E ' (STATUS|READY)=' "$OUT" | cut -d' ' -f2-)
assert_eq "$first" "STATUS=0 running, 1 starting, 0 backoff, 0 fatal" "the first message to systemd"
wait_until 'statuses | grep -qx "1 running, 0 starting, 0 backoff, 0 fatal"'
wait_for_log 'ready: 1 instances of 1 workers'

# A crash: the summary leaves "1 running" and comes back to it after the restart. Only changes
# are sent, so a second "1 running" proves the change in between.
pid=$(last_stamp_pid "$T/w.stamps")
kill -SEGV "$pid"
wait_until '(( $(statuses | grep -cx "1 running, 0 starting, 0 backoff, 0 fatal") >= 2 ))'
between=$(statuses | sed -n '/^1 running/,$p' | sed '1d;$d')
grep -qx '0 running, 1 starting, 0 backoff, 0 fatal' <<< "$between" ||
        fail "no \"1 starting\" summary between the crash and the restart: $between"
[[ $(statuses | uniq -d) == "" ]] || fail "a STATUS= was sent twice in a row: $(statuses)"

# Pings before the stall: at least six, so that several gaps are measured.
wait_until '(( $(pings) >= 6 ))' 15

# The stall, bracketed by two markers sent to the listener just before and just after the
# signal: no ping can arrive from the second marker until 2.4 s after the first.
NOTIFY_SOCKET=$T/systemd.sock "$VT_NOTIFY" send MARK=before
kill -USR2 "$VIGILD_PID"
NOTIFY_SOCKET=$T/systemd.sock "$VT_NOTIFY" send MARK=after
wait_for_log 'test hook: holding the loop for 2500ms'
wait_for_log 'test hook: loop released' 10
n=$(pings)
wait_until "(( \$(pings) >= $n + 4 ))" 15
stop_vigild
stop_helper "$LISTENER_PID" || fail "vt-notify listen exited with status $?"
grep -q ' STOPPING=1$' "$OUT" || fail "no STOPPING=1 when vigild stopped"

# Every gap but the stall's is at most 750 ms + 200 ms; the stall's is at least 2.4 s and
# covers the signal.
mark_before=$(awk '$2 == "MARK=before" { print $1 }' "$OUT")
mark_after=$(awk '$2 == "MARK=after" { print $1 }' "$OUT")
read -r r_pings r_long r_longest r_max r_during r_from r_to r_span < <(
        awk -v b="$mark_before" -v a="$mark_after" '
        $2 != "WATCHDOG=1" { next }
        prev != "" {
                gap = $1 - prev
                if (gap > 950000) { long++; longest = gap; from = prev; to = $1 }
                else if (gap > max) max = gap
        }
        $1 >= a && $1 <= b + 2400000 { during++ }
        { prev = $1; n++ }
        END {
                printf "%d %d %d %d %d %d %d %d\n", n, long, longest, max, during, from - b, to - b, a - b
        }' "$OUT")
report="pings=$r_pings long_gaps=$r_long longest=$r_longest max_other=$r_max during_stall=$r_during"
report+=" long_gap_from=$r_from to=$r_to second_marker=$r_span (usec, times relative to the first marker)"
log "$report"
((r_pings >= 10)) || fail "only $r_pings pings arrived: $report"
((r_during == 0)) || fail "$r_during ping(s) arrived while the loop was held: $report"
((r_long == 1)) || fail "$r_long gaps exceeded 950 ms, expected only the stall's: $report"
((r_longest >= 2400000)) || fail "the stall's gap was only $r_longest usec: $report"
((r_from <= r_span && r_to >= 2400000)) || fail "the long gap does not cover the stall: $report"

exit 0
