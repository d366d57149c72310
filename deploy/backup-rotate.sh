#!/bin/sh
# Keeps the newest ARCHIVIST_BACKUP_KEEP (default 14; 0 keeps all) daily Archivist backups
# in a directory and deletes older ones. Run by archivist-backup.service after each backup.
#
# Usage: backup-rotate.sh DIRECTORY
#
# Only files named archivist-YYYY-MM-DD.db are counted or deleted, so copies made by hand
# or before an upgrade (archivist-pre-upgrade-*.db) are never touched. The names sort by
# date, so the newest are the last in name order.
set -eu

die() {
    echo "backup-rotate: $*" >&2
    exit 1
}

[ $# -eq 1 ] || die "usage: backup-rotate.sh DIRECTORY"
dir=$1
[ -d "$dir" ] || die "$dir is not a directory"

keep=${ARCHIVIST_BACKUP_KEEP:-14}
case "$keep" in
    '' | *[!0-9]*) die "ARCHIVIST_BACKUP_KEEP must be a whole number, not '$keep'" ;;
esac
# Leading zeros would make the shell read "014" as octal.
keep=$(echo "$keep" | sed 's/^0*//')
keep=${keep:-0}
[ "$keep" -eq 0 ] && exit 0

pattern='archivist-[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9].db'
total=0
for file in "$dir"/$pattern; do
    [ -f "$file" ] && total=$((total + 1))
done
excess=$((total - keep))
[ "$excess" -gt 0 ] || exit 0

# The glob expands in name order, which is date order: the first $excess are the oldest.
for file in "$dir"/$pattern; do
    [ "$excess" -gt 0 ] || break
    [ -f "$file" ] || continue
    rm -f -- "$file" || die "could not delete $file"
    echo "backup-rotate: deleted $file (keeping $keep)"
    excess=$((excess - 1))
done
