#!/bin/bash
# As systemd does on stop (KillMode=control-group), SIGTERM reaches vigild and all its workers
# in the same instant. Worker ends that vigild may see before its own SIGTERM must still count as
# "stopped": no restart, no failure, exit 0. Four rounds, ten instances each, to give the race
# a chance; in even rounds the workers are signalled before vigild, so their deaths can reach
# vigild before its own SIGTERM does.
. "$(dirname "$0")/lib.sh"

for round in 1 2 3 4; do
        stamps=$T/stamps.$round
        write_config "$T/vigil.$round.conf" <<EOF
workers = (
        {
                name = "tw";
                command = [ "$VT_WORKER", "--stamp", "$stamps" ];
                instances = 10;
                restart = "always";
                start_secs = "50ms";
                backoff = { initial = "5ms"; max = "10ms"; factor = 2.0; reset_after = "10s"; immediate_first = true; };
        }
);
EOF
        start_vigild "$T/vigil.$round.conf"
        wait_until '(( $(count_log "tw:[0-9]+: starting -> running") >= 10 ))'
        mapfile -t pids < <(stamp_pids "$stamps")
        assert_eq "${#pids[@]}" 10 "round $round: starts before SIGTERM"
        before=$(wc -l < "$VIGILD_LOG")

        if ((round % 2)); then
                kill -TERM "$VIGILD_PID" "${pids[@]}"
        else
                kill -TERM "${pids[@]}" "$VIGILD_PID"
        fi
        wait_vigild_exit "$VIGILD_PID"
        assert_eq "$VIGILD_EXIT" 0 "round $round: vigild exit status"

        assert_eq "$(stamp_count "$stamps")" 10 "round $round: starts after SIGTERM (a restart happened)"
        after=$(tail -n +"$((before + 1))" "$VIGILD_LOG")
        if bad=$(grep -E -- '-> (backoff|starting|fatal)|\((crash|transient|resource|permanent)\)|breaker' <<< "$after"); then
                fail "round $round: a worker end was taken for a failure: $bad"
        fi
        assert_eq "$(grep -Ec 'tw:[0-9]+: pid [0-9]+ .*\(stopped\)' <<< "$after")" 10 "round $round: ends classified as stopped"
        for p in "${pids[@]}"; do
                pid_alive "$p" && fail "round $round: worker $p survived"
        done
done
exit 0
