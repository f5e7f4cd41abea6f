# climat-koom: the bot (`koom run`) or the web pages (`koom web`) in a slim image, as a user
# without privileges. Build: docker build -t climat-koom .   See README, "Deploy".
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY core core
COPY conversations conversations
COPY bots bots
COPY locales locales
COPY deploy/healthcheck.py deploy/healthcheck.py
# Installed in place (-e): the translations in locales/ are read beside the code.
RUN pip install -e . \
    && useradd --system --uid 10001 --user-group --home-dir /data --create-home koom \
    && chmod 700 /data

USER koom
WORKDIR /data
# SQLite in the /data volume unless DATABASE_URL names PostgreSQL; metrics and health on 9100.
ENV DATABASE_URL=sqlite+aiosqlite:////data/koom.db \
    KOOM_METRICS_PORT=9100 \
    KOOM_METRICS_HOST=0.0.0.0 \
    KOOM_LOG_FORMAT=json
VOLUME ["/data"]
EXPOSE 9100 8080 8443

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "/app/deploy/healthcheck.py"]
CMD ["koom", "run"]
