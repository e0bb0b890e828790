#!/bin/bash
# A worker that dies of SIGSEGV is classified as a crash and restarted with backoff, each time
# as a new process, again and again.
. "$(dirname "$0")/lib.sh"

write_config "$T/vigil.conf" <<EOF
workers = (
        {
                name = "crasher";
                command = [ "$VT_WORKER", "--stamp", "$T/stamps", "--crash", "SEGV", "--after", "50" ];
                restart = "on-failure";
                start_secs = "10ms";
                backoff = { initial = "10ms"; max = "100ms"; factor = 2.0; reset_after = "10s"; };
                breaker = { failures = 64; window = "10s"; open_for = "1s"; trial_ok = "100ms"; };
        }
);
EOF

start_vigild "$T/vigil.conf"
wait_until '(( $(stamp_count "$T/stamps") >= 4 ))' 20

mapfile -t pids < <(stamp_pids "$T/stamps")
dups=$(printf '%s\n' "${pids[@]}" | sort | uniq -d)
[[ -z $dups ]] || fail "a restart reused the pid of an earlier start: $dups"
[[ -z $(awk '$1 == "start" && $3 != "0"' "$T/stamps") ]] || fail "a start was not instance 0: $(cat "$T/stamps")"

# The first three ends were each seen as a crash and followed by restart 1, 2, 3.
for i in 0 1 2; do
        wait_for_log "crasher:0: pid ${pids[i]} killed by SIGSEGV( \(core dumped\))? \(crash\)"
        wait_for_log "crasher:0: [a-z]+ -> backoff \(restart $((i + 1)) in "
done
assert_no_log 'crasher:0: [a-z]+ -> (fatal|completed)'

stop_vigild
for p in "${pids[@]}"; do
        pid_alive "$p" && fail "worker pid $p still alive after vigild stopped"
done
exit 0
