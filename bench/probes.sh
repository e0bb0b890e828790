#!/bin/bash
# Detection latency of each probe kind: from the moment a condition starts (a disk fills, a
# listener closes, a worker stops making progress, ...) to the incident being opened
# (opened_at, vigild's own clock) and to it being committed to the store (seen by a reader
# polling every 10 ms), against what the probe's settings allow: every x fail_after, plus
# `for` where the kind needs one. One vigild per kind, BENCH_PROBE_REPS conditions each
# (started, detected, cleared, recovered); medians printed. Not part of `make check`: it
# prints figures, it asserts nothing. See bench/README.md.
#
# Run as root:  bench/probes.sh
# Environment:  BENCH_PROBE_REPS (7)  BENCH_PROBE_EVERY (200ms)  BENCH_PROBE_FAIL_AFTER (3)
#               BENCH_PROBE_KINDS ("disk file exec queue tcp http pressure progress cpu memory fds")
#               BENCH_KEEP=1 keeps the work directory
set -euo pipefail

BENCH_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
SRC_DIR=$(dirname -- "$BENCH_DIR")
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"

REPS=${BENCH_PROBE_REPS:-7}
EVERY=${BENCH_PROBE_EVERY:-200ms}
FAIL_AFTER=${BENCH_PROBE_FAIL_AFTER:-3}
read -r -a KINDS <<<"${BENCH_PROBE_KINDS:-disk file exec queue tcp http pressure progress cpu memory fds}"

[[ $EUID -eq 0 ]] || die "run as root (a tmpfs for the disk kind, cgroups)"
command -v sqlite3 >/dev/null || die "the sqlite3 shell is needed (packaging/dev-setup.sh installs it)"

