#!/usr/bin/env bash
# Builds both static release binaries and runs them as a station box would:
#   - the aarch64 binary under qemu-aarch64: --version, init, a demo station, one
#     `monitor --single-run` against it, `status --json` (checks total_vods > 0) and
#     `backup`;
#   - the x86_64 binary through deploy/test-install.sh (install, upgrade, daily backup,
#     uninstall, purge in a temporary root), then through deploy/test-systemd.sh (the
#     units under a real systemd, booted in a Debian container).
# Called by .ci/run; runnable by hand from any directory. Installs the toolchain with
# deploy/setup-toolchain.sh first, which needs root only when something is missing.
#
# Usage: deploy/ci-cross.sh [--no-build]
#   --no-build  use the binaries already in target/dist/
set -euo pipefail

DEPLOY_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
REPO_ROOT=$(cd -- "$DEPLOY_DIR/.." && pwd -P)
DIST_DIR="$REPO_ROOT/target/dist"
# How long the demo station may take to start under qemu.
STATION_START_SECS=30

die() {
    echo "ci-cross: $*" >&2
    exit 1
}

build=1
case "${1:-}" in
    "") ;;
    --no-build) build=0 ;;
    -h | --help)
        awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
        exit 0
        ;;
    *) die "unknown option '$1' (try --help)" ;;
esac

if [ "$build" -eq 1 ]; then
    "$DEPLOY_DIR/setup-toolchain.sh"
    "$DEPLOY_DIR/build-release.sh"
fi
arm="$DIST_DIR/archivist-aarch64"
x86="$DIST_DIR/archivist-x86_64"
if [ ! -x "$arm" ] || [ ! -x "$x86" ]; then
    die "binaries missing in $DIST_DIR; run without --no-build"
fi

runner=()
[ "$(uname -m)" = aarch64 ] || runner=(qemu-aarch64)
command -v "${runner[@]:-true}" >/dev/null || die "qemu-aarch64 not found; run deploy/setup-toolchain.sh"

work=$(mktemp -d)
station_pid=""
cleanup() {
    if [ -n "$station_pid" ]; then
        kill "$station_pid" 2>/dev/null || true
        wait "$station_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# Runs the arm binary with a clean environment and the test database; echoes the command.
arm_run() {
    echo "ci-cross: \$ ${runner[*]:+${runner[*]} }archivist-aarch64 $*" >&2
    env -i PATH="$PATH" ARCHIVIST_DB="$work/arm.db" ${CABLECAST_API_URL:+CABLECAST_API_URL="$CABLECAST_API_URL"} \
        "${runner[@]}" "$arm" "$@"
}

version=$(arm_run --version)
echo "$version"
[[ "$version" =~ ^archivist\ [0-9][^\ ]*\ \(commit\ ([0-9a-f]{7,}|unknown), ]] ||
    die "--version line malformed: $version"
[[ "$version" == *", aarch64-unknown-linux-musl, SQLite 3."*")" ]] ||
    die "--version does not name the aarch64 musl target and SQLite: $version"

arm_run init

# The demo station on a free loopback port (port 0); it prints its API address first.
"${runner[@]}" "$arm" demo-station --listen 127.0.0.1:0 --shows 100 >"$work/station.out" 2>&1 &
station_pid=$!
waited=0
until grep -qs '^CABLECAST_API_URL=' "$work/station.out"; do
    kill -0 "$station_pid" 2>/dev/null || die "demo station exited: $(cat "$work/station.out")"
    [ "$waited" -lt $((STATION_START_SECS * 10)) ] || die "demo station did not start in ${STATION_START_SECS}s"
    sleep 0.1
    waited=$((waited + 1))
done
CABLECAST_API_URL=$(sed -n 's/^CABLECAST_API_URL=//p' "$work/station.out" | head -n 1)
export CABLECAST_API_URL
echo "ci-cross: demo station at $CABLECAST_API_URL"

arm_run monitor --single-run
arm_run status --json >"$work/status.json"
total_vods=$(sed -n 's/^ *"total_vods": *\([0-9]*\).*/\1/p' "$work/status.json")
echo "ci-cross: status --json: total_vods=${total_vods:-missing}"
[ "${total_vods:-0}" -gt 0 ] || die "status after the arm cycle shows no VODs: $(cat "$work/status.json")"
arm_run backup "$work/arm-copy.db"

kill "$station_pid"
wait "$station_pid" 2>/dev/null || true
station_pid=""

"$DEPLOY_DIR/test-install.sh" --binary "$x86"
"$DEPLOY_DIR/test-systemd.sh" --binary "$x86"
echo "ci-cross: passed"
