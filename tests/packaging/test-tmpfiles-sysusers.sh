#!/usr/bin/env bash
# Applies packaging/vigil.sysusers and packaging/vigil.tmpfiles to an empty root directory
# with systemd-sysusers and systemd-tmpfiles (--root), as a package installation would on a
# real system, and checks the result: a "vigil" system group, /run/vigil 0755 root:root and
# /var/lib/vigil 0750 root:vigil.
# Exit status: 0 pass, 77 skip (tools missing, or not root: tmpfiles must chown), 1 fail.

set -euo pipefail

fail() {
        echo "FAIL: $*" >&2
        exit 1
}

srcdir="${TOP_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"

for tool in systemd-sysusers systemd-tmpfiles; do
        if ! command -v "$tool" >/dev/null; then
                echo "SKIP: $tool is not installed"
                exit 77
        fi
done
if [[ "$(id -u)" -ne 0 ]]; then
        echo "SKIP: needs root to create files owned by another group"
        exit 77
fi

root="$(mktemp -d "${TMPDIR:-/tmp}/vigil-root.XXXXXX")"
trap 'rm -rf "$root"' EXIT

mkdir -p "$root/etc" "$root/usr/lib/sysusers.d" "$root/usr/lib/tmpfiles.d"
cp "$srcdir/packaging/vigil.sysusers" "$root/usr/lib/sysusers.d/vigil.conf"
cp "$srcdir/packaging/vigil.tmpfiles" "$root/usr/lib/tmpfiles.d/vigil.conf"

out="$(systemd-sysusers --root="$root" vigil.conf 2>&1)" || fail "systemd-sysusers failed: $out"
echo "$out"
gid="$(awk -F: '$1 == "vigil" { print $3 }' "$root/etc/group")"
[[ -n "$gid" ]] || fail "no group vigil in $root/etc/group"
((gid < 1000)) || fail "group vigil got gid $gid, not a system gid"

out="$(systemd-tmpfiles --root="$root" --create vigil.conf 2>&1)" || fail "systemd-tmpfiles failed: $out"
[[ -z "$out" ]] || fail "systemd-tmpfiles complained: $out"

check() {
        local path="$1" want="$2" got
        [[ -d "$root$path" ]] || fail "$path was not created"
        got="$(stat -c '%a %u %g' "$root$path")"
        [[ "$got" == "$want" ]] || fail "$path: mode uid gid are '$got', want '$want'"
        echo "ok: $path $got"
}
check /run/vigil "755 0 0"
check /var/lib/vigil "750 0 $gid"

echo "PASS: sysusers and tmpfiles entries"
