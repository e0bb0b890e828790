#!/bin/bash
# vigil's supervision benchmark: the same workload (N sleeping stamp workers) under a minimal
# fork/exec/waitpid loop (the floor), vigild, runit, daemontools, s6 and supervisord, all in
# one run: a table per N, each figure with its ratio to the floor for the same N, then how
# vigild and the floors scale with N, then issue 8's targets, PASS or MISS. Not part of
# `make check`: it prints figures, it asserts nothing. See bench/README.md for what is
# measured and how.
#
# Run as root:  bench/run.sh
# Environment:  VIGILD=/path/to/vigild  use this binary instead of building the tree
#               VIGILD_BASE=/path/to/vigild  a baseline vigild (an earlier build) for the
#                                       supervisor "vigild_base", measured in the same run
#               BENCH_IDLE_SECS (60)    idle window for the CPU figure
#               BENCH_NS ("1 100 1000 3000")
#               BENCH_SUPERVISORS ("floor floor_vfork vigild runit daemontools s6 supervisord")
#               BENCH_KILLS (200) BENCH_MIN_AGE_MS (1200) BENCH_GAP_MS (20) BENCH_SEED (1)
#               BENCH_TIMEOUT_SECS (300) BENCH_SETTLE_SECS (2)
#               BENCH_ALONE ("supervisord") supervisors measured on their own, not beside the others
#               BENCH_TASK_LIMIT        a task limit this machine cannot see (say, the host's)
#               BENCH_TASK_MARGIN (256) tasks left free for everything else
#               BENCH_OUT=FILE          also write the table there
#               BENCH_KEEP=1            keep the work directory (logs, configs) for inspection
set -euo pipefail

BENCH_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
SRC_DIR=$(dirname -- "$BENCH_DIR")

IDLE_SECS=${BENCH_IDLE_SECS:-60}
KILLS=${BENCH_KILLS:-200}
read -r -a NS <<<"${BENCH_NS:-1 100 1000 3000}"
read -r -a SUPERVISORS <<<"${BENCH_SUPERVISORS:-floor floor_vfork vigild runit daemontools s6 supervisord}"
MIN_AGE_MS=${BENCH_MIN_AGE_MS:-1200}
GAP_MS=${BENCH_GAP_MS:-20}
SEED=${BENCH_SEED:-1}
TIMEOUT_SECS=${BENCH_TIMEOUT_SECS:-300}
SETTLE_SECS=${BENCH_SETTLE_SECS:-2}
# Supervisors that keep the machine busy while idle (supervisord's loop polls every second)
# are measured on their own instead of beside the others.
ALONE=${BENCH_ALONE:-supervisord}
TASK_MARGIN=${BENCH_TASK_MARGIN:-256}

# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"

[[ $EUID -eq 0 ]] || die "run as root (cgroups, package installation)"
[[ " ${SUPERVISORS[*]} " == *" floor "* ]] || die "BENCH_SUPERVISORS must include floor: every ratio is to it"

WORK=""
CG=""
POLICY_RC_CREATED=""

