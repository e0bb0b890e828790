#!/bin/bash
# A worker with user = "vigiltest" runs with that user's uid and gid (real, effective and saved)
# and exactly its supplementary groups (including the extra group "vigiltest-extra"), with the
# user's HOME, USER, LOGNAME and SHELL. The suite creates the system user and group if missing.
. "$(dirname "$0")/lib.sh"

ensure_test_user

# The worker must reach its binary and its output directory as vigiltest.
chmod 0711 "$T"
mkdir -m 0755 "$T/bin"
install -m 0755 "$VT_WORKER" "$T/bin/vt-worker"
mkdir -m 1777 "$T/out"

write_config "$T/vigil.conf" <<EOF
workers = (
        {
                name = "asuser";
                command = [ "$T/bin/vt-worker", "--report", "$T/out/report", "--stamp", "$T/out/stamps" ];
                user = "vigiltest";
                start_secs = "50ms";
        }
);
EOF

start_vigild "$T/vigil.conf"
wait_until '[[ -e $T/out/report ]]'
report() {
        awk -v k="$1" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "$T/out/report"
}

uid=$(id -u vigiltest)
gid=$(id -g vigiltest)
assert_eq "$(report uid)" "$uid $uid $uid" "worker uid (real effective saved)"
assert_eq "$(report gid)" "$gid $gid $gid" "worker gid (real effective saved)"
expected_groups=$(id -G vigiltest | tr ' ' '\n' | sort -n | tr '\n' ' ')
actual_groups=$(report groups | tr ' ' '\n' | sort -n | tr '\n' ' ')
assert_eq "$actual_groups" "$expected_groups" "worker supplementary groups"
grep -qw "$(getent group vigiltest-extra | cut -d: -f3)" <<< "$actual_groups" ||
        fail "vigiltest-extra is missing from the worker's groups: $actual_groups"

IFS=: read -r _ _ _ _ _ home shell < <(getent passwd vigiltest)
env_of() {
        report env | sed -n "s/^$1=//p"
}
assert_eq "$(env_of USER)" vigiltest "USER"
assert_eq "$(env_of LOGNAME)" vigiltest "LOGNAME"
assert_eq "$(env_of HOME)" "$home" "HOME"
assert_eq "$(env_of SHELL)" "$shell" "SHELL"
assert_eq "$(stat -c %U "$T/out/stamps")" vigiltest "owner of a file the worker created"

stop_vigild
exit 0
