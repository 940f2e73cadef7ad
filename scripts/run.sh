#!/usr/bin/env bash
# Serve ECG Analyzer on 127.0.0.1:$PORT.
# No environment: SQLite under var/ and classification in this process.
# DATABASE_URL + CELERY_BROKER_URL set: that database, and a Celery worker started beside the server.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
PORT=${PORT:-8000}

$PY manage.py ensure_database  # a missing PostgreSQL database is created, or named in one line
$PY manage.py check
$PY manage.py migrate --noinput
if [ "${DJANGO_ENV:-development}" = "development" ]; then
  $PY manage.py seed_demo  # demo clinics, users and patients: never in production
fi
$PY manage.py register_bundled_models
$PY manage.py requeue_recordings --older-than 1

if [ -n "${CELERY_BROKER_URL:-}" ]; then
  .venv/bin/celery -A ecgsite worker --loglevel=INFO --concurrency=1 &  # it runs the periodic sweep too
  worker=$!
  trap 'kill $worker 2>/dev/null || true' EXIT
  echo "Started a Celery worker (pid $worker)."
fi
echo "Serving on http://127.0.0.1:$PORT/"
exec_cmd=(.venv/bin/gunicorn ecgsite.wsgi:application --bind "127.0.0.1:$PORT" --workers 1 --threads 8 --timeout 120 --access-logfile -
  --access-logformat '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(b)s %(L)s')  # path only: queries may hold patient names
"${exec_cmd[@]}"
