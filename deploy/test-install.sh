#!/usr/bin/env bash
# Exercises deploy/install.sh end to end without systemd: install, settings file
# handling, upgrade, the daily backup, a refused and a failed upgrade, uninstall, purge.
#
# Usage: deploy/test-install.sh [--binary PATH | --fake] [--system] [--keep]
#   --binary PATH  the archivist binary to install (default: $ARCHIVIST_BINARY, else
#                  target/dist/archivist-<this machine's arch>)
#   --fake         install a stand-in shell script instead of a real binary
#   --system       install into / as on a station machine (service user, ownership,
#                  runuser), inside a private mount namespace whose /etc, /usr/local and
#                  /var/lib are throwaway overlays, so the host is left untouched.
#                  Needs root and unshare(1). Without it the install goes to a temporary
#                  ARCHIVIST_INSTALL_ROOT and no user is created.
#   --keep         keep the temporary folder for inspection
#
# The binary must answer `--version`, create the database on `init` and copy it on
# `backup PATH`; the stand-in does just that.
set -euo pipefail

DEPLOY_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
REPO_ROOT=$(cd -- "$DEPLOY_DIR/.." && pwd -P)

binary=${ARCHIVIST_BINARY:-}
fake=0
keep=0
system=0
original_args=("$@")
while [ $# -gt 0 ]; do
    case "$1" in
        --binary)
            [ $# -ge 2 ] || { echo "test-install: --binary needs a path" >&2; exit 2; }
            binary=$2
            shift
            ;;
        --fake) fake=1 ;;
        --keep) keep=1 ;;
        --system) system=1 ;;
        -h | --help)
            awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
            exit 0
            ;;
        *) echo "test-install: unknown option '$1'" >&2; exit 2 ;;
    esac
    shift
done

case "$(uname -m)" in
    x86_64 | amd64) arch_name=archivist-x86_64 ;;
    aarch64 | arm64) arch_name=archivist-aarch64 ;;
    *) echo "test-install: unsupported machine type $(uname -m)" >&2; exit 2 ;;
esac

if [ "$system" -eq 1 ] && [ -z "${ARCHIVIST_TEST_NAMESPACE:-}" ]; then
    [ "$(id -u)" -eq 0 ] || { echo "test-install: --system needs root" >&2; exit 2; }
    if [ -e /usr/local/bin/archivist ] || id -u archivist >/dev/null 2>&1; then
        echo "test-install: Archivist is installed on this machine; --system needs one without it" >&2
        exit 2
    fi
    exec unshare --mount --propagation private \
        env ARCHIVIST_TEST_NAMESPACE=1 "${BASH_SOURCE[0]}" "${original_args[@]}"
fi

work=$(mktemp -d)
overlaid=()
cleanup() {
    local dir
    for dir in "${overlaid[@]}"; do
        umount "$dir" || true
    done
    if [ "$keep" -eq 1 ]; then
        echo "test-install: kept $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

if [ "$system" -eq 1 ]; then
    # Only this process's private mount namespace sees these overlays.
    for dir in /etc /usr/local /var/lib; do
        name=${dir//\//_}
        mkdir -p "$work/upper$name" "$work/scratch$name"
        mount -t overlay overlay \
            -o "lowerdir=$dir,upperdir=$work/upper$name,workdir=$work/scratch$name" "$dir"
        overlaid+=("$dir")
    done
fi

# A stand-in for the program: enough behaviour for the installer's flow.
write_fake_binary() {
    cat >"$1" <<'EOF'
#!/bin/sh
case "$1" in
    --version) echo "archivist 0.0.0-fake" ;;
    init) echo "fake init: $ARCHIVIST_DB"; echo "fake database" >>"$ARCHIVIST_DB" ;;
    backup) echo "fake backup: $ARCHIVIST_DB -> $2"; cp "$ARCHIVIST_DB" "$2" ;;
    *) echo "fake archivist: $*" ;;
esac
EOF
    chmod 0755 "$1"
}

if [ "$fake" -eq 1 ]; then
    binary="$work/fake-archivist"
    write_fake_binary "$binary"
fi
binary=${binary:-$REPO_ROOT/target/dist/$arch_name}
[ -f "$binary" ] || {
    echo "test-install: $binary not found; build it (deploy/build-release.sh) or pass --binary PATH or --fake" >&2
    exit 2
}
binary=$(cd -- "$(dirname -- "$binary")" && pwd -P)/$(basename -- "$binary")

# The install stick: install.sh and its companions, and the binary under its arch name.
stick="$work/stick"
mkdir -p "$stick"
for file in install.sh archivist.service archivist-backup.service archivist-backup.timer \
    archivist.env.example daily-backup.sh backup-rotate.sh; do
    cp "$DEPLOY_DIR/$file" "$stick/"
done
cp "$binary" "$stick/$arch_name"

log="$work/install.log"
# Root's usual umask, which the installer must not pass on to the service's files.
umask 0022
if [ "$system" -eq 1 ]; then
    root=""
    unset ARCHIVIST_INSTALL_ROOT
