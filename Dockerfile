FROM python:3.11-slim
# NUMBA_CACHE_DIR: the compiled tree walk (ecg/models/tree_walk.py) is cached where the worker can write.
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 NUMBA_CACHE_DIR=/tmp/numba-cache
WORKDIR /app
# Runtime dependencies only: the test tools, linters and browser driver never ship in the image.
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN DJANGO_ENV=production SECRET_KEY=build-only-secret-key-not-used-at-run-time-000 STATIC_ROOT=/app/staticfiles \
    python manage.py collectstatic --noinput
# Run as an unprivileged user; it owns only the media folder the compose file mounts.
RUN useradd --system --uid 10001 --no-create-home ecg && mkdir -p /data/media && chown ecg /data/media
USER ecg
EXPOSE 8000
