#!/usr/bin/env bash
# Boots Debian 12 with systemd in a container (debootstrap + systemd-nspawn -b), installs
# Archivist there with install.sh and checks the units under the real systemd:
#   - archivist.service reaches "active (running)" through READY=1, with the figures as
#     its status;
#   - the status page answers;
#   - kill -9 of the monitor is restarted (Restart=on-failure);
#   - systemctl stop is clean: exit 0, the closing line, the write-ahead log checkpointed;
#   - archivist-backup.service (what the timer starts) succeeds and writes the day's copy;
#   - with SystemCallErrorNumber= cleared (a blocked system call kills instead of failing
#     with EPERM), all of the above runs without a SIGSYS.
# The monitor polls `archivist demo-station`, run inside the container on loopback.
#
# Usage: deploy/test-systemd.sh [--binary PATH] [--keep]
#   --binary PATH  the x86_64 archivist to install (default target/dist/archivist-x86_64)
#   --keep         keep the container's root folder for inspection
#
# Needs root, debootstrap and systemd-nspawn (installed with apt-get when missing) and
# the Debian mirror of the machine's apt sources. The debootstrapped root is cached in
# /var/cache/archivist-ci/bookworm (ARCHIVIST_CI_CACHE overrides the folder); each run
# boots a throwaway overlay of it, so the cache stays clean.
set -euo pipefail

DEPLOY_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
REPO_ROOT=$(cd -- "$DEPLOY_DIR/.." && pwd -P)
CACHE_DIR=${ARCHIVIST_CI_CACHE:-/var/cache/archivist-ci}
BASE_ROOT="$CACHE_DIR/bookworm"
# Packages the checks use inside the container, on top of debootstrap's minbase.
INCLUDE=systemd,systemd-sysv,dbus,procps,sqlite3,curl,ca-certificates
# Bounds on the waits below; a healthy run takes a few seconds for each.
BOOT_SECS=120
STEP_SECS=90
# archivist.service's RestartSec=, plus margin, for the kill -9 check.
RESTART_SECS=60
# The status page address the test settings give the service.
PAGE=http://127.0.0.1:8080/

binary=$REPO_ROOT/target/dist/archivist-x86_64
keep=0
while [ $# -gt 0 ]; do
    case "$1" in
        --binary)
            [ $# -ge 2 ] || { echo "test-systemd: --binary needs a path" >&2; exit 2; }
            binary=$2
            shift
            ;;
        --keep) keep=1 ;;
        -h | --help)
            awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
            exit 0
            ;;
        *) echo "test-systemd: unknown option '$1'" >&2; exit 2 ;;
    esac
    shift
done

die() {
    echo "test-systemd: $*" >&2
    exit 1
}

[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, systemd-nspawn)"
[ "$(uname -m)" = x86_64 ] || die "runs on x86_64 only"
[ -x "$binary" ] || die "$binary not found; build it (deploy/build-release.sh) or pass --binary PATH"

if ! command -v debootstrap >/dev/null || ! command -v systemd-nspawn >/dev/null; then
    echo "test-systemd: installing debootstrap and systemd-container"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends debootstrap systemd-container >/dev/null
fi

# The Debian mirror apt already uses (deb822 or one-line sources), else the default.
debian_mirror() {
    local url
    url=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
        grep -v '^[[:space:]]*#' |
        grep -oE 'https?://[^[:space:]]+/debian/?([[:space:]]|$)' | head -n 1 | tr -d '[:space:]') || true
    echo "${url:-http://deb.debian.org/debian}"
}

if [ ! -x "$BASE_ROOT/usr/lib/systemd/systemd" ]; then
    mirror=$(debian_mirror)
    echo "test-systemd: debootstrap bookworm from $mirror into $BASE_ROOT (once; a few minutes)"
    mkdir -p "$CACHE_DIR"
    rm -rf "$BASE_ROOT.tmp"
    debootstrap --variant=minbase --include="$INCLUDE" bookworm "$BASE_ROOT.tmp" "$mirror" \
        >"$CACHE_DIR/debootstrap.log" 2>&1 ||
        die "debootstrap failed; see $CACHE_DIR/debootstrap.log"
    mv "$BASE_ROOT.tmp" "$BASE_ROOT"
fi

work=$(mktemp -d)
root="$work/root"
mkdir -p "$root" "$work/upper" "$work/scratch"
nspawn_pid=""
mounted=0
machine="archivist-ci-$$"

