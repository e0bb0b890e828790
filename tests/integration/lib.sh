# shellcheck shell=bash
# Sourced by every integration scenario; the harness runs the scenario with bash inside its own
# cgroup subtree ($SCENARIO_CGROUP) and checks afterwards that nothing was left behind.
#
# Gives each scenario a private temp dir $T, starts vigild in a cgroup leaf of its own under the
# scenario, waits for conditions (log lines, shell conditions) with deadlines, and on exit stops
# any vigild still running, by pid only: SIGTERM, a deadline, then SIGKILL.
# Every wait here polls a condition every 20 ms under a deadline; nothing sleeps in its place.

set -euo pipefail

if [[ -z ${SCENARIO_CGROUP:-} ]]; then
        echo "lib.sh: SCENARIO_CGROUP is not set; run scenarios through tests/integration/harness" >&2
        exit 99
fi
for _v in VIGILD VT_WORKER; do
        if [[ -z ${!_v:-} ]]; then
                echo "lib.sh: $_v is not set (it comes from AM_TESTS_ENVIRONMENT)" >&2
                exit 99
        fi
done
unset _v

SCENARIO=$(basename "$0" .sh)
T=$(mktemp -d "${TMPDIR:-/tmp}/vigil-$SCENARIO.XXXXXX")
VIGILD_N=0           # vigilds started so far
VIGILD_PID=          # the most recently started vigild
VIGILD_LEAF=         # its cgroup leaf
VIGILD_LOG=$T/vigild.log
VIGILD_EXIT=         # exit status collected by stop_vigild / wait_vigild_exit
VIGILD_PREFIX=()     # command run before vigild, e.g. (prlimit --nofile=1024:524288)
declare -A VIGILD_RUNNING=()   # pid -> log, for vigilds not yet reaped
_FAILED=

# The scenario's cgroup relative to the cgroup2 mount, as /proc/PID/cgroup shows it: the
# script runs in its "script" leaf.
SCENARIO_REL=$(sed -n 's/^0:://p' /proc/$$/cgroup)
SCENARIO_REL=${SCENARIO_REL%/script}

log() {
        echo "[$SCENARIO] $*" >&2
}

# ---------------------------------------------------------------------------------------
# Time and processes

