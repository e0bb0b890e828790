#!/bin/bash
# The notify socket trusts only workers and survives whatever it is sent: a READY=1 from a
# process outside every worker is dropped as an unknown sender; zero-length, oversized (over
# 4096 bytes), binary (a NUL, invalid UTF-8) and malformed datagrams sent from inside a worker
# are dropped without effect (each carries READY=1 where it can, so acting on one would show),
# while a datagram of exactly 4096 bytes is accepted; the worker then becomes running with a
# valid READY=1. Descriptors passed with datagrams, whether they are accepted, malformed, empty
# or from strangers, are all closed: vigild's open fds are the same before and after.
# vigild runs with -v: its debug lines name each dropped datagram's sender and reason.
. "$(dirname "$0")/lib.sh"

VT_NOTIFY=${VT_NOTIFY:-$(dirname "$VT_WORKER")/vt-notify}
[[ -x $VT_NOTIFY ]] || { echo "no vt-notify at $VT_NOTIFY" >&2; exit 99; }

# Sends from inside a worker: each sender's pid and exit status go to $T/sends as "KIND PID RC".
# The accepted one names the shell ($$, the worker's main process) in its credentials, so that
# its sender cannot have vanished before vigild reads it.
cat > "$T/sends.sh" <<'EOF'
n=$1 t=$2
s() {
        kind=$1
        shift
        "$n" send "$@" &
        p=$!
        wait $p
        echo "$kind $p $?" >> "$t/sends"
}
s empty --empty
s oversized --size 5000 'READY=1\nSTATUS='
s nul 'READY=1\nSTATUS=\x00'
s utf8 'READY=1\nSTATUS=\xff'
s no-equals 'READY'
s no-equals-ready 'READY=1\nREADY'
s bad-value 'READY=yes'
s max --pid $$ --size 4096 'STATUS='
exec "$n" worker --stamp "$t/picky.stamps" --ready-after 300
EOF
# Waits for the test on a fifo, then sends datagrams carrying descriptors and a marker.
cat > "$T/fds.sh" <<'EOF'
n=$1 t=$2
s() {
        kind=$1
        shift
        "$n" send "$@" &
        p=$!
        wait $p
        echo "$kind $p $?" >> "$t/fd-sends"
}
read -r go < "$t/go"
s barrier --pid $$ --fds 16 'BARRIER=1'
s empty --empty --fds 8
s malformed --fds 253 'READY'
s oversized --fds 16 --size 5000
s any --fds 16 'STATUS=sent'
s mark 'MARK'
exec sleep 1000
EOF
mkfifo "$T/go"

write_config "$T/vigil.conf" <<EOF
workers = (
        {
                name = "waiter";
                command = [ "$VT_NOTIFY", "worker", "--stamp", "$T/waiter.stamps", "--no-ready" ];
                notify = true;
                start_timeout = "120s";
        },
        {
                name = "picky";
                command = [ "/bin/sh", "$T/sends.sh", "$VT_NOTIFY", "$T" ];
                notify = true;
                start_timeout = "20s";
        },
        {
                name = "fdsender";
                command = [ "/bin/sh", "$T/fds.sh", "$VT_NOTIFY", "$T" ];
                start_secs = "50ms";
        }
);
EOF

start_vigild "$T/vigil.conf" -v
wait_for_log 'ready: 3 instances of 3 workers'
wait_until '(( $(stamp_count "$T/waiter.stamps") == 1 ))'
waiter_pid=$(last_stamp_pid "$T/waiter.stamps")

# (a) READY=1 from outside every worker: first with credentials naming this script (alive, so
# the reason is certain), then with the sender's own, which may have exited by the time vigild
# reads it.
NOTIFY_SOCKET=$T/run/notify.sock "$VT_NOTIFY" send --pid $$ 'READY=1' || fail "vt-notify send failed"
NOTIFY_SOCKET=$T/run/notify.sock "$VT_NOTIFY" send 'READY=1' &
outside=$!
wait $outside || fail "vt-notify send failed"
wait_until "grep -Eq 'PID $outside: |waiter:0: [a-z]+ -> running' \"\$VIGILD_LOG\""
assert_no_log 'waiter:0: [a-z]+ -> running' "a READY=1 from outside every worker was acted on"
assert_log "Dropped notify datagram from PID $$: unknown-sender"
assert_log "Dropped notify datagram from PID $outside: (unknown-sender|vanished)"

# (b) The malformed datagrams from inside: each dropped for its reason, none acted on.
wait_for_log 'picky:0: starting -> running \(READY=1\)$'
declare -A reason=([empty]=empty [oversized]=oversized [nul]=binary [utf8]=binary [no-equals]=malformed
                   [no-equals-ready]=malformed [bad-value]=malformed)
running_line=$(grep -n -m 1 'picky:0: starting -> running' "$VIGILD_LOG" | cut -d: -f1)
while read -r kind pid rc; do
        assert_eq "$rc" 0 "exit status of vt-notify send ($kind)"
        if [[ $kind == max ]]; then
                assert_no_log "from PID $pid: " "the 4096-byte datagram was dropped"
                continue
        fi
        line=$(grep -n -m 1 "Dropped notify datagram from PID $pid: " "$VIGILD_LOG") ||
                fail "no drop line for the $kind datagram (sender pid $pid)"
        [[ ${line#*:} == "debug: Dropped notify datagram from PID $pid: ${reason[$kind]}" ]] ||
                fail "the $kind datagram was dropped for the wrong reason: ${line#*:}"
        ((${line%%:*} < running_line)) || fail "the $kind datagram came after the worker was running"
done < "$T/sends"
assert_eq "$(wc -l < "$T/sends")" 8 "datagrams sent from inside the worker"
assert_log "picky:0: STATUS=A{200}" "the 4096-byte datagram's STATUS= was not taken"
grep -q '^ready ' "$T/picky.stamps" || fail "running, but the worker has not sent its READY=1"
assert_eq "$(count_log 'picky:0: [a-z]+ -> running')" 1 "running transitions of the picky worker"
assert_no_log 'waiter:0: [a-z]+ -> running' "a READY=1 from outside the worker was acted on"

# (c) Descriptors: none stays in vigild. Counted once everything is up and idle.
wait_for_log 'fdsender:0: starting -> running'
fd_count() {
        ls "/proc/$VIGILD_PID/fd" | wc -l
}
before=$(fd_count)
NOTIFY_SOCKET=$T/run/notify.sock "$VT_NOTIFY" send --pid $$ --fds 32 'READY=1' ||
        fail "vt-notify send failed"
echo go > "$T/go"
wait_until '[[ -e $T/fd-sends ]] && grep -q "^mark " "$T/fd-sends"'
mark=$(awk '$1 == "mark" { print $2 }' "$T/fd-sends")
wait_for_log "Dropped notify datagram from PID $mark: malformed"
while read -r kind pid rc; do
        assert_eq "$rc" 0 "exit status of vt-notify send ($kind, with fds)"
done < "$T/fd-sends"
for kind in empty malformed oversized; do
        pid=$(awk -v k=$kind '$1 == k { print $2 }' "$T/fd-sends")
        assert_log "Dropped notify datagram from PID $pid: $kind"
done
after=$(fd_count)
assert_eq "$after" "$before" "vigild's open fds after datagrams carrying 341 fds"
pid_alive "$waiter_pid" || fail "the waiter died"
assert_no_log 'waiter:0: [a-z]+ -> running' "a READY=1 from outside the worker was acted on"

stop_vigild
exit 0
