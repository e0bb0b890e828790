# shellcheck shell=bash
# Shared by bench/run.sh and bench/store.sh (sourced, after BENCH_DIR and SRC_DIR are set):
# logging, the cgroup each benchmark runs its supervisors in, and building what it measures.

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

cgroup2_mount() {
        # The field after the " - " separator of /proc/self/mountinfo is the filesystem type.
        awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break } }' \
                /proc/self/mountinfo
}

remove_cgroup_tree() {
        # Deepest first: a cgroup can only be removed once its children are.
        if [[ -d $1 ]]; then
                find "$1" -depth -type d -exec rmdir {} + 2>/dev/null || log "cannot remove cgroup $1"
        fi
}

# kill_cgroup DIR...: ends everything in the cgroups (cgroup.kill, never by name), waits until
# they are empty and their processes have been reaped, removes them and their children. The
# dead workers' parent dies with them, so init reaps them, and this machine's init does so
# only every second or two; until then they still count against the task limits, and the
# next supervisor started could find fork failing. Several cgroups share one wait. A pid
# reused meanwhile only makes the wait longer.
kill_cgroup() {
        local cg i p
        local -a pids=() left
        for cg in "$@"; do
                [[ -d $cg ]] || continue
                mapfile -t -O "${#pids[@]}" pids < <(find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null)
                echo 1 >"$cg/cgroup.kill" 2>/dev/null || true
        done
        for cg in "$@"; do
                for ((i = 0; i < 200; i++)); do
                        [[ -d $cg ]] || break
                        grep -qx 'populated 0' "$cg/cgroup.events" 2>/dev/null && break
                        sleep 0.05
                done
        done
        for ((i = 0; i < 600; i++)); do
                left=()
                for p in "${pids[@]}"; do
                        [[ ! -e /proc/$p ]] || left+=("$p")
                done
                pids=("${left[@]}")
                ((${#pids[@]})) || break
                sleep 0.1
        done
        ((${#pids[@]} == 0)) || log "${#pids[@]} processes of $* not reaped after 60s"
        for cg in "$@"; do
                remove_cgroup_tree "$cg"
        done
}

# build_workload BIN: the stamp worker (static where libc allows; WORKER_LINK says which), the
# fork/exec floor and bench-tool, into BIN.
build_workload() {
        local bin=$1
        mkdir -p "$bin"
        if cc -O2 -static -o "$bin/stamp-worker" "$BENCH_DIR/stamp-worker.c" 2>/dev/null; then
                WORKER_LINK=static
        else
                cc -O2 -o "$bin/stamp-worker" "$BENCH_DIR/stamp-worker.c"
                WORKER_LINK=dynamic
        fi
        cc -O2 -o "$bin/floor" "$BENCH_DIR/floor.c"
        cc -O2 -o "$bin/bench-tool" "$BENCH_DIR/bench-tool.c"
}

# copy_sources DEST: a clean copy of the source tree, ready to configure, whatever state the
# user's tree is in. The tree may have been configured in place (README's first command runs
# ./configure there), and automake then refuses every out-of-tree build from it; "make
# distdir" would need that configured tree, runs make in it (where a rebuild rule may
# rewrite files) and leaves out any file not yet listed in Makefile.am. So this copies the
# sources as they are, never writing to the user's tree: in a git checkout the tracked files
# and new ones not ignored, uncommitted edits included (the generated files are all ignored,
# so none of them comes along); elsewhere, everything but .git, and a configured copy is
# cleaned with "make distclean". configure is generated in the copy when it has none, as in a
# clean clone; that needs autoconf and automake, which packaging/dev-setup.sh installs.
copy_sources() {
        local dest=$1
        mkdir -p "$dest"
        if command -v git >/dev/null &&
                git -c safe.directory='*' -C "$SRC_DIR" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
                # safe.directory: root reads a tree that another user may own.
                (cd "$SRC_DIR" && git -c safe.directory='*' ls-files -z --cached --others --exclude-standard |
                        while IFS= read -r -d '' f; do
                                # A tracked file deleted in the working tree is left out.
                                if [[ -e $f || -L $f ]]; then printf '%s\0' "$f"; fi
                        done | tar --null -T - -cf -) | tar -C "$dest" -xf - || die "cannot copy $SRC_DIR"
        else
                tar -C "$SRC_DIR" --exclude=./.git -cf - . | tar -C "$dest" -xf - || die "cannot copy $SRC_DIR"
                if [[ -e $dest/config.status ]]; then
                        make -C "$dest" distclean >/dev/null 2>&1 || die "make distclean failed in the copy $dest"
                fi
        fi
        if [[ ! -x $dest/configure ]]; then
                (cd "$dest" && autoreconf -fi >autoreconf.log 2>&1) ||
                        { tail -n 30 "$dest/autoreconf.log" >&2; die "autoreconf -fi failed in the copy $dest"; }
        fi
}

# build_tree DIR "CONFIGURE ARGS" TARGET...: builds TARGETs out of tree in DIR, from a clean
# copy of the source tree in DIR-src (see copy_sources).
build_tree() {
        local dir=$1 args=$2
        shift 2
        log "building $* from a copy of $SRC_DIR"
        copy_sources "$dir-src"
        mkdir -p "$dir"
        # shellcheck disable=SC2086 # the configure arguments are words on purpose
        if ! (cd "$dir" && "$dir-src/configure" $args >configure.log 2>&1 &&
                make -j"$(nproc)" "$@" >make.log 2>&1); then
                tail -n 30 "$dir/configure.log" "$dir/make.log" >&2 || true
                die "building $* failed"
        fi
}

# write_vigild_config FILE WORKER STAMPS N CGROUPS [EXTRA]: vigild's side of the workload, N instances
# of WORKER restarted whenever they die. The first restart is immediate; the backoff level
# resets 10ms after a start (the stable timer may fire up to 1s late; the benchmarks' minimum
# victim age covers that); the breaker's window is so short that 64 failures never fall inside
# it, so it never opens. EXTRA is more keys of the worker's entry (its probes).
write_vigild_config() {
        cat >"$1" <<EOF
workers = (
  {
    name      = "w";
    command   = [ "$2", "$3" ];
    instances = $4;
    restart   = "always";
    start_secs = "0";
    stdout    = "null";
    stderr    = "null";
    cgroups   = "$5";
    backoff   = { initial = "1ms"; max = "1s"; factor = 2.0; reset_after = "10ms"; immediate_first = true; };
    breaker   = { failures = 64; window = "1us"; open_for = "1s"; trial_ok = "1s"; };
    ${6:-}
  }
);
EOF
        chmod 0644 "$1"
}
