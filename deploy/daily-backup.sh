#!/bin/sh
# Writes today's Archivist backup, DIRECTORY/archivist-YYYY-MM-DD.db, then removes old ones
# with backup-rotate.sh. Run by archivist-backup.service.
#
# Usage: daily-backup.sh DIRECTORY
#
# The copy is made under a temporary name and renamed when complete, so a half-written
# file never carries a backup's name (a copy tool or replication picking it up sees
# either the old file or the whole new one). A second run on the same day replaces that
# day's file.
set -eu

die() {
    echo "daily-backup: $*" >&2
    exit 1
}

[ $# -eq 1 ] || die "usage: daily-backup.sh DIRECTORY"
dir=$1
[ -d "$dir" ] || die "$dir is not a directory"
archivist=${ARCHIVIST_PROGRAM:-/usr/local/bin/archivist}

target="$dir/archivist-$(date +%F).db"
partial="$target.partial"
rm -f -- "$partial"
if ! "$archivist" backup "$partial"; then
    rm -f -- "$partial"
    die "archivist backup failed; no backup written for today"
fi
mv -f -- "$partial" "$target"
echo "daily-backup: wrote $target"

exec "$(dirname -- "$0")/backup-rotate.sh" "$dir"
