#!/usr/bin/env bash
# Restore a backup made by scripts/backup.sh into an EMPTY database and an empty storage.
#   DATABASE_URL=postgres://… MEDIA_ROOT=… scripts/restore.sh BACKUP_DIR
# (or ECG_STORAGE=s3 AWS_…=… instead of MEDIA_ROOT, for an empty bucket or prefix).
set -euo pipefail
src=${1:?usage: scripts/restore.sh BACKUP_DIR}
: "${DATABASE_URL:?set DATABASE_URL}"
if [ "${ECG_STORAGE:-local}" = local ]; then : "${MEDIA_ROOT:?set MEDIA_ROOT}"; fi
repo=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-$( [ -x "$repo/.venv/bin/python" ] && echo "$repo/.venv/bin/python" || echo python3 )}
src=$(cd "$src" && pwd)
(cd "$src" && sha256sum --check --quiet SHA256SUMS)
if [ "${ECG_STORAGE:-local}" = local ]; then
  mkdir -p "$MEDIA_ROOT"
  if [ -n "$(ls -A "$MEDIA_ROOT")" ]; then
    echo "MEDIA_ROOT is not empty; restore into an empty directory" >&2
    exit 1
  fi
fi
pg_restore --no-owner --exit-on-error --dbname="${DATABASE_URL/#postgres:/postgresql:}" "$src/database.dump"
(cd "$repo" && "$python" manage.py storage_archive import "$src/media.tar.gz")
echo "Restored $src"
