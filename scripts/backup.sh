#!/usr/bin/env bash
# Back up the database and the stored files (uploads, model artifacts) into one directory.
#   DATABASE_URL=postgres://… MEDIA_ROOT=… scripts/backup.sh BACKUP_DIR
# Writes BACKUP_DIR/database.dump (pg_dump custom format), BACKUP_DIR/media.tar.gz and
# BACKUP_DIR/SHA256SUMS. Take it while uploads are paused for an exactly consistent pair; files
# of recordings created after the dump started are harmless extras.
set -euo pipefail
dest=${1:?usage: scripts/backup.sh BACKUP_DIR}
: "${DATABASE_URL:?set DATABASE_URL}"
: "${MEDIA_ROOT:?set MEDIA_ROOT}"
mkdir -p "$dest"
pg_dump --format=custom --no-owner --file="$dest/database.dump" "${DATABASE_URL/#postgres:/postgresql:}"
tar -czf "$dest/media.tar.gz" -C "$MEDIA_ROOT" .
(cd "$dest" && sha256sum database.dump media.tar.gz > SHA256SUMS)
echo "Backup written to $dest"
