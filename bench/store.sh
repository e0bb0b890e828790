#!/bin/bash
# The incident store's benchmark: events recorded per second through the store module with
# grouped commits (synchronous=NORMAL and FULL); vigilctl incidents and stats on a store of a
# million events; and restart latency under a real storm (all 1000 workers of vigild killed at
# once) with the store on and off (the test hook VIGIL_TEST_STORE_OFF), checking that every
# crash of the storms with the store on has its event. Prints medians; not part of make check.
#
# Usage: bench/store.sh   (as root, from anywhere; builds a clean copy of the tree with test hooks)
# Environment: BENCH_STORE_RUNS (5) runs per timed figure; BENCH_STORE_EVENTS (200000) events
#              per rate run; BENCH_STORE_BIG (1000000) events in the large store;
#              BENCH_STORE_STORMS (5) storms per mode; BENCH_KEEP=1 keeps the work directory.
set -euo pipefail

BENCH_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
SRC_DIR=$(dirname -- "$BENCH_DIR")
RUNS=${BENCH_STORE_RUNS:-5}
EVENTS=${BENCH_STORE_EVENTS:-200000}
BIG=${BENCH_STORE_BIG:-1000000}
STORMS=${BENCH_STORE_STORMS:-5}   # 0 skips the storm part
N=1000

# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"

[[ $(id -u) == 0 ]] || die "run as root (cgroups, 1000 workers)"
WORK=$(mktemp -d /tmp/vigil-store-bench.XXXXXX)
MOUNT=$(cgroup2_mount)
[[ -n $MOUNT ]] || die "no cgroup2 mount in /proc/self/mountinfo"
CG=$MOUNT/vigil-store-bench.$$
mkdir "$CG"
VIGILD_PID=""