else
    root="$work/root"
    export ARCHIVIST_INSTALL_ROOT="$root"
fi
export ARCHIVIST_NO_SYSTEMCTL=1
unset ARCHIVIST_BINARY

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
        echo "    last installer output:"
        tail -n 15 "$log" 2>/dev/null | sed 's/^/    | /'
        failed=$((failed + 1))
    fi
}

# Runs install.sh from the stick with the given arguments, output to $log.
installer() {
    "$stick/install.sh" "$@" >"$log" 2>&1
}

# Same, installing the given binary through ARCHIVIST_BINARY.
installer_with() {
    local chosen=$1
    shift
    ARCHIVIST_BINARY="$chosen" "$stick/install.sh" "$@" >"$log" 2>&1
}

fails() {
    ! "$@"
}

installed_binary_is() {
    cmp -s "$1" "$root/usr/local/bin/archivist"
}

files_match() {
    compgen -G "$1" >/dev/null
}

mode_of() {
    stat -c %a "$1"
}

has_mode() {
    [ -e "$2" ] && [ "$(mode_of "$2")" = "$1" ]
}

log_has() {
    grep -q -- "$1" "$log"
}

nothing_installed() {
    [ ! -e "$root/usr/local/bin/archivist" ] && [ ! -e "$root/etc/archivist" ] &&
        [ ! -e "$root/var/lib/archivist" ] && [ ! -e "$root/etc/systemd/system/archivist.service" ]
}

owned_by() {
    [ "$(stat -c %U:%G "$2")" = "$1" ]
}

user_exists() {
    id -u archivist >/dev/null 2>&1
}

# --- dry run changes nothing ------------------------------------------------------------
check "dry run exits 0" installer --dry-run
check "dry run prints the binary copy" log_has "would run: install -m 0755"
check "dry run writes nothing" nothing_installed

# --- first install ----------------------------------------------------------------------
check "install exits 0" installer
check "binary installed, identical" installed_binary_is "$binary"
check "binary mode 755" has_mode 755 "$root/usr/local/bin/archivist"
check "no staging file left" test ! -e "$root/usr/local/bin/archivist.new"
for unit in archivist.service archivist-backup.service archivist-backup.timer; do
    check "unit $unit installed, mode 644" has_mode 644 "$root/etc/systemd/system/$unit"
done
for helper in daily-backup.sh backup-rotate.sh; do
    check "$helper installed, mode 755" has_mode 755 "$root/usr/local/lib/archivist/$helper"
done
check "settings file written with mode 600" has_mode 600 "$root/etc/archivist/archivist.env"
check "settings file is the example" cmp -s "$DEPLOY_DIR/archivist.env.example" "$root/etc/archivist/archivist.env"
check "example copied next to it" cmp -s "$DEPLOY_DIR/archivist.env.example" "$root/etc/archivist/archivist.env.example"
check "state directory mode 750" has_mode 750 "$root/var/lib/archivist"
check "backups directory exists" test -d "$root/var/lib/archivist/backups"
check "init created the database" test -f "$root/var/lib/archivist/archivist.db"
check "database mode 640 (not readable by others)" has_mode 640 "$root/var/lib/archivist/archivist.db"
check "first install says to edit the settings" log_has "Next: put the Cablecast address"
check "status page address printed" log_has "Status page:  http://.*:8080/"
if [ "$system" -eq 1 ]; then
    check "service user created" user_exists
    check "service user has no login shell" test "$(getent passwd archivist | cut -d: -f7)" = /usr/sbin/nologin
    check "settings file owned by root" owned_by root:root "$root/etc/archivist/archivist.env"
    check "state directory owned by the service user" owned_by archivist:archivist "$root/var/lib/archivist"
    check "database created by the service user" owned_by archivist:archivist "$root/var/lib/archivist/archivist.db"
else
    check "user creation skipped under a test root" log_has "skipping user creation"
fi
check "systemctl skipped" log_has "skipping: systemctl enable archivist.service archivist-backup.timer"

# --- re-run upgrades and keeps the settings ---------------------------------------------
echo "CABLECAST_PASSWORD=edited-by-test" >>"$root/etc/archivist/archivist.env"
chmod 0600 "$root/etc/archivist/archivist.env"
settings_before=$(cat "$root/etc/archivist/archivist.env")
# As an earlier installer left it under root's umask.
chmod 0644 "$root/var/lib/archivist/archivist.db"
check "re-run (upgrade) exits 0" installer
check "upgrade gives the database mode 640" has_mode 640 "$root/var/lib/archivist/archivist.db"
check "re-run reports an upgrade" log_has "upgrading Archivist"
check "re-run keeps the edited settings" test "$(cat "$root/etc/archivist/archivist.env")" = "$settings_before"
check "settings file still mode 600" has_mode 600 "$root/etc/archivist/archivist.env"
check "pre-upgrade backup made" files_match "$root/var/lib/archivist/backups/archivist-pre-upgrade-*.db"
pre_upgrade_copies_are_640() {
    local copy
    for copy in "$root"/var/lib/archivist/backups/archivist-pre-upgrade-*.db; do
        has_mode 640 "$copy" || return 1
    done
}
check "pre-upgrade backup mode 640" pre_upgrade_copies_are_640
check "upgrade does not ask to edit the settings again" fails log_has "Next: put the Cablecast address"
check "previous binary kept" test -f "$root/usr/local/bin/archivist.previous"