cleanup() {
        local rc=$?
        set +e
        [[ -n $CG ]] && kill_cgroup "$CG"
        [[ -n $POLICY_RC_CREATED ]] && rm -f /usr/sbin/policy-rc.d
        if [[ -n $WORK ]]; then
                if [[ -n ${BENCH_KEEP:-} ]]; then
                        log "work directory kept: $WORK"
                else
                        rm -rf -- "$WORK"
                fi
        fi
        exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# ---------------------------------------------------------------------------------------------
# Tools

install_missing() {
        local -a need=()
        local s
        command -v cc >/dev/null || need+=(gcc libc6-dev)
        for s in "${SUPERVISORS[@]}"; do
                case $s in
                runit) command -v runsvdir >/dev/null || need+=(runit) ;;
                daemontools) command -v svscan >/dev/null && command -v supervise >/dev/null || need+=(daemontools) ;;
                s6) command -v s6-svscan >/dev/null || need+=(s6) ;;
                supervisord) command -v supervisord >/dev/null || need+=(supervisor) ;;
                esac
        done
        ((${#need[@]})) || return 0
        log "installing ${need[*]}"
        # The packages must not start system-wide instances of themselves.
        if [[ ! -e /usr/sbin/policy-rc.d ]]; then
                printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
                chmod 755 /usr/sbin/policy-rc.d
                POLICY_RC_CREATED=1
        fi
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y --no-install-recommends "${need[@]}" >&2 ||
                { apt-get update >&2 && apt-get install -y --no-install-recommends "${need[@]}" >&2; }
        if [[ -n $POLICY_RC_CREATED ]]; then
                rm -f /usr/sbin/policy-rc.d
                POLICY_RC_CREATED=""
        fi
}

build_tools() {
        BIN=$WORK/bin
        build_workload "$BIN"
        if [[ -n ${VIGILD:-} ]]; then
                [[ -x $VIGILD ]] || die "VIGILD=$VIGILD is not executable"
        else
                build_tree "$WORK/build" "" vigild
                VIGILD=$WORK/build/vigild
        fi
        VIGILD=$(readlink -f -- "$VIGILD")
}

# ---------------------------------------------------------------------------------------------
# One configuration per supervisor: each fills CMD with the command that starts it in $RUN.

prepare_floor() {
        CMD=("$BIN/floor" "$N" "$BIN/stamp-worker" "$STAMPS")
}

# The same loop making children with vfork(), as vigild does (clone3 with CLONE_VFORK): the
# floor on equal terms. The issue's targets stay relative to the fork() floor.
prepare_floor_vfork() {
        CMD=("$BIN/floor" -v "$N" "$BIN/stamp-worker" "$STAMPS")
}

prepare_vigild() {
        vigild_config auto
}

# Not in the default set: vigild with cgroups = "off", to show what the per-instance cgroup
# costs (BENCH_SUPERVISORS="floor vigild vigild_nocg ...").
prepare_vigild_nocg() {
        vigild_config off
}

# Not in the default set: the same workload under a baseline vigild (VIGILD_BASE, an earlier
# build), so that a change can be compared with what it changed in one run
# (BENCH_SUPERVISORS="floor vigild vigild_base").
prepare_vigild_base() {
        [[ -n ${VIGILD_BASE:-} && -x $VIGILD_BASE ]] || die "vigild_base needs VIGILD_BASE=/path/to/vigild"
        vigild_config auto "$VIGILD_BASE"
}

# Not in the default set: every instance also runs cpu, memory and fds probes every
# BENCH_PROBE_EVERY (5s), thresholds it never crosses: what sampling costs vigild, and whether
# restarts stay as fast beside it (BENCH_SUPERVISORS="floor vigild vigild_probes",
# BENCH_IDLE_SECS=300 for issue 9's five minutes).
prepare_vigild_probes() {
        local every=${BENCH_PROBE_EVERY:-5s}
        vigild_config auto "" "probes = (
      { kind = \"cpu\"; every = \"$every\"; critical = \"90%\"; for = \"30s\"; },
      { kind = \"memory\"; every = \"$every\"; critical = \"1G\"; leak_window = \"10m\"; },
      { kind = \"fds\"; every = \"$every\"; critical = \"90%\"; leak_window = \"10m\"; }
    );"
}

# vigild_config CGROUPS [BINARY [EXTRA]]
vigild_config() {
        local vigild=${2:-$VIGILD}
        mkdir -m 0755 "$RUN/runtime" "$RUN/state"
        write_vigild_config "$RUN/vigil.conf" "$BIN/stamp-worker" "$STAMPS" "$N" "$1" "${3:-}"
        "$vigild" --check "$RUN/vigil.conf" >/dev/null || die "vigild refuses $RUN/vigil.conf"
        CMD=("$vigild" -d -c "$RUN/vigil.conf" --runtime-dir "$RUN/runtime" --state-dir "$RUN/state")
}

# runit, daemontools and s6 exec ./run: it is the worker itself (a symlink), which names its
# stamp file from $STAMP_FILE, exported to the supervisor and inherited. The directories are
# dated a minute back: runsvdir does not trust a directory modified within the current second
# and would wait a second before its first scan, which no real deployment (dirs made long
# before) sees. make_service_dirs DIR [FROM TO]: services wFROM .. wTO-1 (default all N).
make_service_dirs() {
        local dir=$1 from=${2:-0} to=${3:-$N} i
        mkdir "$dir"
        for ((i = from; i < to; i++)); do
                mkdir "$dir/w$i"
                ln -s "$BIN/stamp-worker" "$dir/w$i/run"
        done
        find "$dir" -exec touch -h -d '1 minute ago' {} +
}

prepare_runit() {
        make_service_dirs "$RUN/service"
        CMD=(runsvdir "$RUN/service")
}

# svscan starts one supervise per service directory, up to 1000 (its SERVICES limit; it
# warns "running too many services" and skips the rest). Above that, as a deployment would
# have to, one svscan per 1000 services, all started by one shell that then waits.
prepare_daemontools() {
        local k
        if ((N <= 1000)); then
                make_service_dirs "$RUN/service"
                CMD=(svscan "$RUN/service")
                return
        fi
        for ((k = 0; k * 1000 < N; k++)); do
                make_service_dirs "$RUN/service$k" $((k * 1000)) $((N < (k + 1) * 1000 ? N : (k + 1) * 1000))
        done
        # shellcheck disable=SC2016 # expanded by that shell
        CMD=(/bin/sh -c 'for d; do svscan "$d" & done; wait' sh "$RUN"/service[0-9]*)
}

prepare_s6() {
        make_service_dirs "$RUN/service"
        CMD=(s6-svscan -c "$((N + 16))" "$RUN/service")
}

prepare_supervisord() {
        local i
        {
                echo "[supervisord]"
                echo "nodaemon=true"
                echo "user=root"
                echo "logfile=$RUN/supervisord.log"
                echo "pidfile=$RUN/supervisord.pid"
                echo "childlogdir=$RUN"
                echo "minfds=$((4 * N + 1024))"
                for ((i = 0; i < N; i++)); do
                        echo
                        echo "[program:w$i]"
                        echo "command=$BIN/stamp-worker $STAMPS"
                        echo "autostart=true"
                        echo "autorestart=true"
                        echo "startsecs=0"
                        echo "startretries=1000000"
                        echo "stdout_logfile=NONE"
                        echo "stderr_logfile=NONE"
                done
        } >"$RUN/supervisord.conf"
        CMD=(supervisord -c "$RUN/supervisord.conf")
}

# ---------------------------------------------------------------------------------------------
# Results: R[S,N,metric]

declare -A R

# Where supervisor S keeps its files for the current N.
set_paths() {
        S=$1
        RUN=$WORK/$S-$N
        STAMPS=$RUN/stamps
        SCG=$CG/$S-$N
}

note() { R[$1,$N,note]+="$2; "; }

# Starts S in its own cgroup and measures the time until all N workers have stamped.
start_one() {
        local out
        set_paths "$1"
        mkdir "$RUN" "$SCG"
        : >"$STAMPS"
        "prepare_$S"

        log "$S N=$N: starting"
        (
                echo "$BASHPID" >"$SCG/cgroup.procs"
                ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
                export STAMP_FILE=$STAMPS
                cd "$RUN"
                exec "$BIN/bench-tool" exec "$RUN/t0" "${CMD[@]}"
        ) >"$RUN/supervisor.log" 2>&1 </dev/null &
        # Not a job of this shell: its death by cgroup.kill is expected, not worth a message.
        disown $!

        if ! out=$("$BIN/bench-tool" startup "$STAMPS" "$N" "$RUN/t0" "$TIMEOUT_SECS"); then
                local stamped last
                stamped=$(wc -l <"$STAMPS")
                last=$(tail -n 1 "$RUN/supervisor.log" | cut -c 1-120)
                log "$S N=$N: startup stalled at $stamped of $N workers; log tail:"
                tail -n 5 "$RUN/supervisor.log" >&2 || true
                note "$S" "startup stalled: $stamped of $N workers had stamped after ${TIMEOUT_SECS}s${last:+ (log: $last)}"
                R[$S,$N,failed]=1
                return 0
        fi
        R[$S,$N,startup]=$out
        log "$S N=$N: startup ${out}s"
}

# Stops the supervisors given, all at once: their processes are reaped in one wait.
stop_set() {
        local s
        local -a cgs=()
        for s in "$@"; do
                set_paths "$s"
                cgs+=("$SCG")
        done
        kill_cgroup "${cgs[@]}"
        for s in "$@"; do
                set_paths "$s"
                [[ $S == vigild* ]] || continue
                # Evidence that the benchmark measured the immediate first restart: vigild logs
                # "restart K in DELAY" with K > 1 when the backoff level had not been reset.
                R[$S,$N,delayed]=$(grep -c -E 'restart ([2-9]|[1-9][0-9]+) in|breaker closed -> open' \
                        "$RUN/supervisor.log" || true)
        done
}

# The restart test, interleaved across the supervisors given (see bench-tool restart).
restart_test() {
        local -a args=()
        local s name p50 p90 p99 max samples timeouts
        for s in "$@"; do
                set_paths "$s"
                args+=("$S" "$STAMPS" "$SCG")
        done
        log "N=$N: restart test, $KILLS rounds over: $*"
        while read -r name p50 p90 p99 max samples timeouts; do
                if [[ $p50 != - ]]; then
                        R[$name,$N,p50]=$p50 R[$name,$N,p90]=$p90 R[$name,$N,p99]=$p99 R[$name,$N,max]=$max
                fi
                ((samples == KILLS)) || note "$name" "restart test: $samples of $KILLS samples"
                ((timeouts == 0)) || note "$name" "$timeouts kill(s) not followed by a restart within ${TIMEOUT_SECS}s"
                log "$name N=$N: restart p50 ${p50}ms p90 ${p90}ms p99 ${p99}ms max ${max}ms ($samples samples)"
        done < <("$BIN/bench-tool" restart "$BIN/stamp-worker" "$N" "$KILLS" "$MIN_AGE_MS" "$GAP_MS" \
                "$TIMEOUT_SECS" "$SEED" "${args[@]}")
}

mass_test() {
        local out secs seen
        set_paths "$1"
        if out=$("$BIN/bench-tool" mass "$STAMPS" "$SCG" "$BIN/stamp-worker" "$N" "$MIN_AGE_MS" "$TIMEOUT_SECS"); then
                read -r secs seen <<<"$out"
                if [[ $secs == timeout ]]; then
                        note "$S" "mass restart: only $seen of $N back within ${TIMEOUT_SECS}s"
                else
                        R[$S,$N,mass]=$secs
                        log "$S N=$N: all $N killed, all back in ${secs}s"
                fi
        else
                note "$S" "mass restart failed"
        fi
        # Idle means idle: every worker back and the supervisor done with its restarts.
        "$BIN/bench-tool" alive "$STAMPS" "$SCG" "$BIN/stamp-worker" "$N" "$TIMEOUT_SECS" ||
                note "$S" "not all workers back after the mass restart"
}

# One idle window for all the supervisors given: each one's own processes are sampled
# before and after; memory is read at the end.
idle_test() {
        local s n_procs cpu0 sch0 cpu1 sch1 rss pss
        local -A u0=()
        log "N=$N: idle window of ${IDLE_SECS}s for: $*"
        for s in "$@"; do
                set_paths "$s"
                u0[$s]=$("$BIN/bench-tool" procs "$SCG" "$BIN/stamp-worker")
        done
        sleep "$IDLE_SECS"
        for s in "$@"; do
                set_paths "$s"
                read -r n_procs cpu0 sch0 _ _ <<<"${u0[$s]}"
                read -r _ cpu1 sch1 rss pss < <("$BIN/bench-tool" procs "$SCG" "$BIN/stamp-worker")
                R[$s,$N,cpu]=$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { printf "%.2f", b - a }')
                R[$s,$N,sched]=$(awk -v a="$sch0" -v b="$sch1" 'BEGIN { printf "%.4f", b - a }')
                R[$s,$N,rss]=$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')
                R[$s,$N,pss]=$(awk -v k="$pss" 'BEGIN { printf "%.1f", k / 1024 }')
                R[$s,$N,procs]=$n_procs
                log "$s N=$N: idle cpu ${R[$s,$N,cpu]}s (schedstat ${R[$s,$N,sched]}s);" \
                        "rss ${R[$s,$N,rss]}MiB pss ${R[$s,$N,pss]}MiB in $n_procs process(es)"
        done
}

# Runs every test for a set of supervisors that share the machine: each is started (and timed)
# while the ones before it sit idle, the restart test interleaves them, the mass restarts
# run one supervisor at a time, and one idle window serves them all.
run_set() {
        local s
        local -a up=()
        for s in "$@"; do
                start_one "$s"
                [[ -n ${R[$s,$N,failed]:-} ]] || up+=("$s")
        done
        if ((${#up[@]})); then
                sleep "$SETTLE_SECS"
                restart_test "${up[@]}"
                sleep "$SETTLE_SECS"
                for s in "${up[@]}"; do
                        mass_test "$s"
                done
                sleep "$SETTLE_SECS"
                idle_test "${up[@]}"
        fi
        stop_set "$@"
}

# ---------------------------------------------------------------------------------------------
# The task budget. Every worker and every supervisor process is a task, and fork fails with
# EAGAIN past a limit: a pids cgroup's pids.max, the kernel's threads-max or pid_max. A
# supervisor that meets it stalls part way (the floor once stopped at 1892 of 3000 workers),
# so at each N the supervisors share the machine only as far as they fit.

# cgroup1_mount CONTROLLER: "MOUNTPOINT ROOT" of the cgroup v1 hierarchy with that controller.
cgroup1_mount() {
        awk -v c="$1" '{
                for (i = 7; i <= NF; i++) if ($i == "-") break
                if ($(i + 1) != "cgroup") next
                n = split($(i + 3), o, ",")
                for (k = 1; k <= n; k++) if (o[k] == c) { print $5, $4; exit }
        }' /proc/self/mountinfo
}

# budget_offer FREE WHY: keeps the tighter of the budgets offered.
budget_offer() {
        if [[ -z $TASK_FREE ]] || (($1 < TASK_FREE)); then
                TASK_FREE=$1 TASK_WHY=$2
        fi
}

# task_budget: sets TASK_FREE, how many more tasks may exist now, and TASK_WHY, which limit
# that is: the tightest of every pids.max (less its pids.current) on the path of
# /proc/self/cgroup in the v1 pids hierarchy and in v2, BENCH_TASK_LIMIT, threads-max and
# pid_max (less the tasks that exist). The benchmark's own cgroup sits at the top of the v2
# mount, so a v2 limit on our path may not bind its supervisors; counting it errs on the
# safe side. A limit set outside this machine's view (a host's) is only known through
# BENCH_TASK_LIMIT.
task_budget() {
        local total hier ctrls path mnt root dir max cur limit
        # The fourth field of loadavg is "runnable/existing" scheduling entities: all tasks.
        total=$(awk '{ split($4, a, "/"); print a[2] }' /proc/loadavg)
        TASK_FREE="" TASK_WHY=""
        while IFS=: read -r hier ctrls path; do
                mnt="" root=/
                if [[ $hier == 0 ]]; then
                        mnt=$(cgroup2_mount)
                elif [[ ,$ctrls, == *,pids,* ]]; then
                        read -r mnt root < <(cgroup1_mount pids) || true
                fi
                [[ -n $mnt ]] || continue
                [[ $root == / ]] || path=${path#"$root"}
                dir=$mnt${path%/}
                while [[ $dir == "$mnt"* ]]; do
                        if [[ -r $dir/pids.max && -r $dir/pids.current ]]; then
                                read -r max <"$dir/pids.max"
                                read -r cur <"$dir/pids.current"
                                [[ $max == max ]] || budget_offer $((max - cur)) "pids.max $max of $dir, $cur in use"
                        fi
                        [[ $dir != "$mnt" ]] || break
                        dir=${dir%/*}
                done
        done </proc/self/cgroup
        if [[ -n ${BENCH_TASK_LIMIT:-} ]]; then
                budget_offer $((BENCH_TASK_LIMIT - total)) "BENCH_TASK_LIMIT $BENCH_TASK_LIMIT, $total tasks in use"
        fi
        read -r limit </proc/sys/kernel/threads-max
        budget_offer $((limit - total)) "threads-max $limit, $total tasks in use"
        read -r limit </proc/sys/kernel/pid_max
        budget_offer $((limit - total)) "pid_max $limit, $total tasks in use"
        log "N=$N: task budget $((TASK_FREE - TASK_MARGIN)) ($TASK_WHY, less a margin of $TASK_MARGIN)"
}

# tasks_needed S: the tasks S takes at N: N workers, the supervisor, and for runit,
# daemontools and s6 one supervising process per worker (above 1000, daemontools has one
# svscan per 1000 and the shell that started them).
tasks_needed() {
        case $1 in
        runit | s6) echo $((2 * N + 1)) ;;
        daemontools) echo $((2 * N + (N <= 1000 ? 1 : 1 + (N + 999) / 1000))) ;;
        *) echo $((N + 1)) ;;
        esac
}

# plan_sets S...: appends to SETS the supervisors given, in order, grouped into sets that fit
# the task budget together (all in one when they fit, one at a time at worst). One that
# does not fit even alone is not run, and its note says why.
plan_sets() {
        local s need used=0 set=""
        for s in "$@"; do
                need=$(tasks_needed "$s")
                if ((need + TASK_MARGIN > TASK_FREE)); then
                        note "$s" "not run: needs ~$need tasks, the limit allows $((TASK_FREE - TASK_MARGIN)) ($TASK_WHY, less a margin of $TASK_MARGIN)"
                        log "$s N=$N: not run, it needs ~$need tasks"
                        continue
                fi
                if [[ -n $set ]] && ((used + need + TASK_MARGIN > TASK_FREE)); then
                        SETS+=("$set")
                        set="" used=0
                fi
                set+="${set:+ }$s"
                used=$((used + need))
        done
        [[ -z $set ]] || SETS+=("$set")
}

# ---------------------------------------------------------------------------------------------
# The table

versions() {
        local s v
        for s in "${SUPERVISORS[@]}"; do
                case $s in
                floor) v="floor (bench/floor.c)" ;;
                floor_vfork) v="floor_vfork (bench/floor.c -v)" ;;
                vigild) v="$("$VIGILD" --version 2>/dev/null | head -n1)" ;;
                vigild_nocg) v="vigild_nocg (same, cgroups = off)" ;;
                vigild_base) v="vigild_base: $("$VIGILD_BASE" --version 2>/dev/null | head -n1) ($VIGILD_BASE)" ;;
                vigild_probes) v="vigild_probes (same, with cpu, memory and fds probes every ${BENCH_PROBE_EVERY:-5s})" ;;
                runit) v="runit $(dpkg-query -W -f='${Version}' runit 2>/dev/null || echo '?')" ;;
                daemontools) v="daemontools $(dpkg-query -W -f='${Version}' daemontools 2>/dev/null || echo '?')" ;;
                s6) v="s6 $(dpkg-query -W -f='${Version}' s6 2>/dev/null || echo '?')" ;;
                supervisord) v="supervisord $(supervisord --version 2>/dev/null || echo '?')" ;;
                esac
                printf '%s; ' "$v"
        done
}

# cell S N METRIC: the value and its ratio to the floor's.
cell() {
        local v=${R[$1,$2,$3]:-} f=${R[floor,$2,$3]:-}
        [[ -n $v ]] || { printf -- '-'; return; }
        if [[ $1 == floor ]]; then
                printf '%s' "$v"
        else
                awk -v v="$v" -v f="$f" 'BEGIN { if (f + 0 > 0) printf "%s (%.2fx)", v, v / f; else printf "%s", v }'
        fi
}

# Issue 8's targets for vigild, measured in one run: floor_target N METRIC prints the most
# its figure may be as a ratio to the fork floor's at the same N (nothing: no target), and
# its restart p50 at N=3000 may be at most SELF_TARGET times its own at N=1.
floor_target() {
        case $1,$2 in
        1000,p50) echo 1.1 ;;
        1000,p99) echo 1.3 ;;
        1000,mass) echo 1.1 ;;
        3000,mass) echo 1.2 ;;
        1000,startup) echo 1.3 ;;
        esac
}
SELF_TARGET=1.2

# verdict N METRIC: " PASS"/" MISS" for vigild's figure against its target, or nothing.
verdict() {
        local v=${R[vigild,$1,$2]:-} f=${R[floor,$1,$2]:-} limit
        limit=$(floor_target "$1" "$2")
        [[ -n $v && -n $f && -n $limit ]] || return 0
        awk -v v="$v" -v f="$f" -v l="$limit" 'BEGIN { printf " %s", (f > 0 && v / f <= l) ? "PASS" : "MISS" }'
}

# ratio A B: "A/B" as "1.23x", or "-" without both.
ratio() {
        if [[ -n $1 && -n $2 ]]; then
                awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else printf "-" }'
        else
                printf -- '-'
        fi
}

print_table() {
        local n m s label
        local -a metrics=(startup p50 p90 p99 max mass cpu sched rss pss procs)
        local -A labels=(
                [startup]="startup, all N stamped (s)"
                [p50]="restart latency p50 (ms)"
                [p90]="restart latency p90 (ms)"
                [p99]="restart latency p99 (ms)"
                [max]="restart latency max (ms)"
                [mass]="all N killed -> all back (s)"
                [cpu]="idle CPU utime+stime (s/${IDLE_SECS}s)"
                [sched]="idle CPU schedstat (s/${IDLE_SECS}s)"
                [rss]="RSS (MiB)"
                [pss]="PSS (MiB)"
                [procs]="supervisor processes"
        )
        echo "vigil benchmark  $(date -u '+%Y-%m-%d %H:%M:%S UTC')  kernel $(uname -r)  $(nproc) CPUs"
        echo "versions: $(versions | sed 's/; $//')"
        echo "workload: stamp-worker ($WORKER_LINK); $KILLS kills one at a time, victims up >= ${MIN_AGE_MS}ms," \
                "gap ${GAP_MS}-$((2 * GAP_MS))ms, seed $SEED; idle window ${IDLE_SECS}s; ratios are to the floor"
        for n in "${NS[@]}"; do
                echo
                echo "N = $n"
                [[ -z ${R[sets,$n]:-} ]] || echo "  ${R[sets,$n]% }"
                {
                        printf 'metric'
                        for s in "${SUPERVISORS[@]}"; do printf '\t%s' "$s"; done
                        printf '\n'
                        for m in "${metrics[@]}"; do
                                label=${labels[$m]}
                                printf '%s' "$label"
                                for s in "${SUPERVISORS[@]}"; do
                                        printf '\t%s' "$(cell "$s" "$n" "$m")"
                                        [[ $s != vigild ]] || printf '%s' "$(verdict "$n" "$m")"
                                done
                                printf '\n'
                        done
                } | column -t -s $'\t'
                for s in "${SUPERVISORS[@]}"; do
                        [[ -z ${R[$s,$n,note]:-} ]] || echo "  note: $s: ${R[$s,$n,note]%; }"
                        [[ $s != vigild* || ${R[$s,$n,delayed]:-0} == 0 ]] ||
                                echo "  note: $s logged ${R[$s,$n,delayed]} delayed restart(s) or breaker openings"
                done
        done
}

# vigild and the floors at every N: how each figure grows with N, vigild's ratio to the fork
# floor, and vigild's restart latency over its own at N=1 (flat is the goal).
print_scaling() {
        local n m s
        local -a cols=()
        local -A labels=(
                [p50]="restart latency p50 (ms)"
                [p99]="restart latency p99 (ms)"
                [mass]="all N killed -> all back (s)"
                [startup]="startup, all N stamped (s)"
        )
        for s in floor floor_vfork vigild; do
                [[ " ${SUPERVISORS[*]} " != *" $s "* ]] || cols+=("$s")
        done
        echo
        echo "scaling (ratios to the floor; vs N=1: vigild's figure over its own at N=1)"
        {
                printf 'metric\tN'
                printf '\t%s' "${cols[@]}"
                [[ " ${cols[*]} " != *" vigild "* ]] || printf '\tvigild vs N=1'
                printf '\n'
                for m in p50 p99 mass startup; do
                        for n in "${NS[@]}"; do
                                printf '%s\t%s' "${labels[$m]}" "$n"
                                for s in "${cols[@]}"; do
                                        printf '\t%s' "$(cell "$s" "$n" "$m")"
                                done
                                if [[ " ${cols[*]} " == *" vigild "* && ($m == p50 || $m == p99) ]]; then
                                        printf '\t%s' "$(ratio "${R[vigild,$n,$m]:-}" "${R[vigild,1,$m]:-}")"
                                fi
                                printf '\n'
                        done
                done
        } | column -t -s $'\t'
}

# target LABEL VALUE BASE LIMIT: one line of the targets block, PASS when VALUE / BASE <= LIMIT.
target() {
        if [[ -z $2 || -z $3 ]]; then
                printf '%s\tnot measured\n' "$1"
        else
                awk -v l="$1" -v v="$2" -v b="$3" -v t="$4" 'BEGIN {
                        r = b > 0 ? v / b : 0
                        printf "%s\t%s / %s = %.2fx\t%s\n", l, v, b, r, (b > 0 && r <= t) ? "PASS" : "MISS" }'
        fi
}

# Issue 8's targets, each PASS or MISS, or "not measured" where this run lacks the figures.
print_targets() {
        echo
        echo "issue 8 targets (vigild; ratios to the fork floor, not floor_vfork)"
        {
                target "restart p50 at N=1000 <= $(floor_target 1000 p50)x floor (ms)" \
                        "${R[vigild,1000,p50]:-}" "${R[floor,1000,p50]:-}" "$(floor_target 1000 p50)"
                target "restart p99 at N=1000 <= $(floor_target 1000 p99)x floor (ms)" \
                        "${R[vigild,1000,p99]:-}" "${R[floor,1000,p99]:-}" "$(floor_target 1000 p99)"
                target "1000 killed -> all back <= $(floor_target 1000 mass)x floor (s)" \
                        "${R[vigild,1000,mass]:-}" "${R[floor,1000,mass]:-}" "$(floor_target 1000 mass)"
                target "3000 killed -> all back <= $(floor_target 3000 mass)x floor (s)" \
                        "${R[vigild,3000,mass]:-}" "${R[floor,3000,mass]:-}" "$(floor_target 3000 mass)"
                target "startup of 1000 <= $(floor_target 1000 startup)x floor (s)" \
                        "${R[vigild,1000,startup]:-}" "${R[floor,1000,startup]:-}" "$(floor_target 1000 startup)"
                target "restart p50 at N=3000 <= ${SELF_TARGET}x vigild's at N=1 (ms)" \
                        "${R[vigild,3000,p50]:-}" "${R[vigild,1,p50]:-}" "$SELF_TARGET"
        } | column -t -s $'\t'
}

report() {
        print_table
        print_scaling
        print_targets
}

# ---------------------------------------------------------------------------------------------

main() {
        install_missing
        WORK=$(mktemp -d /tmp/vigil-bench.XXXXXX)
        chmod 0755 "$WORK"
        build_tools

        local mount
        mount=$(cgroup2_mount)
        [[ -n $mount ]] || die "no cgroup2 mount in /proc/self/mountinfo"
        CG=$mount/vigil-bench.$$
        mkdir "$CG"

        local s
        local -a shared=() alone=()
        for s in "${SUPERVISORS[@]}"; do
                if [[ " $ALONE " == *" $s "* ]]; then alone+=("$s"); else shared+=("$s"); fi
        done
        local set
        local -a SETS members
        for N in "${NS[@]}"; do
                task_budget
                SETS=()
                plan_sets "${shared[@]}"
                ((${#SETS[@]} < 2)) ||
                        R[sets,$N]="measured in sets that fit the task budget of $((TASK_FREE - TASK_MARGIN)): $(printf '[%s] ' "${SETS[@]}")"
                for s in "${alone[@]}"; do
                        plan_sets "$s"
                done
                for set in "${SETS[@]}"; do
                        read -r -a members <<<"$set"
                        run_set "${members[@]}"
                done
        done

        if [[ -n ${BENCH_OUT:-} ]]; then
                report | tee "$BENCH_OUT"
        else
                report
        fi
}

main "$@"