cleanup() {
        local rc=$?
        set +e
        kill_cgroup "$CG"
        if [[ -n ${BENCH_KEEP:-} ]]; then log "work directory kept: $WORK"; else rm -rf -- "$WORK"; fi
        exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
now_ns() { date +%s%N; }

# ---- build
build_tree "$WORK/build" --enable-test-hooks vigild vigilctl/vigilctl bench/store-bench
B=$WORK/build
build_workload "$WORK/bin"

# ---- 1. events per second through the store module
declare -A RATE
for sync in normal full; do
        for ((i = 0; i < RUNS; i++)); do
                rm -f "$WORK/rate.db"*
                "$B/bench/store-bench" rate "$WORK/rate.db" "$EVENTS" "$sync" | awk '{ print $6 }'
        done > "$WORK/rate-$sync"
        RATE[$sync]=$(median < "$WORK/rate-$sync")
        log "rate ($sync): median ${RATE[$sync]} events/s over $RUNS runs of $EVENTS"
done

# ---- 2. vigilctl on a store of a million events
log "filling a store with $BIG events"
"$B/bench/store-bench" fill "$WORK/big.db" "$BIG" 20000 >&2
big_incidents=$(sqlite3 -readonly "$WORK/big.db" "SELECT count(*) FROM incidents")
declare -A CTL
time_ctl() {
        local name=$1 i t0 t1
        shift
        for ((i = 0; i < RUNS; i++)); do
                t0=$(now_ns)
                "$B/vigilctl/vigilctl" --db "$WORK/big.db" "$@" > /dev/null
                t1=$(now_ns)
                echo "$(((t1 - t0) / 1000))"
        done | median | awk '{ printf "%.1f", $1 / 1000 }'
}
CTL[incidents]=$(time_ctl incidents incidents)
CTL[incidents_open]=$(time_ctl incidents_open incidents --open)
CTL[incidents_limit]=$(time_ctl incidents_limit incidents --limit 50)
CTL[stats]=$(time_ctl stats stats)
CTL[stats_day]=$(time_ctl stats_day stats --since 24h)
log "vigilctl on $BIG events ($big_incidents incidents): incidents ${CTL[incidents]} ms, stats ${CTL[stats]} ms"

# ---- 3. a real storm, store on and off
storm_part() {
write_vigild_config "$WORK/vigil.conf" "$WORK/bin/stamp-worker" "$WORK/stamps" "$N" auto
mkdir -p "$WORK/run" "$WORK/state"
ulimit -n "$(ulimit -Hn)"

run_storm() {
        local mode=$1 leaf=$CG/$mode out
        : > "$WORK/stamps"
        mkdir -p "$leaf"
        (
                echo "$BASHPID" > "$leaf/cgroup.procs"
                [[ $mode == off ]] && export VIGIL_TEST_STORE_OFF=1
                exec "$B/vigild" -d -c "$WORK/vigil.conf" --runtime-dir "$WORK/run" --state-dir "$WORK/state"
        ) >> "$WORK/vigild-$mode.log" 2>&1 &
        VIGILD_PID=$!
        "$WORK/bin/bench-tool" alive "$WORK/stamps" "$leaf" "$WORK/bin/stamp-worker" $N 120
        out=$("$WORK/bin/bench-tool" storm "$WORK/stamps" "$leaf" "$WORK/bin/stamp-worker" $N 1200 120)
        kill -TERM "$VIGILD_PID"
        wait "$VIGILD_PID" || true
        VIGILD_PID=""
        echo "$out"
}

rm -f "$WORK/state/incidents.db"*
: > "$WORK/storm-on"
: > "$WORK/storm-off"
for ((i = 0; i < STORMS; i++)); do
        for mode in on off; do
                run_storm "$mode" >> "$WORK/storm-$mode"
                log "storm $((i + 1)) store $mode: $(tail -n 1 "$WORK/storm-$mode")"
        done
done
recorded=$(sqlite3 -readonly "$WORK/state/incidents.db" "SELECT count(*) FROM events WHERE kind = 'crash'")
for mode in on off; do
        STORM[$mode,p50]=$(awk '{ print $1 }' "$WORK/storm-$mode" | median)
        STORM[$mode,p99]=$(awk '{ print $3 }' "$WORK/storm-$mode" | median)
        STORM[$mode,max]=$(awk '{ print $4 }' "$WORK/storm-$mode" | median)
done

}
declare -A STORM
recorded=0
((STORMS == 0)) || storm_part

# ---- the table
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }
verdict() { awk -v v="$1" -v t="$2" -v dir="$3" 'BEGIN { ok = (dir == "min") ? (v >= t) : (v <= t); print ok ? "PASS" : "MISS" }'; }
{
        echo "vigil incident store benchmark  $(date -u '+%F %T') UTC  kernel $(uname -r)  $(nproc) CPUs"
        echo "medians of $RUNS runs (storms: $STORMS per mode, $N workers killed at once)"
        echo
        printf '%-46s %s\n' "events recorded/s, synchronous=NORMAL" "${RATE[normal]} $(verdict "${RATE[normal]}" 50000 min) (target >= 50000)"
        printf '%-46s %s\n' "events recorded/s, synchronous=FULL" "${RATE[full]} ($(ratio "${RATE[full]}" "${RATE[normal]}") of NORMAL)"
        printf '%-46s %s\n' "vigilctl incidents, $BIG events ($big_incidents incidents)" "${CTL[incidents]} ms $(verdict "${CTL[incidents]}" 100 max) (target < 100 ms)"
        printf '%-46s %s\n' "vigilctl incidents --open" "${CTL[incidents_open]} ms"
        printf '%-46s %s\n' "vigilctl incidents --limit 50" "${CTL[incidents_limit]} ms"
        printf '%-46s %s\n' "vigilctl stats, $BIG events" "${CTL[stats]} ms $(verdict "${CTL[stats]}" 100 max) (target < 100 ms)"
        printf '%-46s %s\n' "vigilctl stats --since 24h" "${CTL[stats_day]} ms"
        ((STORMS > 0)) || exit 0
        printf '%-46s %s\n' "storm restart p50, store on / off (ms)" "${STORM[on,p50]} / ${STORM[off,p50]} ($(ratio "${STORM[on,p50]}" "${STORM[off,p50]}"))"
        printf '%-46s %s\n' "storm restart p99, store on / off (ms)" "${STORM[on,p99]} / ${STORM[off,p99]} ($(ratio "${STORM[on,p99]}" "${STORM[off,p99]}")) $(verdict "$(awk -v a="${STORM[on,p99]}" -v b="${STORM[off,p99]}" 'BEGIN { print a / b }')" 1.10 max) (target within 10%)"
        printf '%-46s %s\n' "storm restart max, store on / off (ms)" "${STORM[on,max]} / ${STORM[off,max]}"
        printf '%-46s %s\n' "crash events recorded (store on)" "$recorded of $((STORMS * N)) $([[ $recorded == $((STORMS * N)) ]] && echo PASS || echo MISS)"
} | tee "${BENCH_OUT:-/dev/null}"
