FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN DJANGO_ENV=production SECRET_KEY=build-only-secret-key-not-used-at-run-time-000 STATIC_ROOT=/app/staticfiles \
    python manage.py collectstatic --noinput
EXPOSE 8000
