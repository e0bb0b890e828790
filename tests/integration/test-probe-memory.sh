#!/bin/bash
# The memory probe against real processes (vt-hog), each instance in its cgroup, sampling every
# 200ms. Leak detection over a 4s window: a steady leak (1 MiB every 100ms) opens a "probe"
# incident of severity MEDIUM (WARNING) within the window, with the slope and the projection to
# the limit in its message and details; a sawtooth that falls back to its baseline and a step
# to a new plateau, under the same probe, open none however often the window is covered. An
# absolute threshold: 64 MiB resident against critical = "48M" is CRITICAL (HIGH), resolved
# once the helper gives the memory back.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 > /dev/null || skip "the sqlite3 shell is not installed"
VT_HOG=${VT_HOG:-$(dirname "$VT_WORKER")/vt-hog}
[[ -x $VT_HOG ]] || { echo "no vt-hog at $VT_HOG" >&2; exit 99; }

DB=$T/state/incidents.db
q() { sqlite3 "$DB" "$1"; }
open_count() { q "SELECT count(*) FROM incidents WHERE worker = '$1' AND probe = '$2' AND state <> 'resolved'" 2> /dev/null; }
# Samples the probe has taken, from vigild's debug lines.
samples() { count_log "$1:0/$2: sample: "; }

LEAK_PROBE='{ name = "leak"; kind = "memory"; every = "200ms"; leak_window = "4s"; limit = "10G"; }'
worker() {
        cat <<EOF
        { name = "$1"; command = [ "$VT_HOG", $2, "--state", "$T/$1.state", "--pid-file", "$T/$1.pid" ];
          probes = ( $3 ); }
EOF
}

write_config "$T/vigil.conf" <<EOF
daemon = { store_flush_interval = "100ms"; };
workers = (
$(worker leaker '"leak", "--step", "1024", "--interval", "100", "--max", "160"' "$LEAK_PROBE"),
$(worker saw '"sawtooth", "--step", "1024", "--interval", "100", "--max", "10"' "$LEAK_PROBE"),
$(worker step '"step", "--after", "5000", "--max", "40"' "$LEAK_PROBE"),
$(worker hold '"hold", "--max", "64"' '{ name = "rss"; kind = "memory"; every = "200ms"; critical = "48M";
                                          recover_after = 2; }')
);
EOF
start_vigild "$T/vigil.conf" -v
wait_for_log 'ready: 4 instances of 4 workers'
for w in leaker saw step hold; do
        wait_until "[[ -s $T/$w.pid ]]"
        assert_eq "$(sed -n 's/^0:://p' "/proc/$(cat "$T/$w.pid")/cgroup" | grep -c "/$w")" 1 "$w runs in its own cgroup"
done

# The leak: found within the window (4s, once the samples cover 80% of it) and the
# consecutive bad samples that fail_after asks for; 2s to spare for a loaded machine.
wait_for_log 'leaker:0/leak: fired, warning: rss [0-9.]+M of 10G limit \([0-9.]+%\) in 1 process; leaking [0-9.]+M/min, limit \(10G\) reached in ~' 12
wait_until '[[ $(open_count leaker leak) == 1 ]]' 5
assert_eq "$(q "SELECT cause, severity, category, json_extract(details, '$.status'),
                json_extract(details, '$.leak.slope_per_min') > 300 * 1048576,
                json_extract(details, '$.leak.slope_per_min') < 900 * 1048576,
                json_extract(details, '$.leak.projected_sec') > 60,
                json_extract(details, '$.leak_limit'), json_extract(details, '$.measure')
                FROM incidents WHERE worker = 'leaker' AND probe = 'leak'")" \
        "probe|1|resource|warning|1|1|1|10737418240|rss" "the leak incident: WARNING, slope about 600M/min, projected"
# Fired before its samples could have covered the window twice over.
(($(samples leaker leak) <= 2 * 20 + 10)) || fail "the leak was found only after $(samples leaker leak) samples"

# The step happens 5s after its start; then the probe must cover the window three times (60
# samples) past it, the sawtooth as many, without a leak.
wait_until "grep -qs '^grown ' $T/step.state" 15
base=$(samples step leak)
wait_until "(( \$(samples step leak) >= $base + 60 && \$(samples saw leak) >= 80 ))" 40
vigild_up
assert_eq "$(q "SELECT count(*) FROM incidents WHERE worker IN ('saw', 'step')")" 0 "no incident for the sawtooth or the step"
assert_no_log '(saw|step):0/leak: (fired|now)' "the sawtooth or the step was called a leak"
assert_no_log '(saw|step):0/leak: sample: (unknown|warning|critical)' "a bad or unknown sample of the sawtooth or the step"
(($(count_log '^fell ' "$T/saw.state") >= 3)) || fail "the sawtooth fell back only $(count_log '^fell ' "$T/saw.state") times"

# The absolute threshold: 64M resident is past 48M.
wait_for_log 'hold:0/rss: fired, critical: rss 6[0-9.]+M in 1 process' 10
wait_until '[[ $(open_count hold rss) == 1 ]]' 5
assert_eq "$(q "SELECT severity, json_extract(details, '$.threshold'), json_extract(details, '$.bytes') > 60 * 1048576
                FROM incidents WHERE worker = 'hold'")" "2|50331648|1" "the threshold incident: CRITICAL, with the reading"
kill -USR1 "$(cat "$T/hold.pid")"
wait_until "grep -qs '^freed ' $T/hold.state"
wait_for_log 'hold:0/rss: recovered: rss [0-9.]+[KM] in 1 process' 10
wait_until '[[ $(open_count hold rss) == 0 ]]' 5
assert_eq "$(q "SELECT resolution, resolution_note LIKE 'auto: probe recovered: rss %' FROM incidents WHERE worker = 'hold'")" \
        "auto|1" "resolved when the memory was given back"

stop_vigild
assert_eq "$(q "SELECT count(*) FROM incidents WHERE cause <> 'probe' OR probe NOT IN ('leak', 'rss')")" 0 "no other incident"
