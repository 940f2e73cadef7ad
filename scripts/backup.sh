#!/usr/bin/env bash
# Back up the database and the stored files (uploads, model artifacts) into one directory.
#   DATABASE_URL=postgres://… MEDIA_ROOT=… scripts/backup.sh BACKUP_DIR
# (or, with the files in an object store, ECG_STORAGE=s3 AWS_…=… instead of MEDIA_ROOT).
# Writes BACKUP_DIR/database.dump (pg_dump custom format), BACKUP_DIR/media.tar.gz and
# BACKUP_DIR/SHA256SUMS; the files are read through the application's storage (manage.py
# storage_archive). Take it while uploads are paused for an exactly consistent pair; files of
# recordings created after the dump started are harmless extras.
set -euo pipefail
dest=${1:?usage: scripts/backup.sh BACKUP_DIR}
: "${DATABASE_URL:?set DATABASE_URL}"
if [ "${ECG_STORAGE:-local}" = local ]; then : "${MEDIA_ROOT:?set MEDIA_ROOT}"; fi
repo=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-$( [ -x "$repo/.venv/bin/python" ] && echo "$repo/.venv/bin/python" || echo python3 )}
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
pg_dump --format=custom --no-owner --file="$dest/database.dump" "${DATABASE_URL/#postgres:/postgresql:}"
(cd "$repo" && "$python" manage.py storage_archive export "$dest/media.tar.gz")
(cd "$dest" && sha256sum database.dump media.tar.gz > SHA256SUMS)
echo "Backup written to $dest"
