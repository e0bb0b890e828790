#!/bin/bash
# watchdog = INTERVAL: the worker gets WATCHDOG_USEC and WATCHDOG_PID (its own pid), so that
# sd_watchdog_enabled() in a program linking libsystemd says yes. A worker that keeps pinging
# WATCHDOG=1 stays running for many intervals; one that stops is found unresponsive no sooner
# than one interval after its last ping, and restarted. A worker may lengthen its interval with
# WATCHDOG_USEC=, in a message of its own or together with READY=1 (as systemd allows), and may
# fail itself at once with WATCHDOG=trigger. Without watchdog = the worker sees no watchdog.
. "$(dirname "$0")/lib.sh"

VT_NOTIFY=${VT_NOTIFY:-$(dirname "$VT_WORKER")/vt-notify}
[[ -x $VT_NOTIFY ]] || { echo "no vt-notify at $VT_NOTIFY" >&2; exit 99; }

common='notify = true;
                restart = "always";
                start_timeout = "5s";
                stop_timeout = "2s";
                backoff = { initial = "50ms"; max = "100ms"; factor = 2.0; reset_after = "20s"; };
                breaker = { failures = 64; window = "10s"; open_for = "1s"; trial_ok = "100ms"; };'
write_config "$T/vigil.conf" <<EOF
workers = (
        {
                name = "pinger";
                command = [ "$VT_NOTIFY", "worker", "--stamp", "$T/pinger.stamps" ];
                watchdog = "1s";
                stderr = "file:$T/pinger.err";
                $common
        },
        {
                name = "quitter";
                command = [ "$VT_NOTIFY", "worker", "--stamp", "$T/quitter.stamps", "--pings", "3" ];
                watchdog = "1s";
                stderr = "file:$T/quitter.err";
                $common
        },
        {
                name = "plain";
                command = [ "$VT_NOTIFY", "worker", "--stamp", "$T/plain.stamps" ];
                stderr = "file:$T/plain.err";
                $common
        },
        {
                name = "longer";
                command = [ "/bin/sh", "-c", "$VT_NOTIFY send --pid \$\$ READY=1 && $VT_NOTIFY send --pid \$\$ WATCHDOG_USEC=3000000 && while :; do sleep 1.5; echo ping >> $T/longer.pings; $VT_NOTIFY send --pid \$\$ WATCHDOG=1 || exit 1; done" ];
                watchdog = "1s";
                $common
        },
        {
                name = "together";
                command = [ "/bin/sh", "-c", "$VT_NOTIFY send --pid \$\$ 'READY=1\\\\nWATCHDOG_USEC=3000000' && while :; do sleep 1.5; echo ping >> $T/together.pings; $VT_NOTIFY send --pid \$\$ WATCHDOG=1 || exit 1; done" ];
                watchdog = "1s";
                $common
        },
        {
                name = "trigger";
                command = [ "/bin/sh", "-c", "$VT_NOTIFY send --pid \$\$ READY=1 && sleep 0.2 && $VT_NOTIFY send --pid \$\$ WATCHDOG=trigger && exec sleep 1000" ];
                watchdog = "30s";
                $common
        }
);
EOF

start_vigild "$T/vigil.conf"

# sd_watchdog_enabled() said yes, with the configured interval: WATCHDOG_PID named the worker.
wait_until '[[ -s $T/pinger.err && -s $T/quitter.err && -s $T/plain.err ]]'
assert_eq "$(cat "$T/pinger.err")" "watchdog usec=1000000" "what sd_watchdog_enabled() told the pinger"
assert_eq "$(cat "$T/quitter.err")" "watchdog usec=1000000" "what sd_watchdog_enabled() told the quitter"
assert_eq "$(cat "$T/plain.err")" "watchdog off" "what sd_watchdog_enabled() told a worker without watchdog"
pinger_pid=$(last_stamp_pid "$T/pinger.stamps")
environ() {
        tr '\0' '\n' < "/proc/$1/environ" | { grep -E '^WATCHDOG_' || true; } | sort | tr '\n' ' '
}
assert_eq "$(environ "$pinger_pid")" "WATCHDOG_PID=$pinger_pid WATCHDOG_USEC=1000000 " \
        "the pinger's watchdog environment"
