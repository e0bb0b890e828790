#!/usr/bin/env bash
# Sets up a Debian 12 machine to build and test vigil, then configures the source tree.
#
#   bash packaging/dev-setup.sh [CONFIGURE-OPTION...]
#
# 1. Installs every build and test dependency that is not installed yet (needs root for that;
#    when everything is already installed, apt is not touched at all, so re-runs are fast).
# 2. Runs "autoreconf -fi" and "./configure CONFIGURE-OPTION..." in the top of the tree,
#    e.g. "bash packaging/dev-setup.sh --enable-test-hooks --enable-werror".
#
# Non-interactive (fine under CI=true with no standard input) and safe to run again.

set -euo pipefail

# Each package, and why it is needed.
packages=(
        build-essential   # gcc, make, libc headers
        autoconf          # autoreconf, configure
        automake          # Makefile.in, the parallel test driver
        pkg-config        # PKG_CHECK_MODULES and the .m4 that defines it
        libsystemd-dev    # sd-event, sd-daemon, sd-journal
        libsqlite3-dev    # the incident store
        libconfig-dev     # the main config file
        libinih-dev       # supervisord-style INI worker files
        libcurl4-openssl-dev # the http probe: libcurl's multi interface on the sd-event loop
        libcmocka-dev     # unit tests
        sqlite3           # the sqlite3 shell, used by tests to inspect the store
        systemd           # systemd-analyze (unit file test), systemd-notify (notify tests)
        util-linux        # prlimit (1000-worker test), flock, setpriv
        passwd            # useradd/groupadd for the unprivileged test user
        procps            # ps, pgrep: the tests look for processes left behind
        valgrind          # leak and fd checks
        man-db            # man --warnings: the man-page test, Documentation= in the unit test
        groff-base        # the formatter man uses
        monitoring-plugins-basic  # check_dummy, check_procs: the exec probe's integration test
)

top="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$top"

if [[ ! -f configure.ac || ! -f packaging/dev-setup.sh ]]; then
        echo "dev-setup: $top does not look like the vigil source tree" >&2
        exit 1
fi

missing=()
for p in "${packages[@]}"; do
        status="$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)"
        [[ "$status" == installed ]] || missing+=("$p")
done

if ((${#missing[@]} > 0)); then
        echo "dev-setup: installing ${missing[*]}"
        if [[ "$(id -u)" -ne 0 ]]; then
                echo "dev-setup: installing packages needs root; run as root, or install them first:" >&2
                echo "  apt-get install ${missing[*]}" >&2
                exit 1
        fi
        if ! command -v apt-get >/dev/null; then
                echo "dev-setup: apt-get not found; this script is for Debian 12" >&2
                exit 1
        fi

        export DEBIAN_FRONTEND=noninteractive
        # Wait for a dpkg lock held by another apt (unattended-upgrades on a fresh machine)
        # instead of failing at once.
        apt_opts=(-o DPkg::Lock::Timeout=600)

        # A mirror that answers badly once should not fail the set-up: retry the index update.
        for attempt in 1 2 3; do
                if apt-get "${apt_opts[@]}" update </dev/null; then
                        break
                fi
                if ((attempt == 3)); then
                        echo "dev-setup: apt-get update failed" >&2
                        exit 1
                fi
                sleep $((attempt * 10))
        done
        # Only the missing ones: naming installed packages would also upgrade them, which a
        # set-up script has no business doing behind the operator's back.
        apt-get "${apt_opts[@]}" install -y --no-install-recommends "${missing[@]}" </dev/null

        still_missing=()
        for p in "${packages[@]}"; do
                status="$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)"
                [[ "$status" == installed ]] || still_missing+=("$p")
        done
        if ((${#still_missing[@]} > 0)); then
                echo "dev-setup: still not installed: ${still_missing[*]}" >&2
                exit 1
        fi
else
        echo "dev-setup: all ${#packages[@]} packages already installed"
fi

echo "dev-setup: autoreconf -fi"
autoreconf -fi

echo "dev-setup: ./configure $*"
./configure "$@"

echo "dev-setup: done; now run make -j$(nproc)"
