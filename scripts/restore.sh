#!/usr/bin/env bash
# Restore a backup made by scripts/backup.sh into an EMPTY database and media directory.
#   DATABASE_URL=postgres://… MEDIA_ROOT=… scripts/restore.sh BACKUP_DIR
set -euo pipefail
src=${1:?usage: scripts/restore.sh BACKUP_DIR}
: "${DATABASE_URL:?set DATABASE_URL}"
: "${MEDIA_ROOT:?set MEDIA_ROOT}"
(cd "$src" && sha256sum --check --quiet SHA256SUMS)
mkdir -p "$MEDIA_ROOT"
if [ -n "$(ls -A "$MEDIA_ROOT")" ]; then
  echo "MEDIA_ROOT is not empty; restore into an empty directory" >&2
  exit 1
fi
pg_restore --no-owner --exit-on-error --dbname="${DATABASE_URL/#postgres:/postgresql:}" "$src/database.dump"
tar -xzf "$src/media.tar.gz" -C "$MEDIA_ROOT"
echo "Restored $src"
