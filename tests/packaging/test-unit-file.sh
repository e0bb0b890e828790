#!/usr/bin/env bash
# Checks packaging/vigild.service with "systemd-analyze verify": the copy checked has its
# ExecStart pointed at the vigild just built ($VIGILD), since /usr/sbin/vigild need not exist
# here, and its Documentation= man pages are looked up among the pages in packaging/.
# Any message about the unit fails the test: systemd-analyze exits 0 on many real mistakes
# (an unknown key, a bad value), which it only reports as "ignoring" warnings.
# Exit status: 0 pass, 77 skip (no systemd-analyze), 1 fail.

set -euo pipefail

fail() {
        echo "FAIL: $*" >&2
        exit 1
}

srcdir="${TOP_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
unit="$srcdir/packaging/vigild.service"

if ! command -v systemd-analyze >/dev/null; then
        echo "SKIP: systemd-analyze is not installed"
        exit 77
fi
[[ -f "$unit" ]] || fail "no unit file at $unit"
[[ -n "${VIGILD:-}" ]] || fail "VIGILD is not set (the path of the built vigild)"
[[ -x "$VIGILD" ]] || fail "VIGILD=$VIGILD is not an executable file"

# A package installs vigild in /usr/sbin; the unit must say exactly that.
grep -qx 'ExecStart=/usr/sbin/vigild' "$unit" || fail "$unit: ExecStart is not /usr/sbin/vigild"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/vigil-unit.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

# Writes the unit with ExecStart replaced to $2 (no sed: the path may hold any character).
copy_unit() {
        local line
        while IFS= read -r line || [[ -n "$line" ]]; do
                if [[ "$line" == ExecStart=/usr/sbin/vigild ]]; then
                        printf 'ExecStart=%s\n' "$VIGILD"
                else
                        printf '%s\n' "$line"
                fi
        done < "$1" > "$2"
}

# Documentation= names man pages; point man at the ones in the source tree. Without man
# (a minimal system), only the unit itself is checked.
man_opt=--man=no
if command -v man >/dev/null; then
        mkdir -p "$tmp/man/man5" "$tmp/man/man8"
        for page in "$srcdir"/packaging/*.[58]; do
                [[ -e "$page" ]] || continue
                cp "$page" "$tmp/man/man${page##*.}/"
        done
        man_opt=--man=yes
        export MANPATH="$tmp/man"
fi

# Runs systemd-analyze verify on unit file $1 and prints what it says about that unit.
# Messages about other units on this machine (loaded as dependencies) are not ours to judge:
# they are printed as notes and dropped.
verify() {
        local out rc=0 line
        out="$(systemd-analyze verify "$man_opt" "$1" 2>&1)" || rc=$?
        while IFS= read -r line; do
                [[ -n "$line" ]] || continue
                if [[ "$line" =~ ^/[^:]*\.(service|socket|target|mount|slice|path|timer):[0-9]+: \
                      && "$line" != "$tmp"/* ]]; then
                        echo "note (another unit): $line" >&2
                        continue
                fi
                printf '%s\n' "$line"
        done <<< "$out"
        if ((rc != 0)); then
                echo "systemd-analyze exited with status $rc"
        fi
}

# First make sure this systemd-analyze reports mistakes at all here: a copy with a bad
# Type= must draw a message. Otherwise a clean result below would prove nothing.
mkdir "$tmp/canary"
copy_unit "$unit" "$tmp/canary/vigild.service"
printf '[Service]\nType=no-such-type\n' >> "$tmp/canary/vigild.service"
if [[ -z "$(verify "$tmp/canary/vigild.service")" ]]; then
        fail "systemd-analyze verify said nothing about a unit with Type=no-such-type"
fi

copy_unit "$unit" "$tmp/vigild.service"
messages="$(verify "$tmp/vigild.service")"
if [[ -n "$messages" ]]; then
        echo "systemd-analyze verify $man_opt on $unit (ExecStart=$VIGILD):" >&2
        printf '%s\n' "$messages" >&2
        fail "the unit file has problems"
fi

echo "PASS: systemd-analyze verify $man_opt: no messages about vigild.service"