# Sets NOW_MS to wall-clock milliseconds, without forking.
_now() {
        local t=${EPOCHREALTIME//[!0-9]/}
        NOW_MS=$((10#$t / 1000))
}

# Whether PID names a live process; a zombie counts as dead.
pid_alive() {
        local stat
        { read -r stat < "/proc/$1/stat"; } 2>/dev/null || return 1
        stat=${stat##*) }
        [[ ${stat%% *} != [ZX] ]]
}

# Prints the state letter of PID, or "gone".
pid_state() {
        local stat
        { read -r stat < "/proc/$1/stat"; } 2>/dev/null || { echo gone; return 0; }
        stat=${stat##*) }
        echo "${stat%% *}"
}

# Prints the cgroup v2 path of PID ("0::" line), or nothing if it is gone.
pid_cgroup() {
        sed -n 's/^0:://p' "/proc/$1/cgroup" 2>/dev/null || true
}

# Whether the cgroup at the given absolute path (or any cgroup below it) holds a process.
cgroup_populated() {
        grep -qx 'populated 1' "$1/cgroup.events"
}

# Every pid in the cgroup subtree at the given path, one per line.
cgroup_pids() {
        find "$1" -name cgroup.procs -exec cat {} + 2>/dev/null || true
}

# Converts a duration as vigild prints it ("312ms", "1s", "1.5s", "2s 500ms", "80us", "0") to
# microseconds.
dur_us() {
        awk -v s="$1" 'BEGIN {
                total = 0; n = 0; rest = s
                while (match(rest, /^ *[0-9]+(\.[0-9]+)?[a-zA-Z]*/)) {
                        tok = substr(rest, RSTART, RLENGTH)
                        rest = substr(rest, RSTART + RLENGTH)
                        gsub(/ /, "", tok)
                        match(tok, /^[0-9]+(\.[0-9]+)?/)
                        num = substr(tok, 1, RLENGTH); unit = substr(tok, RLENGTH + 1)
                        if (unit == "us" || unit == "usec") m = 1
                        else if (unit == "ms" || unit == "msec") m = 1000
                        else if (unit == "s" || unit == "sec" || (unit == "" && num == 0)) m = 1000000
                        else if (unit == "min" || unit == "m") m = 60000000
                        else if (unit == "h") m = 3600000000
                        else { print "dur_us: unknown unit in \"" s "\"" > "/dev/stderr"; exit 1 }
                        total += num * m; n++
                }
                if (n == 0 || rest !~ /^ *$/) { print "dur_us: cannot parse \"" s "\"" > "/dev/stderr"; exit 1 }
                printf "%.0f\n", total
        }'
}

# ---------------------------------------------------------------------------------------
# Failing and asserting

_show_logs() {
        local f
        for f in "$T"/vigild*.log; do
                [[ -e $f ]] || continue
                echo "----- last 60 lines of ${f##*/} -----" >&2
                tail -n 60 "$f" >&2
        done
        echo "-----" >&2
}

# Prints MSG and the tail of every vigild log, and fails the scenario.
fail() {
        echo "FAIL [$SCENARIO]: $*" >&2
        _FAILED=1
        _show_logs
        exit 1
}

# Skips the scenario (exit 77) with a reason.
skip() {
        echo "SKIP [$SCENARIO]: $*" >&2
        exit 77
}

assert_eq() {
        [[ $1 == "$2" ]] || fail "${3:-values differ}: expected '$2', got '$1'"
}

# assert_log REGEX [MSG]: some line of the vigild log matches.
assert_log() {
        grep -Eq -- "$1" "$VIGILD_LOG" || fail "${2:-no log line matches} /$1/"
}

# assert_no_log REGEX [MSG]: no line of the vigild log matches.
assert_no_log() {
        local hit
        if hit=$(grep -E -m 3 -- "$1" "$VIGILD_LOG"); then
                fail "${2:-unexpected log line} /$1/: $hit"
        fi
}

# ---------------------------------------------------------------------------------------
# Waiting for conditions

# wait_until 'SHELL CONDITION' [TIMEOUT_S]: evaluates the condition every 20 ms until it holds.
wait_until() {
        local cond=$1 timeout=${2:-10} deadline
        _now
        deadline=$((NOW_MS + timeout * 1000))
        until eval "$cond"; do
                _now
                ((NOW_MS < deadline)) || fail "timed out after ${timeout}s waiting for: $cond"
                sleep 0.02
        done
}

# vigild_up: true while the most recent vigild runs; fails the scenario once it has exited. For
# wait_until conditions that only vigild can make true.
vigild_up() {
        pid_alive "$VIGILD_PID" || fail "vigild (pid $VIGILD_PID) exited"
}

# wait_ms MS: waits until MS milliseconds have passed. Only for scenarios where elapsed time is
# itself the condition under test (an instance must have run stably for reset_after).
wait_ms() {
        local deadline
        _now
        deadline=$((NOW_MS + $1))
        while _now && ((NOW_MS < deadline)); do
                sleep 0.02
        done
}

# wait_for_log REGEX [TIMEOUT_S]: waits until a line of the current vigild log matches.
wait_for_log() {
        local re=$1 timeout=${2:-10} deadline
        _now
        deadline=$((NOW_MS + timeout * 1000))
        until grep -Eq -- "$re" "$VIGILD_LOG"; do
                if [[ -n $VIGILD_PID ]] && ! pid_alive "$VIGILD_PID"; then
                        grep -Eq -- "$re" "$VIGILD_LOG" && return 0
                        fail "vigild (pid $VIGILD_PID) exited while waiting for log /$re/"
                fi
                _now
                ((NOW_MS < deadline)) || fail "timed out after ${timeout}s waiting for log /$re/"
                sleep 0.02
        done
}

# count_log REGEX [LOG]: prints how many lines of the vigild log match.
count_log() {
        grep -Ec -- "$1" "${2:-$VIGILD_LOG}" || true
}

# ---------------------------------------------------------------------------------------
# Worker stamps (vt-worker --stamp FILE: "start PID INSTANCE MONOTONIC_USEC")

stamp_count() {
        if [[ -e $1 ]]; then grep -c '^start ' "$1" || true; else echo 0; fi
}

stamp_pids() {
        [[ -e $1 ]] || return 0
        awk '$1 == "start" { print $2 }' "$1"
}

last_stamp_pid() {
        stamp_pids "$1" | tail -n 1
}

# ---------------------------------------------------------------------------------------
# Config files and vigild

# The cgroup path of an absolute cgroup directory, as /proc/PID/cgroup shows it.
cgroup_rel() {
        echo "$SCENARIO_REL${1#"$SCENARIO_CGROUP"}"
}

# Config text (one element of the workers list) of a worker "canary" that crashes 20 ms after
# each start and is restarted within 20 ms, stamping $T/canary.stamps: its restarts show that
# vigild keeps supervising while a scenario waits for something NOT to happen elsewhere.
canary_conf() {
        cat <<EOF
        {
                name = "canary";
                command = [ "$VT_WORKER", "--stamp", "$T/canary.stamps", "--crash", "SEGV", "--after", "20" ];
                restart = "always";
                start_secs = "10ms";
                backoff = { initial = "5ms"; max = "20ms"; factor = 2.0; reset_after = "10s"; };
                breaker = { failures = 64; window = "1s"; open_for = "1s"; trial_ok = "100ms"; };
        }
EOF
}

# wait_canary N: waits until the canary has started N more times.
wait_canary() {
        local target=$(($(stamp_count "$T/canary.stamps") + $1))
        wait_until "(( \$(stamp_count \"\$T/canary.stamps\") >= $target ))" 20
}

# write_config FILE: writes standard input to FILE, mode 0644, owned by root.
write_config() {
        cat > "$1"
        chown root:root "$1"
        chmod 0644 "$1"
}

# Exits 77 unless vigild was built with the test hooks.
need_hooks() {
        "$VIGILD" --version 2>&1 | grep -q 'test-hooks' || skip "vigild was built without --enable-test-hooks"
}

# ensure_test_user: makes sure the unprivileged system user "vigiltest" exists, in its own group
# and in the extra group "vigiltest-extra", creating what is missing under a lock that scenarios
# running in parallel share. Skips the scenario (exit 77) where useradd is not installed.
ensure_test_user() {
        command -v useradd > /dev/null || skip "useradd is not installed"
        flock /run/vigil-test-user.lock sh -ec '
                getent group vigiltest-extra > /dev/null || groupadd --system vigiltest-extra
                if ! getent passwd vigiltest > /dev/null; then
                        useradd --system --user-group --no-create-home --home-dir / \
                                --shell /usr/sbin/nologin --groups vigiltest-extra vigiltest
                fi
                id -nG vigiltest | tr " " "\n" | grep -qx vigiltest-extra || usermod -aG vigiltest-extra vigiltest'
}

# start_vigild CONFIG [ARGS...]: starts "$VIGILD -d -c CONFIG --runtime-dir $T/run --state-dir
# $T/state ARGS" in the background, in a new cgroup leaf $SCENARIO_CGROUP/vigild-N (or in the
# existing cgroup VIGILD_CGROUP when that is set, as systemd restarts a service in its unit's
# cgroup), with stdout and stderr to $VIGILD_LOG. Sets VIGILD_PID, VIGILD_LEAF and VIGILD_LOG.
# VIGILD_PREFIX (an array) is run in front of vigild, e.g. prlimit; VIGILD_IGNORE_SIGNALS lists
# signals vigild is started with ignored. Environment assignments before the call reach vigild.
start_vigild() {
        local config=$1
        shift
        VIGILD_N=$((VIGILD_N + 1))
        VIGILD_LEAF=${VIGILD_CGROUP:-$SCENARIO_CGROUP/vigild-$VIGILD_N}
        [[ -d $VIGILD_LEAF ]] || mkdir "$VIGILD_LEAF"
        if ((VIGILD_N == 1)); then
                VIGILD_LOG=$T/vigild.log
        else
                VIGILD_LOG=$T/vigild-$VIGILD_N.log
        fi
        mkdir -p "$T/run" "$T/state"
        # Hang verdicts wait while the host is starved (/proc/pressure). A test machine under
        # load must not decide what a scenario sees: unless the scenario gives pressure files of
        # its own, vigild (with test hooks) reads a calm host's.
        if [[ -z ${VIGIL_TEST_PRESSURE_DIR:-} ]]; then
                mkdir -p "$T/calm-pressure"
                for _r in cpu memory io; do
                        printf 'some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n' \
                                > "$T/calm-pressure/$_r"
                done
                export VIGIL_TEST_PRESSURE_DIR=$T/calm-pressure
        fi
        # shellcheck disable=SC2016
        sh -c 'leaf=$1 ignore=$2; shift 2
               if [ -n "$ignore" ]; then trap "" $ignore; fi
               echo $$ > "$leaf/cgroup.procs" && exec "$@"' \
                sh "$VIGILD_LEAF" "${VIGILD_IGNORE_SIGNALS:-}" "${VIGILD_PREFIX[@]}" \
                "$VIGILD" -d -c "$config" --runtime-dir "$T/run" --state-dir "$T/state" "$@" \
                > "$VIGILD_LOG" 2>&1 &
        VIGILD_PID=$!
        VIGILD_RUNNING[$VIGILD_PID]=$VIGILD_LOG
        log "started vigild pid $VIGILD_PID in ${VIGILD_LEAF#"$SCENARIO_CGROUP"/}, log ${VIGILD_LOG##*/}"
}

# wait_vigild_exit PID [TIMEOUT_S]: waits for a vigild started by start_vigild to exit and
# collects its exit status into VIGILD_EXIT (128+N when killed by signal N).
wait_vigild_exit() {
        local pid=$1 timeout=${2:-30}
        wait_until "! pid_alive $pid" "$timeout"
        VIGILD_EXIT=0
        wait "$pid" || VIGILD_EXIT=$?
        unset "VIGILD_RUNNING[$pid]"
}

# stop_vigild [PID]: SIGTERM, wait for the exit, assert exit status 0.
stop_vigild() {
        local pid=${1:-$VIGILD_PID}
        kill -TERM "$pid"
        wait_vigild_exit "$pid" 30
        [[ $VIGILD_EXIT == 0 ]] || fail "vigild (pid $pid) exited with status $VIGILD_EXIT after SIGTERM, expected 0"
        log "vigild pid $pid stopped, exit status 0"
}

# Background helpers a scenario starts besides vigild (mount namespace holders, listeners), by
# pid: _cleanup ends whatever is still in here. stop_helper PID ends one earlier (SIGTERM, then
# its exit status is collected and returned).
declare -A HELPERS_RUNNING=()
stop_helper() {
        local pid=$1 status=0
        # A helper a scenario froze (SIGSTOP) would keep SIGTERM pending forever.
        kill -CONT "$pid" 2> /dev/null
        kill -TERM "$pid" 2> /dev/null
        wait "$pid" 2> /dev/null || status=$?
        unset "HELPERS_RUNNING[$pid]"
        return "$status"
}

# start_ns_holder SETUP [ARGS...]: starts a process that holds a private mount namespace in
# which the sh script SETUP ran (with set -e; ARGS are its $1...); sets NS_PID. Fails the
# scenario if SETUP failed. in_ns CMD... runs CMD in that namespace.
_NS_N=0
start_ns_holder() {
        local setup=$1 ready
        shift
        _NS_N=$((_NS_N + 1))
        ready=$T/ns-holder-$_NS_N.ready
        NS_READY=$ready unshare --mount --propagation private -- sh -c "set -e
$setup"'
: > "$NS_READY"
exec sleep 3600' sh "$@" &
        NS_PID=$!
        HELPERS_RUNNING[$NS_PID]="mount namespace holder"
        wait_until "[[ -e $ready ]] || ! pid_alive $NS_PID"
        pid_alive "$NS_PID" || fail "could not set up the mount namespace"
}
in_ns() {
        nsenter "--mount=/proc/$NS_PID/ns/mnt" -- "$@"
}

# start_notify_listener SOCKET OUT [QLEN]: starts "vt-notify listen SOCKET OUT", a stand-in for
# systemd's notify socket that records what arrives, as a helper; sets LISTENER_PID. With QLEN,
# in a network namespace of its own whose net.unix.max_dgram_qlen is QLEN whatever the host's
# (a socket bound to a path is reachable from any namespace).
start_notify_listener() {
        local sock=$1 out=$2 qlen=${3:-}
        VT_NOTIFY=${VT_NOTIFY:-$(dirname "$VT_WORKER")/vt-notify}
        [[ -x $VT_NOTIFY ]] || { echo "no vt-notify at $VT_NOTIFY" >&2; exit 99; }
        if [[ -n $qlen ]]; then
                unshare --net sh -c 'echo "$0" > /proc/sys/net/unix/max_dgram_qlen && exec "$1" listen "$2" "$3"' \
                        "$qlen" "$VT_NOTIFY" "$sock" "$out" &
        else
                "$VT_NOTIFY" listen "$sock" "$out" &
        fi
        LISTENER_PID=$!
        HELPERS_RUNNING[$LISTENER_PID]="notify listener"
        wait_until "[[ -e $out.ready ]] || ! pid_alive $LISTENER_PID"
        pid_alive "$LISTENER_PID" || fail "vt-notify listen did not start"
}

_cleanup() {
        local rc=$? pid deadline
        set +e
        trap - EXIT
        for pid in "${!VIGILD_RUNNING[@]}"; do
                if pid_alive "$pid"; then
                        log "cleanup: vigild pid $pid still running, sending SIGTERM"
                        kill -TERM "$pid"
                        _now
                        deadline=$((NOW_MS + 15000))
                        while pid_alive "$pid" && _now && ((NOW_MS < deadline)); do
                                sleep 0.02
                        done
                        if pid_alive "$pid"; then
                                log "cleanup: vigild pid $pid ignored SIGTERM for 15s, sending SIGKILL"
                                kill -KILL "$pid"
                        fi
                fi
                wait "$pid" 2>/dev/null
        done
        for pid in "${!HELPERS_RUNNING[@]}"; do
                stop_helper "$pid"
        done
        if [[ $rc != 0 && $rc != 77 && -z $_FAILED ]]; then
                echo "FAIL [$SCENARIO]: a command failed (status $rc)" >&2
                _show_logs
        fi
        if [[ -n ${VT_KEEP_TMP:-} ]]; then
                log "keeping $T"
        else
                rm -rf "$T"
        fi
        exit "$rc"
}
trap _cleanup EXIT
