#!/usr/bin/env bash
# Installs, upgrades or removes Archivist on a Debian-family machine with systemd.
# Run it as root from the folder that holds it, the two binaries and the unit files
# (the install stick):
#
#   sudo ./install.sh               install, or upgrade in place if already installed
#   sudo ./install.sh --uninstall   remove the program and its units; keep the database
#                                   (/var/lib/archivist) and settings (/etc/archivist)
#   sudo ./install.sh --purge       remove those too, and the archivist user
#   ./install.sh --dry-run [...]    print what would be done, change nothing
#
# Environment (for testing and special cases):
#   ARCHIVIST_BINARY=PATH        install this binary instead of archivist-<arch> from here
#   ARCHIVIST_INSTALL_ROOT=DIR   install under DIR instead of / (no user is created, no
#                                systemctl is run, nothing runs as another user)
#   ARCHIVIST_NO_SYSTEMCTL=1     install the files but do not call systemctl
set -euo pipefail

SOURCE_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
SERVICE_USER=archivist
UNITS=(archivist.service archivist-backup.service archivist-backup.timer)
HELPERS=(daily-backup.sh backup-rotate.sh)

ROOT=${ARCHIVIST_INSTALL_ROOT:-/}
ROOT=${ROOT%/}             # "/" becomes "", "/tmp/x/" becomes "/tmp/x"
BIN="$ROOT/usr/local/bin/archivist"
LIB_DIR="$ROOT/usr/local/lib/archivist"
CONF_DIR="$ROOT/etc/archivist"
ENV_FILE="$CONF_DIR/archivist.env"
UNIT_DIR="$ROOT/etc/systemd/system"
STATE_DIR="$ROOT/var/lib/archivist"
BACKUP_DIR="$STATE_DIR/backups"
# The database path the installed program is told to use. Under a test root it points
# into that root; on a real install it is the path the service unit sets.
DB_PATH="$STATE_DIR/archivist.db"

dry_run=0
uninstall=0
purge=0

say() {
    echo "install: $*"
}

die() {
    echo "install: error: $*" >&2
    exit 1
}

usage() {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
}

# Runs a command, or only prints it under --dry-run.
run() {
    if [ "$dry_run" -eq 1 ]; then
        echo "would run:$(printf ' %q' "$@")"
    else
        "$@"
    fi
}

is_real_root() {
    [ -z "$ROOT" ]
}

use_systemctl() {
    is_real_root && [ "${ARCHIVIST_NO_SYSTEMCTL:-0}" != 1 ]
}

systemctl_run() {
    if use_systemctl; then
        run systemctl "$@"
    else
        say "skipping: systemctl $*"
    fi
}

# Runs the installed program as the service user, with the database the service uses,
# under the units' UMask=0027: the files it creates (the database, the pre-upgrade copy)
# get mode 0640, as the service's own files do, whatever root's umask is.
run_as_service_user() {
    (
        umask 0027
        if is_real_root; then
            run runuser -u "$SERVICE_USER" -- env ARCHIVIST_DB="$DB_PATH" "$@"
        else
            run env ARCHIVIST_DB="$DB_PATH" "$@"
        fi
    )
}

# Prints archivist-x86_64 or archivist-aarch64 for this machine.
binary_name() {
    local machine
    machine=$(uname -m)
    case "$machine" in
        x86_64 | amd64) echo archivist-x86_64 ;;
        aarch64 | arm64) echo archivist-aarch64 ;;
        armv7l | armv6l | armhf)
            die "this is a 32-bit ARM system ($machine); Archivist needs a 64-bit OS (for a Raspberry Pi: Raspberry Pi OS 64-bit)"
            ;;
        *) die "unsupported machine type '$machine'; Archivist is built for x86_64 and aarch64" ;;
    esac
}

# Copies a file into place through a temporary name in the same directory, so the
# target is never seen half-written.
install_file() {
    local mode=$1 source=$2 target=$3
    run install -m "$mode" "$source" "$target.new"
    run mv -f "$target.new" "$target"
}

unit_is_active() {
    use_systemctl && systemctl is-active --quiet "$1" 2>/dev/null
}

