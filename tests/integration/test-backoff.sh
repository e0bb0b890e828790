#!/bin/bash
# Backoff with full jitter, read from vigild's "restart N in DELAY (cap CAP)" lines: the caps
# double from `initial` up to `max` and stay there, every delay lies within its cap, the delays
# are jittered, the next start really waits at least the delay, and after the instance has run
# stably for reset_after the next failure starts again at restart 1 with cap `initial`.
. "$(dirname "$0")/lib.sh"

touch "$T/crash"
write_config "$T/vigil.conf" <<EOF
workers = (
        {
                name = "bo";
                command = [ "$VT_WORKER", "--stamp", "$T/stamps", "--crash-if-exists", "$T/crash" ];
                restart = "always";
                start_secs = "300ms";
                backoff = { initial = "40ms"; max = "320ms"; factor = 2.0; reset_after = "1s"; immediate_first = false; };
                breaker = { failures = 64; window = "10s"; open_for = "1s"; trial_ok = "100ms"; };
        }
);
EOF

restarts() {
        sed -nE 's/.*bo:0: [a-z]+ -> backoff \(restart ([0-9]+) in ([^(]*) \(cap ([^)]*)\)\)$/\1|\2|\3/p' "$VIGILD_LOG"
}

start_vigild "$T/vigil.conf"
wait_until '(( $(restarts | wc -l) >= 10 ))' 30
rm "$T/crash"

# Starts after the removal stay up. vigild says when one has run stably for reset_after; that
# one (the latest start) is then made to crash, and its restart must begin again at 1.
wait_for_log 'bo:0: stable, backoff level [0-9]+ reset' 15
stable=$(sed -nE 's/.*bo:0: [a-z]+ -> starting \(pid ([0-9]+)\).*/\1/p' "$VIGILD_LOG" | tail -n 1)
pid_alive "$stable" || fail "the stable instance $stable died"
kill -SEGV "$stable"
wait_for_log "bo:0: pid $stable killed by SIGSEGV"
wait_until '(( $(count_log "bo:0: [a-z]+ -> backoff \(restart 1 in ") >= 2 ))'
stop_vigild

mapfile -t lines < <(restarts)
mapfile -t starts < <(awk '$1 == "start" { print $4 }' "$T/stamps")
log "restarts (n|delay|cap): ${lines[*]}"
n_before=$((${#lines[@]} - 1))
((n_before >= 10)) || fail "only $n_before restarts before the reset"

declare -A seen_at_max=()
jittered=0
for ((i = 0; i < n_before; i++)); do
        IFS='|' read -r n delay cap <<< "${lines[i]}"
        assert_eq "$n" "$((i + 1))" "restart counter of restart line $((i + 1))"
        delay_us=$(dur_us "$delay")
        cap_us=$(dur_us "$cap")
        expect_cap=$((40000 << i))
        ((expect_cap > 320000)) && expect_cap=320000
        assert_eq "$cap_us" "$expect_cap" "cap (usec) of restart $n"
        ((delay_us <= cap_us)) || fail "restart $n: delay $delay exceeds its cap $cap"
        ((delay_us < cap_us)) && jittered=$((jittered + 1))
        ((cap_us == 320000)) && seen_at_max[$delay_us]=1
        # Start i+1 ended in this restart; start i+2 must come at least the delay later (the
        # delay is printed rounded, so allow 1 ms).
        if ((i + 1 < ${#starts[@]})); then
                gap=$((starts[i + 1] - starts[i]))
                ((gap + 1000 >= delay_us)) || fail "restart $n came ${gap}us after the previous start, before its delay $delay"
        fi
done
((${#seen_at_max[@]} >= 2)) || fail "the delays at the cap are all equal (${!seen_at_max[*]} us): no jitter"
((jittered >= n_before / 2)) || fail "only $jittered of $n_before delays fell below their cap: not full jitter"

IFS='|' read -r n delay cap <<< "${lines[n_before]}"
assert_eq "$n" 1 "restart counter after running stably for reset_after"
assert_eq "$(dur_us "$cap")" 40000 "cap after the reset"
exit 0