cleanup() {
    if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
        # SIGTERM asks nspawn to shut the container down; wait, then force.
        kill "$nspawn_pid" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$nspawn_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$nspawn_pid" 2>/dev/null || true
        wait "$nspawn_pid" 2>/dev/null || true
    fi
    [ "$mounted" -eq 1 ] && umount "$root"
    if [ "$keep" -eq 1 ]; then
        echo "test-systemd: kept $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

# A throwaway copy of the cached root: an overlay when the kernel allows it, else a copy.
if mount -t overlay overlay \
    -o "lowerdir=$BASE_ROOT,upperdir=$work/upper,workdir=$work/scratch" "$root" 2>/dev/null; then
    mounted=1
else
    cp -a "$BASE_ROOT/." "$root/"
fi

# The install stick, and settings that point the monitor at the container's demo station
# and check often. install.sh keeps settings it finds.
stick="$root/root/stick"
mkdir -p "$stick" "$root/etc/archivist"
for file in install.sh archivist.service archivist-backup.service archivist-backup.timer \
    archivist.env.example daily-backup.sh backup-rotate.sh; do
    cp "$DEPLOY_DIR/$file" "$stick/"
done
cp "$binary" "$stick/archivist-x86_64"
cat >"$root/etc/archivist/archivist.env" <<'EOF'
CABLECAST_API_URL=http://127.0.0.1:8090/CablecastAPI/v1
ARCHIVIST_LISTEN=127.0.0.1:8080
ARCHIVIST_INTERVAL=5
EOF
chmod 0600 "$root/etc/archivist/archivist.env"
# A blocked system call kills the process (SIGSYS) instead of failing with EPERM, so any
# call the filter does not allow shows up as a crash.
for unit in archivist.service archivist-backup.service; do
    mkdir -p "$root/etc/systemd/system/$unit.d"
    printf '[Service]\nSystemCallErrorNumber=\n' >"$root/etc/systemd/system/$unit.d/strict-seccomp.conf"
done
echo archivist-ci >"$root/etc/hostname"

console="$work/console.log"
echo "test-systemd: booting the container (console in $console)"
# --keep-unit: no system bus on a CI host to register a scope with; --register=no: no
# machined either. A private network: the container's loopback is its own.
systemd-nspawn --quiet --keep-unit --register=no --private-network \
    --machine="$machine" --directory="$root" --boot >"$console" 2>&1 </dev/null &
nspawn_pid=$!

# The container's PID 1 (its systemd): nspawn's child.
leader=""
for _ in $(seq 1 $((BOOT_SECS * 10))); do
    kill -0 "$nspawn_pid" 2>/dev/null || { cat "$console" >&2; die "systemd-nspawn exited"; }
    for child in $(cat /proc/"$nspawn_pid"/task/*/children 2>/dev/null); do
        if [ "$(cat /proc/"$child"/comm 2>/dev/null)" = systemd ]; then
            leader=$child
        fi
    done
    [ -n "$leader" ] && break
    sleep 0.1
done
[ -n "$leader" ] || { cat "$console" >&2; die "the container's systemd did not start"; }

# Runs a command inside the container.
inside() {
    nsenter --target "$leader" --mount --uts --ipc --net --pid --root --wd=/ -- \
        env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
}

# Waits up to $1 seconds for the command after it to succeed.
within() {
    local secs=$1
    shift
    local tries=$((secs * 5))
    while [ "$tries" -gt 0 ]; do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.2
        tries=$((tries - 1))
    done
    return 1
}

booted() {
    local state
    state=$(inside systemctl is-system-running 2>/dev/null) || true
    [ "$state" = running ] || [ "$state" = degraded ]
}
within "$BOOT_SECS" booted || { tail -n 30 "$console" >&2; die "the container did not finish booting"; }
echo "test-systemd: booted: $(inside systemctl is-system-running || true); $(inside systemctl --version | head -n 1)"

passed=0
failed=0
check() {
    local description=$1
    shift
    if "$@"; then
        echo "ok - $description"
        passed=$((passed + 1))
    else
        echo "FAILED - $description"
        failed=$((failed + 1))
    fi
}

show() {
    inside systemctl show --property="$2" --value "$1"
}

journal_has() {
    inside journalctl --no-pager -q -u "$1" | grep -q -- "$2"
}

# --- the Cablecast the monitor polls: the demo station, on the container's loopback ----
check "demo station started" inside systemd-run --quiet --unit=cablecast-demo \
    /root/stick/archivist-x86_64 demo-station --listen 127.0.0.1:8090 --shows 200
station_answers() {
    inside curl -fsS -o /dev/null http://127.0.0.1:8090/CablecastAPI/v1/shows?page_size=1
}
check "demo station answers" within "$STEP_SECS" station_answers

# --- install -----------------------------------------------------------------------------
install_log="$work/install.log"
if inside /root/stick/install.sh >"$install_log" 2>&1; then
    check "install.sh exits 0" true
else
    check "install.sh exits 0" false
    sed 's/^/    | /' "$install_log"
fi

# --- READY=1 and active (running) --------------------------------------------------------
check "archivist.service is active" within "$STEP_SECS" inside systemctl is-active --quiet archivist.service
running_line() {
    inside systemctl status --no-pager archivist.service | grep -q 'Active: active (running)'
}
check "systemctl status says active (running)" running_line
status_has_figures() {
    show archivist.service StatusText | grep -q 'VODs'
}
check "READY=1 came with the figures as status" within "$STEP_SECS" status_has_figures
echo "    status: $(show archivist.service StatusText)"

# --- the status page ---------------------------------------------------------------------
page_answers() {
    inside curl -fsS "$PAGE" | grep -qi 'archivist'
}
check "status page answers" within "$STEP_SECS" page_answers
healthz_ok() {
    inside curl -fsS "${PAGE}healthz" >/dev/null
}
check "/healthz answers 200" within "$STEP_SECS" healthz_ok

# --- kill -9 is restarted ----------------------------------------------------------------
first_pid=$(show archivist.service MainPID)
inside kill -9 "$first_pid" || true
restarted() {
    local pid
    pid=$(show archivist.service MainPID)
    [ "$pid" != 0 ] && [ "$pid" != "$first_pid" ] && inside systemctl is-active --quiet archivist.service
}
check "kill -9 is restarted" within "$RESTART_SECS" restarted
check "the restart is counted" test "$(show archivist.service NRestarts)" -ge 1

# --- systemctl stop is clean -------------------------------------------------------------
# Let the restarted monitor finish a cycle first, so the stop meets a working service.
within "$STEP_SECS" status_has_figures || true
stop_started=$(date +%s)
check "systemctl stop exits 0" inside systemctl stop archivist.service
stop_took=$(($(date +%s) - stop_started))
check "stopped within 10 s (took ${stop_took} s)" test "$stop_took" -le 10
check "the monitor exited 0" test "$(show archivist.service ExecMainStatus)" = 0
check "the stop counts as success" test "$(show archivist.service Result)" = success
check "the closing line is in the journal" journal_has archivist.service 'stopped on SIGTERM'
wal_empty() {
    local wal="$root/var/lib/archivist/archivist.db-wal"
    [ ! -e "$wal" ] || [ ! -s "$wal" ]
}
check "write-ahead log checkpointed (empty or gone)" wal_empty
check "database integrity ok" test "$(inside sqlite3 -readonly /var/lib/archivist/archivist.db 'PRAGMA integrity_check')" = ok

# --- the daily backup (what the timer starts) --------------------------------------------
check "backup timer enabled" inside systemctl is-enabled --quiet archivist-backup.timer
check "archivist-backup.service succeeds" inside systemctl start archivist-backup.service
check "its result is success" test "$(show archivist-backup.service Result)" = success
check "today's backup written" test -s "$root/var/lib/archivist/backups/archivist-$(date +%F).db"
check "monitor starts again" inside systemctl start archivist.service
check "and is active" within "$STEP_SECS" inside systemctl is-active --quiet archivist.service

# --- an engineer's `archivist status` on the box ----------------------------------------
status_elsewhere=$(inside sh -c 'cd /root && archivist status' 2>&1) || true
check "status elsewhere names the service's database" \
    grep -q 'keeps its database in /var/lib/archivist/archivist.db' <<<"$status_elsewhere"
status_as_service_user() {
    inside runuser -u archivist -- archivist --db /var/lib/archivist/archivist.db status >/dev/null
}
check "the way it names works" status_as_service_user

# --- no blocked system call anywhere ----------------------------------------------------
strict_loaded() {
    show "$1" DropInPaths | grep -q strict-seccomp.conf
}
check "archivist.service ran with SystemCallErrorNumber= cleared" strict_loaded archivist.service
check "archivist-backup.service ran with SystemCallErrorNumber= cleared" strict_loaded archivist-backup.service
no_sigsys() {
    ! inside journalctl --no-pager -q | grep -E 'status=31/SYS|SIGSYS' >&2
}
check "no SIGSYS with SystemCallErrorNumber= cleared" no_sigsys

if [ "$failed" -gt 0 ]; then
    echo "test-systemd: journal of the archivist units:"
    inside journalctl --no-pager -q -u archivist.service -u archivist-backup.service | tail -n 40 | sed 's/^/    | /'
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
