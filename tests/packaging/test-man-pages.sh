#!/usr/bin/env bash
# Formats every manual page in packaging/ with man(1) and groff warnings on, as Debian's
# lintian does, and fails on any warning: a misspelt macro or a broken escape shows up here
# instead of as a garbled page on a user's terminal. Also checks that each page's .TH
# names the page as its file does (vigild.8: ".TH VIGILD 8").
# Exit status: 0 pass, 77 skip (man or groff missing), 1 fail.

set -euo pipefail

srcdir="${TOP_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"

if ! command -v man >/dev/null || ! command -v groff >/dev/null; then
        echo "SKIP: man or groff is not installed"
        exit 77
fi

shopt -s nullglob
pages=("$srcdir"/packaging/*.[1-8])
if ((${#pages[@]} == 0)); then
        echo "FAIL: no manual pages in $srcdir/packaging" >&2
        exit 1
fi

failed=0
for page in "${pages[@]}"; do
        base="${page##*/}"
        name="${base%.*}"
        section="${base##*.}"

        th="$(grep -m1 '^\.TH ' "$page" || true)"
        read -r _ th_name th_section _ <<< "$th"
        th_name="${th_name//\"/}"
        th_section="${th_section//\"/}"
        if [[ "${th_name,,}" != "${name,,}" || "$th_section" != "$section" ]]; then
                echo "FAIL: $base: .TH says '$th_name $th_section', expected '${name^^} $section'" >&2
                failed=1
        fi

        warnings="$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 \
                man --warnings -E UTF-8 -l -Tutf8 -Z "$page" 2>&1 >/dev/null)" || {
                echo "FAIL: $base: man exited with status $?" >&2
                failed=1
        }
        if [[ -n "$warnings" ]]; then
                echo "FAIL: $base: formatting warnings:" >&2
                printf '%s\n' "$warnings" >&2
                failed=1
        else
                echo "ok: $base"
        fi
done

exit "$failed"
