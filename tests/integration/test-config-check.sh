#!/bin/bash
# vigild --check: every kind of config error is reported as "FILE:LINE: key: ..." with exit
# status 1 (never libconfig's exit 2, not even for an @include of a directory); a good config
# and every example config shipped in conf/ pass with exit status 0.
. "$(dirname "$0")/lib.sh"

# check_bad NAME LINE KEY: writes the config on stdin to $T/NAME.conf, expects --check to fail
# with a message naming that file, LINE (a number, or a regex for it) and KEY.
check_bad() {
        local name=$1 line=$2 key=$3 f=$T/$1.conf rc=0 out
        write_config "$f"
        out=$("$VIGILD" --check "$f" 2>&1) || rc=$?
        log "$name: exit $rc: $out"
        assert_eq "$rc" 1 "$name: exit status of --check"
        grep -Eq -- "$f:($line):.*$key" <<< "$out" || fail "$name: expected '$f:$line: $key...', got: $out"
}

good() {
        cat <<EOF
workers = (
        {
                name = "ok";
                command = [ "$VT_WORKER", "--exit", "0" ];
                instances = 2;
                restart = "on-failure";
                start_secs = "200ms";
                stop_timeout = "1s";
                cgroups = "off";
                permanent_exit_codes = [ 78, 79 ];
                environment = [ "A=b", "C=d=e" ];
                stdout = "null";
                stderr = "file:$T/err.log";
                backoff = { initial = "100ms"; max = "2s"; factor = 2.0; reset_after = "1s"; immediate_first = true; };
                breaker = { failures = 3; window = "10s"; open_for = "1s"; trial_ok = "500ms"; };
        }
);
EOF
}

good | write_config "$T/good.conf"
rc=0
out=$("$VIGILD" --check "$T/good.conf" 2>&1) || rc=$?
assert_eq "$rc" 0 "exit status of --check on a good config ($out)"

# Line numbers below count from 1 at "workers = (".
check_bad unknown-key 5 bogus <<EOF
workers = (
        {
                name = "w";
                command = [ "/bin/true" ];
                bogus = 1;
        }
);
EOF

check_bad unknown-top-level-key 1 bogus_top <<EOF
bogus_top = 1;
workers = ( { name = "w"; command = [ "/bin/true" ]; } );
EOF

check_bad unknown-nested-key 5 bogus <<EOF
workers = (
        {
                name = "w";
                command = [ "/bin/true" ];
                backoff = { initial = "1s"; bogus = 2; };
        }
);
EOF

check_bad wrong-type 5 instances <<EOF
workers = (
        {
                name = "w";
                command = [ "/bin/true" ];
                instances = "two";
        }
);
EOF

check_bad out-of-range-instances 5 instances <<EOF
workers = (
        {
                name = "w";
                command = [ "/bin/true" ];
                instances = 0;
        }
);
EOF

check_bad out-of-range-exit-code 5 permanent_exit_codes <<EOF
workers = (
        {
                name = "w";
                command = [ "/bin/true" ];
                permanent_exit_codes = [ 78, 300 ];
        }
);
EOF

check_bad bad-duration 5 stop_timeout <<EOF
workers = (
        {
                name = "w";
                command = [ "/bin/true" ];
                stop_timeout = "soon";
        }
);
EOF

check_bad bad-restart 5 restart <<EOF
workers = (
        {
                name = "w";
                command = [ "/bin/true" ];
                restart = "sometimes";
        }
);
EOF

check_bad bad-cgroups 5 cgroups <<EOF
workers = (
        {
                name = "w";
                command = [ "/bin/true" ];
                cgroups = "maybe";
        }
);
EOF

check_bad bad-environment 5 environment <<EOF
workers = (
        {
                name = "w";
                command = [ "/bin/true" ];
                environment = [ "NO_EQUALS_SIGN" ];
        }
);
EOF

check_bad relative-command 4 command <<EOF
workers = (
        {
                name = "w";
                command = [ "true" ];
        }
);
EOF

# Missing command: reported at the worker's group (line 2) or its name (line 3).
check_bad missing-command '2|3' command <<EOF
workers = (
        {
                name = "w";
                instances = 1;
        }
);
EOF

# Duplicate names: reported at the second worker (its group, line 7, or its name, line 8).
check_bad duplicate-name '7|8' name <<EOF
workers = (
        {
                name = "twin";
                command = [ "/bin/true" ];
        },
        {
                name = "twin";
                command = [ "/bin/true" ];
        }
);
EOF

check_bad unknown-user 5 user <<EOF
workers = (
        {
                name = "w";
                command = [ "/bin/true" ];
                user = "vigil-no-such-user-x";
        }
);
EOF

# A syntax error is reported by line; there is no key to name.
check_bad syntax-error 4 '' <<EOF
workers = (
        {
                name = "w";
                command = [ "/bin/true" ;
        }
);
EOF

# libconfig 1.5 would exit(2) inside its scanner on an @include of a directory.
mkdir "$T/a-directory"
check_bad include-directory 1 '' <<EOF
@include "$T/a-directory"
workers = ( { name = "w"; command = [ "/bin/true" ]; } );
EOF

# Writable by other users: refused, naming the file.
good | write_config "$T/world-writable.conf"
chmod 0666 "$T/world-writable.conf"
rc=0
out=$("$VIGILD" --check "$T/world-writable.conf" 2>&1) || rc=$?
log "world-writable: exit $rc: $out"
assert_eq "$rc" 1 "exit status of --check on a world-writable config"
grep -q -- "$T/world-writable.conf" <<< "$out" || fail "the refusal does not name the file: $out"

# A missing file.
rc=0
out=$("$VIGILD" --check "$T/does-not-exist.conf" 2>&1) || rc=$?
assert_eq "$rc" 1 "exit status of --check on a missing file"
grep -q -- "$T/does-not-exist.conf" <<< "$out" || fail "the error does not name the missing file: $out"

# Every example shipped in conf/.
shopt -s nullglob
examples=("${TOP_SRCDIR:?}"/conf/*.conf*)
((${#examples[@]} > 0)) || fail "no example configs (conf/*.conf*) in $TOP_SRCDIR"
for f in "${examples[@]}"; do
        rc=0
        out=$("$VIGILD" --check "$f" 2>&1) || rc=$?
        assert_eq "$rc" 0 "exit status of --check on the shipped $f ($out)"
done
exit 0
