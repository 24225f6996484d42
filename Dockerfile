# syntax=docker/dockerfile:1
# honua-bot container image.
#   docker build -t honua-bot:0.1.0 .
#   docker run -p 8080:8080 honua-bot:0.1.0            # `honua-bot serve` on 0.0.0.0:8080
#   docker run -v "$PWD/rules:/app/rules:ro" ...        # your own rules instead of the baked ones
# The runtime dependencies come from requirements.lock (hash-checked; it includes
# the `graphs` extra, matplotlib, so Slack messages carry graphs);
# scripts/lock.sh regenerates it, scripts/check_lock.py --install tests it.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- builder: compilers live here only --------------------------------------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
# for any dependency without a binary wheel for this platform
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# dependencies first: this layer is rebuilt only when the lock changes
COPY requirements.lock ./
RUN pip install --require-hashes --no-deps -r requirements.lock
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY rules ./rules
RUN pip install --no-deps . \
 && pip check \
 && honua-bot rules check rules \
 && MPLBACKEND=Agg MPLCONFIGDIR=/tmp/mpl python -c "import matplotlib.figure, matplotlib.backends.backend_agg"

# --- runtime: the venv, the rules, a non-root user ------------------------------
FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HONUA_BOT_HOST=0.0.0.0 \
    HONUA_BOT_PORT=8080 \
    HONUA_BOT_RULES=/app/rules \
    MPLBACKEND=Agg \
    MPLCONFIGDIR=/tmp/matplotlib
# matplotlib (graphs) draws headless and keeps its font cache in /tmp: /app is
# read-only to the bot, and the Helm chart mounts a writable /tmp
RUN groupadd --system --gid 10001 honua \
 && useradd --system --uid 10001 --gid honua --home-dir /app --no-create-home \
    --shell /usr/sbin/nologin honua
COPY --from=builder /opt/venv /opt/venv
# owned by root, read-only to the bot; mount a directory (or a ConfigMap) over it
COPY rules /app/rules
WORKDIR /app
# numeric, so Kubernetes' runAsNonRoot can check it
USER 10001:10001
EXPOSE 8080
# no curl in the slim image: ask /healthz with the venv's Python
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('HONUA_BOT_PORT', '8080'), timeout=4)"]
ENTRYPOINT ["honua-bot"]
CMD ["serve"]
