# The record-level model's compiled parts (ecg/models/tree_walk.c, ecg/models/net_forward.c), built where
# a compiler is; the image itself carries no compiler.
FROM python:3.11-slim AS native
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
COPY ecg/models/tree_walk.c ecg/models/net_forward.c /src/
RUN for name in tree_walk net_forward; do \
        gcc -O3 -fPIC -shared -Wall -Wextra -Werror -o /src/lib$name.so.1 /src/$name.c || exit 1; \
    done

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
# Runtime dependencies only: the test tools, linters and browser driver never ship in the image.
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
COPY --from=native /src/libtree_walk.so.1 /src/libnet_forward.so.1 ecg/models/
RUN DJANGO_ENV=production SECRET_KEY=build-only-secret-key-not-used-at-run-time-000 STATIC_ROOT=/app/staticfiles \
    python manage.py collectstatic --noinput
# Run as an unprivileged user; it owns only the media folder the compose file mounts.
RUN useradd --system --uid 10001 --no-create-home ecg && mkdir -p /data/media && chown ecg /data/media
USER ecg
EXPOSE 8000
