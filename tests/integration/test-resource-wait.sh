#!/bin/bash
# Fork failing with EAGAIN (injected by the test hooks) is a resource wait: retried after
# resource_retry, three times, without advancing the backoff level or the crash-loop breaker;
# then the worker starts, and its first real crash is restart 1.
. "$(dirname "$0")/lib.sh"

need_hooks
write_config "$T/vigil.conf" <<EOF
workers = (
        {
                name = "rw";
                command = [ "$VT_WORKER", "--stamp", "$T/stamps" ];
                start_secs = "50ms";
                resource_retry = "100ms";
                backoff = { initial = "50ms"; max = "1s"; factor = 2.0; reset_after = "10s"; };
                breaker = { failures = 2; window = "1m"; open_for = "10s"; trial_ok = "100ms"; };
        }
);
EOF

VIGIL_TEST_SPAWN_FAIL=rw:EAGAIN:3 start_vigild "$T/vigil.conf"
wait_until '(( $(stamp_count "$T/stamps") >= 1 ))' 15
wait_for_log 'rw:0: starting -> running'

mapfile -t waits < <(sed -nE 's/.*rw:0: [a-z]+ -> backoff \(resource wait ([0-9]+) in .*/\1/p' "$VIGILD_LOG")
assert_eq "${waits[*]}" "1 2 3" "resource waits"
assert_no_log 'rw:0: [a-z]+ -> backoff \(restart'
assert_no_log 'rw: breaker'
assert_eq "$(stamp_count "$T/stamps")" 1 "starts"

# Neither the backoff level nor the breaker's tally moved: the first crash is restart 1, and it
# does not open a breaker that needs two failures (three would have, had the waits counted).
pid=$(last_stamp_pid "$T/stamps")
kill -SEGV "$pid"
wait_for_log "rw:0: pid $pid killed by SIGSEGV( \(core dumped\))? \(crash\)"
wait_for_log 'rw:0: [a-z]+ -> backoff \(restart 1 in '
wait_until '(( $(stamp_count "$T/stamps") >= 2 ))'
assert_no_log 'rw: breaker'

stop_vigild
exit 0