# Prints the status page address from ARCHIVIST_LISTEN in the settings file (in a dry
# run of a first install, from the example that would become it).
status_address() {
    local listen host port settings=$ENV_FILE
    [ -e "$settings" ] || settings="$SOURCE_DIR/archivist.env.example"
    listen=$(sed -n 's/^[[:space:]]*ARCHIVIST_LISTEN[[:space:]]*=[[:space:]]*//p' "$settings" 2>/dev/null | tail -n 1)
    listen=${listen//\"/}
    listen=${listen//\'/}
    if [ -z "$listen" ]; then
        echo "(ARCHIVIST_LISTEN is not set in $ENV_FILE)"
        return
    fi
    host=${listen%:*}
    port=${listen##*:}
    case "$host" in
        0.0.0.0 | "[::]" | "")
            host=$(hostname -I 2>/dev/null | awk '{print $1}')
            host=${host:-$(hostname)}
            ;;
    esac
    echo "http://$host:$port/"
}

do_install() {
    local name binary new_binary upgrading=0 was_running=0
    name=$(binary_name)
    binary=${ARCHIVIST_BINARY:-$SOURCE_DIR/$name}
    [ -f "$binary" ] || die "$binary not found (the install folder must hold $name next to install.sh)"
    local file
    for file in "${UNITS[@]}" "${HELPERS[@]}" archivist.env.example; do
        [ -f "$SOURCE_DIR/$file" ] || die "$SOURCE_DIR/$file not found (copy the whole install folder)"
    done
    if use_systemctl && [ ! -d /run/systemd/system ]; then
        local reason="systemd is not running on this machine; set ARCHIVIST_NO_SYSTEMCTL=1 to install the files only"
        [ "$dry_run" -eq 1 ] || die "$reason"
        say "note: a real run would stop here: $reason"
    fi
    [ -e "$BIN" ] && upgrading=1

    if [ "$upgrading" -eq 1 ]; then
        say "upgrading Archivist in $ROOT/ with $binary"
    else
        say "installing Archivist in $ROOT/ from $binary"
    fi

    if is_real_root; then
        if id -u "$SERVICE_USER" >/dev/null 2>&1; then
            say "user $SERVICE_USER exists"
        else
            say "creating system user $SERVICE_USER"
            run useradd --system --user-group --no-create-home --home-dir /nonexistent \
                --shell /usr/sbin/nologin --comment "Archivist service" "$SERVICE_USER"
        fi
    else
        say "skipping user creation (installing under $ROOT)"
    fi

    run mkdir -p "$(dirname "$BIN")" "$LIB_DIR" "$CONF_DIR" "$UNIT_DIR" "$BACKUP_DIR"
    # Explicit modes: an administrator's restrictive umask must not lock the service
    # user out of its helper scripts.
    run chmod 0755 "$LIB_DIR" "$CONF_DIR"
    run chmod 0750 "$STATE_DIR" "$BACKUP_DIR"
    if is_real_root; then
        run chown "$SERVICE_USER:$SERVICE_USER" "$STATE_DIR" "$BACKUP_DIR"
    fi

    # The settings hold the Cablecast password: root only. systemd reads the file as root
    # before it starts the service, so the service user never needs to.
    local settings_kept=0
    if [ -e "$ENV_FILE" ]; then
        settings_kept=1
        say "keeping existing settings $ENV_FILE"
    else
        say "writing settings $ENV_FILE from the example (edit it next)"
        run install -m 0600 "$SOURCE_DIR/archivist.env.example" "$ENV_FILE.new"
        run mv -n "$ENV_FILE.new" "$ENV_FILE"
    fi
    install_file 0644 "$SOURCE_DIR/archivist.env.example" "$CONF_DIR/archivist.env.example"

    # Stage the new binary next to the old one and check that it runs on this machine
    # before anything is stopped.
    new_binary="$BIN.new"
    run install -m 0755 "$binary" "$new_binary"
    if [ "$dry_run" -eq 0 ]; then
        local version
        version=$("$new_binary" --version 2>&1) || {
            rm -f "$new_binary"
            die "$binary does not run on this machine: $version"
        }
        say "new version: $version"
    fi

    if unit_is_active archivist.service; then
        was_running=1
        say "stopping archivist.service"
        systemctl_run stop archivist.service
    fi

    # A copy of the database before the new version migrates it, made by the version
    # that wrote it. Daily rotation leaves these alone.
    if [ "$upgrading" -eq 1 ] && [ -e "$DB_PATH" ]; then
        local stamp snapshot n=1
        stamp=$(date +%Y%m%dT%H%M%S)
        snapshot="$BACKUP_DIR/archivist-pre-upgrade-$stamp.db"
        while [ -e "$snapshot" ]; do
            n=$((n + 1))
            snapshot="$BACKUP_DIR/archivist-pre-upgrade-$stamp-$n.db"
        done
        say "backing up the database to $snapshot"
        if ! run_as_service_user "$BIN" backup "$snapshot"; then
            rm -f "$new_binary"
            [ "$was_running" -eq 1 ] && systemctl_run start archivist.service
            die "backup before upgrade failed; nothing was changed"
        fi
    fi

    if [ "$upgrading" -eq 1 ]; then
        run ln -f "$BIN" "$BIN.previous"
    fi
    run mv -f "$new_binary" "$BIN"
    say "installed $BIN"

    local helper unit
    for helper in "${HELPERS[@]}"; do
        install_file 0755 "$SOURCE_DIR/$helper" "$LIB_DIR/$helper"
    done
    for unit in "${UNITS[@]}"; do
        install_file 0644 "$SOURCE_DIR/$unit" "$UNIT_DIR/$unit"
    done

    # Files an earlier installer left readable by everyone (root's umask): the service's
    # mode. `find` never follows the links it meets.
    if [ "$dry_run" -eq 0 ] && [ -d "$STATE_DIR" ]; then
        find "$STATE_DIR" -type f -perm /o=rwx -exec chmod o-rwx {} +
    fi

    say "preparing the database (archivist init)"
    if ! run_as_service_user "$BIN" init; then
        if [ "$upgrading" -eq 1 ]; then
            run mv -f "$BIN.previous" "$BIN"
            systemctl_run daemon-reload
            [ "$was_running" -eq 1 ] && systemctl_run start archivist.service
            die "archivist init failed with the new version; the previous version was put back"
        fi
        die "archivist init failed; see the messages above"
    fi

    systemctl_run daemon-reload
    systemctl_run enable archivist.service archivist-backup.timer
    systemctl_run restart archivist.service
    systemctl_run start archivist-backup.timer

    say "done."
    echo
    echo "  Status page:  $(status_address)"
    echo "  Settings:     $ENV_FILE"
    echo "  Logs:         journalctl -u archivist -f"
    # The hint is for settings just written from the example; kept settings (an upgrade,
    # or a reinstall after --uninstall) are already the station's.
    if [ "$settings_kept" -eq 0 ]; then
        echo
        echo "  Next: put the Cablecast address, user and password in the settings file,"
        echo "  then: sudo systemctl restart archivist"
    fi
}

do_uninstall() {
    say "removing Archivist from $ROOT/"
    if use_systemctl; then
        local unit
        for unit in archivist-backup.timer archivist-backup.service archivist.service; do
            if [ -e "$UNIT_DIR/$unit" ]; then
                systemctl_run disable --now "$unit"
            fi
        done
    else
        say "skipping: systemctl disable --now ${UNITS[*]}"
    fi
    local unit
    for unit in "${UNITS[@]}"; do
        run rm -f "$UNIT_DIR/$unit"
    done
    systemctl_run daemon-reload
    run rm -f "$BIN" "$BIN.previous" "$BIN.new"
    run rm -rf "$LIB_DIR"

    if [ "$purge" -eq 1 ]; then
        say "purging the database, backups and settings"
        run rm -rf "$STATE_DIR" "$CONF_DIR"
        if is_real_root && id -u "$SERVICE_USER" >/dev/null 2>&1; then
            run userdel "$SERVICE_USER"
            # userdel removes the group with it on Debian; remove it if it is left over.
            if getent group "$SERVICE_USER" >/dev/null 2>&1; then
                run groupdel "$SERVICE_USER" || true
            fi
        fi
        say "done: Archivist and all its data are removed."
    else
        say "done. Kept the database in $STATE_DIR and the settings in $CONF_DIR"
        say "(sudo ./install.sh --purge removes them)."
    fi
}

while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) dry_run=1 ;;
        --uninstall) uninstall=1 ;;
        --purge)
            uninstall=1
            purge=1
            ;;
        -h | --help)
            usage
            exit 0
            ;;
        *) die "unknown option '$1' (try --help)" ;;
    esac
    shift
done

case "$ROOT" in
    "" | /*) ;;
    *) die "ARCHIVIST_INSTALL_ROOT must be an absolute path, not '$ROOT'" ;;
esac
if is_real_root && [ "$dry_run" -eq 0 ] && [ "$(id -u)" -ne 0 ]; then
    die "run as root: sudo $0"
fi
# Commands below run as the service user, which may not be able to read the install
# folder (a stick mounted for the desktop user); every path used is absolute.
cd /

if [ "$uninstall" -eq 1 ]; then
    do_uninstall
else
    do_install
fi