# --- the daily backup writes today's copy and keeps the newest ARCHIVIST_BACKUP_KEEP ----
backups="$root/var/lib/archivist/backups"
as_service_user=()
[ "$system" -eq 1 ] && as_service_user=(runuser -u archivist --)
daily_backup() {
    "${as_service_user[@]}" env ARCHIVIST_PROGRAM="$root/usr/local/bin/archivist" \
        ARCHIVIST_DB="$root/var/lib/archivist/archivist.db" ARCHIVIST_BACKUP_KEEP=3 \
        "$root/usr/local/lib/archivist/daily-backup.sh" "$backups" >"$log" 2>&1
}
daily_count() {
    find "$backups" -name 'archivist-[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9].db' | wc -l
}
for day in 01 02 03 04; do
    : >"$backups/archivist-2000-01-$day.db"
done
check "daily backup exits 0" daily_backup
check "daily backup wrote today's file" test -s "$backups/archivist-$(date +%F).db"
check "daily backup kept the newest 3" test "$(daily_count)" -eq 3
check "daily backup deleted the oldest" test ! -e "$backups/archivist-2000-01-02.db"
check "daily backup kept the newer old ones" test -e "$backups/archivist-2000-01-04.db"
check "daily backup left pre-upgrade copies alone" files_match "$backups/archivist-pre-upgrade-*.db"
check "second daily backup on the same day exits 0" daily_backup
check "no partial file left" fails files_match "$backups/*.partial"

# --- ARCHIVIST_BINARY overrides the arch-named file -------------------------------------
other="$work/other-archivist"
write_fake_binary "$other"
sed -i 's/0.0.0-fake/9.9.9-override/' "$other"
check "ARCHIVIST_BINARY install exits 0" installer_with "$other"
check "ARCHIVIST_BINARY binary installed" installed_binary_is "$other"
check "ARCHIVIST_BINARY version reported" log_has "new version: archivist 9.9.9-override"
check "back to the binary under test" installer

# --- a binary that does not run is refused before anything changes ---------------------
broken="$work/broken-archivist"
cat >"$broken" <<'EOF'
#!/bin/sh
echo "cannot execute binary file: Exec format error" >&2
exit 126
EOF
chmod 0755 "$broken"
check "binary that does not run is refused" fails installer_with "$broken"
check "refusal explains why" log_has "does not run on this machine"
check "installed binary unchanged after refusal" installed_binary_is "$binary"
check "no staging file left after refusal" test ! -e "$root/usr/local/bin/archivist.new"

# --- a failing migration puts the previous version back ---------------------------------
failing="$work/failing-archivist"
cat >"$failing" <<'EOF'
#!/bin/sh
case "$1" in
    --version) echo "archivist 0.0.1-broken" ;;
    *) echo "migration failed" >&2; exit 3 ;;
esac
EOF
chmod 0755 "$failing"
check "upgrade with failing init exits non-zero" fails installer_with "$failing"
check "failure says the previous version was put back" log_has "previous version was put back"
check "previous binary restored" installed_binary_is "$binary"

# --- uninstall keeps data and settings ----------------------------------------------------
check "uninstall exits 0" installer --uninstall
check "binary removed" test ! -e "$root/usr/local/bin/archivist"
check "previous binary removed" test ! -e "$root/usr/local/bin/archivist.previous"
check "units removed" fails files_match "$root/etc/systemd/system/archivist*"
check "helper removed" test ! -e "$root/usr/local/lib/archivist"
check "database kept" test -f "$root/var/lib/archivist/archivist.db"
check "settings kept" test "$(cat "$root/etc/archivist/archivist.env")" = "$settings_before"

# --- reinstall keeps the settings, purge removes everything ------------------------------
check "reinstall after uninstall exits 0" installer
check "reinstall keeps the settings" test "$(cat "$root/etc/archivist/archivist.env")" = "$settings_before"
check "reinstall does not ask to edit the kept settings" fails log_has "Next: put the Cablecast address"
check "reinstall says the settings are kept" log_has "keeping existing settings"
check "purge dry run exits 0" installer --purge --dry-run
check "purge dry run keeps the data" test -f "$root/var/lib/archivist/archivist.db"
check "purge exits 0" installer --uninstall --purge
check "purge removes the database" test ! -e "$root/var/lib/archivist"
check "purge removes the settings" test ! -e "$root/etc/archivist"
check "purge removes the binary" test ! -e "$root/usr/local/bin/archivist"
if [ "$system" -eq 1 ]; then
    check "purge removes the service user" fails user_exists
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
