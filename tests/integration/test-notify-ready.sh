#!/bin/bash
# notify = true: "running" begins at the worker's READY=1, not at start_secs. A worker that
# sends READY=1 after a delay stays "starting" until then and its transition says READY=1; a
# worker that never sends it never becomes running: after start_timeout it is stopped as
# unresponsive, its end is classed "unresponsive" and it is restarted with backoff.
. "$(dirname "$0")/lib.sh"

VT_NOTIFY=${VT_NOTIFY:-$(dirname "$VT_WORKER")/vt-notify}
[[ -x $VT_NOTIFY ]] || { echo "no vt-notify at $VT_NOTIFY" >&2; exit 99; }

# start_secs is short on purpose: were it used for notify workers, both would be running
# within 50 ms of their start.
write_config "$T/vigil.conf" <<EOF
workers = (
        {
                name = "ready";
                command = [ "$VT_NOTIFY", "worker", "--stamp", "$T/ready.stamps", "--ready-after", "3000" ];
                notify = true;
                start_secs = "50ms";
                start_timeout = "20s";
        },
        {
                name = "silent";
                command = [ "$VT_NOTIFY", "worker", "--stamp", "$T/silent.stamps", "--no-ready" ];
                notify = true;
                start_secs = "50ms";
                start_timeout = "1s";
                stop_timeout = "2s";
                backoff = { initial = "100ms"; max = "200ms"; factor = 2.0; reset_after = "20s"; };
                breaker = { failures = 64; window = "10s"; open_for = "1s"; trial_ok = "100ms"; };
        }
);
EOF

start_vigild "$T/vigil.conf"

# The READY worker: 500 ms into its start, well past start_secs and seconds before it sends
# READY=1, it is still starting.
wait_until '(( $(stamp_count "$T/ready.stamps") == 1 ))'
ready_pid=$(last_stamp_pid "$T/ready.stamps")
wait_for_log "ready:0: stopped -> starting \(pid $ready_pid\)"
wait_ms 500
grep -q '^ready ' "$T/ready.stamps" &&
        skip "the host is too slow: 500 ms took longer than the worker's 3000 ms before READY=1"
assert_no_log 'ready:0: [a-z]+ -> running' "the notify worker was running before it sent READY=1"

wait_for_log 'ready:0: starting -> running \(READY=1\)$' 15
grep -q "^ready $ready_pid " "$T/ready.stamps" || fail "running, but the worker has not sent READY=1 yet"
assert_eq "$(count_log 'ready:0: [a-z]+ -> running')" 1 "running transitions of the READY worker"
pid_alive "$ready_pid" || fail "the READY worker (pid $ready_pid) died"

# The silent worker: never running; unresponsive after start_timeout, stopped, its end classed
# "unresponsive", restarted with backoff as a new process that again never becomes running.
wait_for_log 'silent:0: unresponsive: no READY=1 within 1s, stopping it'
silent_pid=$(stamp_pids "$T/silent.stamps" | head -n 1)
wait_for_log "silent:0: starting -> stopping \(sent SIGTERM, unresponsive\)"
wait_for_log "silent:0: pid $silent_pid killed by SIGTERM after no READY=1 within start_timeout \
\(unresponsive\)$"
wait_for_log 'silent:0: [a-z]+ -> backoff \(restart 1 in '
wait_until '(( $(stamp_count "$T/silent.stamps") >= 2 ))'
[[ $(stamp_pids "$T/silent.stamps" | sed -n 2p) != "$silent_pid" ]] ||
        fail "the restart reused pid $silent_pid"
wait_for_log 'silent:0: [a-z]+ -> backoff \(restart 2 in '
assert_no_log 'silent:0: [a-z]+ -> running' "a worker that never sent READY=1 became running"
assert_no_log 'silent:0: [a-z]+ -> (fatal|completed)'

# The READY worker was left alone meanwhile.
assert_eq "$(stamp_count "$T/ready.stamps")" 1 "starts of the READY worker"
assert_no_log 'ready:0: unresponsive'

stop_vigild
exit 0