WORK=$(mktemp -d /tmp/vigil-bench-probes.XXXXXX)
VIGILD_PID=""
declare -a HELPERS=()
cleanup() {
        local rc=$? p
        set +e
        [[ -n $VIGILD_PID ]] && kill -TERM "$VIGILD_PID" 2>/dev/null && wait "$VIGILD_PID" 2>/dev/null
        for p in "${HELPERS[@]}"; do
                kill -CONT "$p" 2>/dev/null
                kill -TERM "$p" 2>/dev/null
                wait "$p" 2>/dev/null
        done
        mountpoint -q "$WORK/fs" 2>/dev/null && umount "$WORK/fs"
        if [[ -n ${BENCH_KEEP:-} ]]; then log "work directory kept: $WORK"; else rm -rf -- "$WORK"; fi
        exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

every_us() { awk -v s="$EVERY" 'BEGIN { v = s + 0; if (s ~ /ms$/) v *= 1000; else if (s ~ /us$/) v *= 1; else v *= 1000000; printf "%d", v }'; }
now_us() { date +%s%6N; }

# ---------------------------------------------------------------------------------------------
# One vigild, one probe

DB=$WORK/state/incidents.db
q() { sqlite3 -readonly "$DB" "$1" 2>/dev/null || true; }

# start_vigild PROBE_TEXT WORKER_TEXT: a vigild whose only probe is PROBE_TEXT, as a host probe
# (WORKER_TEXT empty) or as the probe of the one worker WORKER_TEXT describes.
start_vigild() {
        local probe=$1 worker=${2:-}
        rm -rf "$WORK/state" "$WORK/run"
        mkdir -p "$WORK/state" "$WORK/run"
        if [[ -n $worker ]]; then
                printf 'daemon = { store_flush_interval = "100ms"; };\nworkers = ( { %s probes = ( %s ); } );\n' \
                        "$worker" "$probe" >"$WORK/vigil.conf"
        else
                printf 'daemon = { store_flush_interval = "100ms"; };\nhost_probes = ( %s );\nworkers = ();\n' \
                        "$probe" >"$WORK/vigil.conf"
        fi
        "$BUILD/vigild" --check "$WORK/vigil.conf" >/dev/null || die "vigild refuses $WORK/vigil.conf"
        VIGIL_TEST_PRESSURE_DIR=${PRESSURE:-$WORK/calm} "$BUILD/vigild" -d -c "$WORK/vigil.conf" \
                --runtime-dir "$WORK/run" --state-dir "$WORK/state" >"$WORK/vigild.log" 2>&1 &
        VIGILD_PID=$!
        wait_for 'grep -q "ready: " "$WORK/vigild.log"' 10 || die "vigild did not start: $(tail -5 "$WORK/vigild.log")"
}

stop_vigild() {
        kill -TERM "$VIGILD_PID"
        wait "$VIGILD_PID" || true
        VIGILD_PID=""
}

# wait_for CONDITION SECONDS: polls every 10 ms.
wait_for() {
        local deadline=$(($(now_us) + $2 * 1000000))
        while ! eval "$1"; do
                (($(now_us) < deadline)) || return 1
                sleep 0.01
        done
}

declare -A RES=()
# measure KIND NAME TRIGGER CLEAR [ONSET_DELAY_US]: REPS times: let the probe see the condition
# absent for a while, start it (TRIGGER; the condition starts ONSET_DELAY_US after it, for a
# file that becomes too old), wait for the incident to be committed, clear it (CLEAR) and wait
# for its resolution. Records the median latencies in RES.
measure() {
        local kind=$1 name=$2 trigger=$3 clear=$4 delay=${5:-0} rep t0 seen opened
        local -a det=() com=()
        for ((rep = 0; rep < REPS; rep++)); do
                # A random phase against the probe's schedule, as a real condition has.
                sleep "$(awk -v e="$(every_us)" -v r="$RANDOM" 'BEGIN { printf "%.3f", (2 * e + r % e) / 1e6 }')"
                t0=$(($(now_us) + delay))
                eval "$trigger"
                wait_for '[[ -n $(q "SELECT opened_at FROM incidents WHERE probe = '"'$name'"' AND cause = '"'probe'"' AND resolved_at IS NULL") ]]' 60 ||
                        die "$kind: no incident within 60s: $(tail -5 "$WORK/vigild.log")"
                seen=$(now_us)
                opened=$(q "SELECT opened_at FROM incidents WHERE probe = '$name' AND cause = 'probe' AND resolved_at IS NULL")
                det+=($(((opened - t0) / 1000)))
                com+=($(((seen - t0) / 1000)))
                eval "$clear"
                wait_for '[[ -z $(q "SELECT id FROM incidents WHERE probe = '"'$name'"' AND cause = '"'probe'"' AND resolved_at IS NULL") ]]' 60 ||
                        die "$kind: not resolved within 60s: $(tail -5 "$WORK/vigild.log")"
        done
        RES[$kind,detect]=$(printf '%s\n' "${det[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
        RES[$kind,commit]=$(printf '%s\n' "${com[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
        RES[$kind,all]="${det[*]}"
        log "$kind: detected after ${det[*]} ms (median ${RES[$kind,detect]}), committed ${com[*]} ms"
}

common() { printf 'every = "%s"; fail_after = %s; recover_after = 1;' "$EVERY" "$FAIL_AFTER"; }

# ---------------------------------------------------------------------------------------------
# The kinds

case_disk() {
        mkdir -p "$WORK/fs"
        mount -t tmpfs -o size=4m,mode=0755 tmpfs "$WORK/fs"
        start_vigild "{ name = \"b-disk\"; kind = \"disk\"; path = \"$WORK/fs\"; critical = \"50%\"; $(common) }"
        measure disk b-disk 'head -c 3M /dev/zero > "$WORK/fs/fill"' 'rm -f "$WORK/fs/fill"'
        stop_vigild
        umount "$WORK/fs"
}

case_file() {
        touch "$WORK/heartbeat"
        start_vigild "{ name = \"b-file\"; kind = \"file\"; path = \"$WORK/heartbeat\"; max_age = \"1s\"; $(common) }"
        # The condition starts when the file turns 1 s old: touched now, it does 1 s later.
        measure file b-file 'touch "$WORK/heartbeat"' 'touch "$WORK/heartbeat"' 1000000
        stop_vigild
}

case_exec() {
        echo 0 >"$WORK/code"
        printf '#!/bin/sh\nc=$(cat %s)\necho "bench $c"\nexit "$c"\n' "$WORK/code" >"$WORK/check"
        chmod 0755 "$WORK/check"
        start_vigild "{ name = \"b-exec\"; kind = \"exec\"; command = [ \"$WORK/check\" ]; timeout = \"150ms\"; $(common) }"
        measure exec b-exec 'echo 2 > "$WORK/code"' 'echo 0 > "$WORK/code"'
        stop_vigild
}

case_queue() {
        mkdir -p "$WORK/spool"
        start_vigild "{ name = \"b-queue\"; kind = \"queue\"; spool = \"$WORK/spool\"; critical = 10; $(common) }"
        measure queue b-queue 'touch "$WORK"/spool/{1..20}' 'rm -f "$WORK"/spool/*'
        stop_vigild
}

case_tcp() {
        "$BUILD/tests/helpers/vt-net" tcp-listen "$WORK/tcp.state" &
        HELPERS+=($!)
        local pid=$!
        wait_for '[[ -s $WORK/tcp.state ]]' 10 || die "vt-net tcp-listen did not start"
        local port
        port=$(awk '{ print $2 }' "$WORK/tcp.state")
        start_vigild "{ name = \"b-tcp\"; kind = \"tcp\"; host = \"127.0.0.1\"; port = $port; timeout = \"150ms\"; $(common) }"
        measure tcp b-tcp "kill -USR1 $pid" "kill -USR2 $pid"
        stop_vigild
}

case_http() {
        "$BUILD/tests/helpers/vt-net" http-serve "$WORK/http.state" &
        HELPERS+=($!)
        local pid=$!
        wait_for '[[ -s $WORK/http.state ]]' 10 || die "vt-net http-serve did not start"
        local port
        port=$(awk '{ print $2 }' "$WORK/http.state")
        start_vigild "{ name = \"b-http\"; kind = \"http\"; url = \"http://127.0.0.1:$port/\"; timeout = \"150ms\"; $(common) }"
        measure http b-http "kill -USR1 $pid" "kill -USR1 $pid"
        stop_vigild
}

set_pressure() {
        printf 'some avg10=%s avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n' "$1" \
                >"$PRESSURE/cpu.tmp"
        mv "$PRESSURE/cpu.tmp" "$PRESSURE/cpu"
}

case_pressure() {
        PRESSURE=$WORK/pressure
        cp -r "$WORK/calm" "$PRESSURE"
        start_vigild "{ name = \"b-pressure\"; kind = \"pressure\"; resource = \"cpu\"; critical = \"50%\"; $(common) }"
        measure pressure b-pressure 'set_pressure 95.00' 'set_pressure 0.00'
        stop_vigild
        PRESSURE=""
}

case_progress() {
        rm -f "$WORK/hold"
        start_vigild "{ name = \"b-progress\"; kind = \"progress\"; for = \"$EVERY\"; $(common) }" \
                "name = \"w\"; command = [ \"$BUILD/tests/helpers/vt-report\", \"--every\", \"50\", \"--hold\", \"$WORK/hold\" ]; notify = true; watchdog = \"5s\";"
        wait_for 'grep -q "w:0: starting -> running" "$WORK/vigild.log"' 10 || die "vt-report did not start"
        measure progress b-progress 'touch "$WORK/hold"' 'rm -f "$WORK/hold"'
        stop_vigild
}

# hog_worker MODE ARGS...: a worker entry running vt-hog MODE, its pid in $WORK/hog.pid.
hog_worker() {
        local mode=$1 args="" a
        shift
        for a in "$@"; do args+=", \"$a\""; done
        rm -f "$WORK/hog.pid" "$WORK/hog.state"
        printf 'name = "w"; command = [ "%s", "%s", "--pid-file", "%s", "--state", "%s"%s ];' \
                "$BUILD/tests/helpers/vt-hog" "$mode" "$WORK/hog.pid" "$WORK/hog.state" "$args"
}

# hog_state STATE N: waits until vt-hog has reached STATE N times in all.
hog_state() {
        wait_for "(( \$(grep -c '^$1 ' \"\$WORK/hog.state\" 2>/dev/null || true) >= $2 ))" 10 ||
                die "vt-hog never reached $1 ($2)"
}

case_cpu() {
        start_vigild "{ name = \"b-cpu\"; kind = \"cpu\"; critical = \"50%\"; $(common) }" \
                "$(hog_worker spin --idle --nice -10)"
        wait_for '[[ -s $WORK/hog.pid ]]' 10 || die "vt-hog did not start"
        HOG=$(cat "$WORK/hog.pid")
        measure cpu b-cpu 'kill -USR1 $HOG' 'kill -USR1 $HOG'
        stop_vigild
}

case_memory() {
        # Starts with 64 MiB resident: given back first, then taken (the condition) and given back.
        start_vigild "{ name = \"b-memory\"; kind = \"memory\"; critical = \"32M\"; $(common) }" \
                "$(hog_worker hold --max 64)"
        hog_state grown 1
        HOG=$(cat "$WORK/hog.pid")
        kill -USR1 "$HOG"
        hog_state freed 1
        wait_for '[[ -z $(q "SELECT id FROM incidents WHERE probe = '"'b-memory'"' AND resolved_at IS NULL") ]]' 30
        measure memory b-memory 'kill -USR1 $HOG' 'kill -USR1 $HOG'
        stop_vigild
}

case_fds() {
        start_vigild "{ name = \"b-fds\"; kind = \"fds\"; critical = 100; $(common) }" \
                "$(hog_worker fds --count 200 --interval 0)"
        hog_state opened 1
        HOG=$(cat "$WORK/hog.pid")
        kill -USR1 "$HOG"
        hog_state closed 1
        wait_for '[[ -z $(q "SELECT id FROM incidents WHERE probe = '"'b-fds'"' AND resolved_at IS NULL") ]]' 30
        measure fds b-fds 'kill -USR1 $HOG' 'kill -USR1 $HOG'
        stop_vigild
}

# ---------------------------------------------------------------------------------------------

main() {
        local k
        log "building vigild and the test helpers from a copy of $SRC_DIR"
        build_tree "$WORK/build" "--enable-test-hooks" vigild tests/helpers/vt-net tests/helpers/vt-report \
                tests/helpers/vt-worker tests/helpers/vt-hog
        BUILD=$WORK/build
        mkdir -p "$WORK/calm"
        for k in cpu memory io; do
                printf 'some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n' \
                        >"$WORK/calm/$k"
        done
        PRESSURE=""
        for k in "${KINDS[@]}"; do
                if declare -F "case_$k" >/dev/null; then
                        log "kind $k"
                        "case_$k"
                else
                        log "kind $k: no case in this version of the benchmark, skipped"
                fi
        done

        local e_ms bound
        e_ms=$(($(every_us) / 1000))
        echo
        echo "probe detection latency: median of $REPS, every = $EVERY, fail_after = $FAIL_AFTER" \
                "($(nproc) cores, $(uname -r))"
        printf '%-9s %12s %14s %16s %9s  %s\n' kind "bound (ms)" "detected (ms)" "committed (ms)" "det/bound" "all detections (ms)"
        for k in "${KINDS[@]}"; do
                [[ -n ${RES[$k,detect]:-} ]] || continue
                # every x fail_after; the progress case also has for = every.
                bound=$((e_ms * FAIL_AFTER))
                [[ $k != progress ]] || bound=$((bound + e_ms))
                printf '%-9s %12s %14s %16s %9s  %s\n' "$k" "$bound" "${RES[$k,detect]}" "${RES[$k,commit]}" \
                        "$(awk -v a="${RES[$k,detect]}" -v b="$bound" 'BEGIN { printf "%.2fx", a / b }')" "${RES[$k,all]}"
        done
}

main "$@"