plain_pid=$(last_stamp_pid "$T/plain.stamps")
assert_eq "$(environ "$plain_pid")" "" "the watchdog environment of a worker without watchdog"
wait_for_log "pinger:0: starting -> running \(READY=1\)"

# The quitter pings three times and falls silent: unresponsive, ended, classed so, restarted.
quitter_pid=$(stamp_pids "$T/quitter.stamps" | head -n 1)
wait_for_log 'quitter:0: unresponsive: no WATCHDOG=1 within 1s, stopping it'
wait_for_log "quitter:0: running -> stopping \(sent SIGTERM, unresponsive\)"
wait_for_log "quitter:0: pid $quitter_pid killed by SIGTERM.*\(unresponsive\)$"
wait_for_log 'quitter:0: [a-z]+ -> backoff \(restart 1 in '
wait_until '(( $(stamp_count "$T/quitter.stamps") >= 2 ))'
second=$(stamp_pids "$T/quitter.stamps" | sed -n 2p)
[[ $second != "$quitter_pid" ]] || fail "the quitter's restart reused pid $quitter_pid"

# Not judged early: the replacement started at least one interval after the third ping (each
# ping is stamped before it is sent).
ping3=$(awk -v p="$quitter_pid" '$1 == "ping" && $2 == p && $3 == 3 { print $4 }' "$T/quitter.stamps")
start2=$(awk -v p="$second" '$1 == "start" && $2 == p { print $4 }' "$T/quitter.stamps")
[[ -n $ping3 ]] || fail "the quitter's first run did not ping 3 times: $(cat "$T/quitter.stamps")"
((start2 - ping3 >= 1000000)) ||
        fail "the quitter was restarted $(((start2 - ping3) / 1000)) ms after its last ping, within 1s"
assert_eq "$(awk -v p="$quitter_pid" '$1 == "ping" && $2 == p' "$T/quitter.stamps" | wc -l)" 3 \
        "pings of the first quitter"

# WATCHDOG=trigger fails the worker at once (its interval is 30s).
wait_for_log 'trigger:0: unresponsive: the worker triggered its watchdog, stopping it'
wait_for_log 'trigger:0: [a-z]+ -> backoff \(restart 1 in '

# Elapsed time is what is tested here: the quitter's second silence (at least 2 more seconds),
# 12 pings of the pinger (4 intervals) and 3 pings 1.5 s apart. Meanwhile the pinger was never
# judged, and the two workers that asked for 3s (in a message of its own, or with READY=1) and
# ping every 1.5 s outlived several of the configured 1s intervals.
wait_for_log 'longer:0: watchdog interval set to 3s by the worker'
wait_until '(( $(count_log "quitter:0: unresponsive: no WATCHDOG=1") >= 2 ))' 15
wait_until '(( $(grep -c "^ping $pinger_pid " "$T/pinger.stamps") >= 12 ))' 15
wait_until '[[ -e $T/longer.pings ]] && (( $(wc -l < "$T/longer.pings") >= 3 ))' 15
assert_no_log 'pinger:0: unresponsive' "a worker that kept pinging was judged"
assert_eq "$(stamp_count "$T/pinger.stamps")" 1 "starts of the pinger"
pid_alive "$pinger_pid" || fail "the pinger (pid $pinger_pid) died"
assert_no_log 'longer:0: unresponsive' "the worker's own WATCHDOG_USEC= was not honoured"
assert_eq "$(count_log 'longer:0: [a-z]+ -> starting')" 1 "starts of the worker with its own interval"
assert_no_log 'together:0: unresponsive' "WATCHDOG_USEC= sent with READY=1 was not honoured"
assert_eq "$(count_log 'together:0: [a-z]+ -> starting')" 1 \
        "starts of the worker that set its interval with READY=1"
assert_no_log 'plain:0: unresponsive'

stop_vigild
exit 0
