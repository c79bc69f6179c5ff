# The Tumen app image. One image for every process of docs/deploy.md: the web (gunicorn +
# WhiteNoise, the default command), the task workers and one-off commands. All configuration comes
# from the environment (README, "Configuration"); no secret is baked in.
#
#   docker build -t tumen .
#   docker run --env-file tumen.env -p 8000:8000 tumen                                   # web
#   docker run --env-file tumen.env tumen python manage.py db_worker --queue-name '*'    # a worker
#   docker run --env-file tumen.env tumen python manage.py migrate --noinput             # each deploy
#
# tumen.env needs at least SECRET_KEY, TUMEN_SECRETS_KEYS, ALLOWED_HOSTS, TUMEN_TRUSTED_PROXIES,
# DATABASE_URL and SEARCH_URL; FORWARDED_ALLOW_IPS must name the load balancer's address, GUNICORN_WORKERS the
# container's CPU share (the default counts the host's cores).

FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
# gettext: msgfmt compiles the Mongolian translations (build stage only). Not pinned: Debian's
# security archive drops superseded versions, so a pin would break the build.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gettext \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
# Translations compiled; static files collected with the production storage (hashed, compressed).
# The production settings refuse to run without a real key: a throw-away one, for this step only.
RUN python manage.py compilemessages -v0 \
    && SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(64))')" \
       DJANGO_SETTINGS_MODULE=cms.settings.production ALLOWED_HOSTS=build TUMEN_TRUSTED_PROXIES=0 \
       STATIC_ROOT=/app/static TUMEN_VAR_DIR=/tmp/build-var \
       python manage.py collectstatic --noinput -v0 \
    && rm -rf /tmp/build-var

FROM python:3.11-slim-bookworm
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=cms.settings.production \
    STATIC_ROOT=/app/static \
    TUMEN_VAR_DIR=/var/lib/tumen \
    GUNICORN_BIND=0.0.0.0:8000
# Runtime state (uploads when not on shared storage) lives in /var/lib/tumen: mount a volume there.
RUN useradd --system --uid 10001 --home-dir /var/lib/tumen --create-home tumen
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
WORKDIR /app
USER 10001
EXPOSE 8000
# No HEALTHCHECK: the load balancer (or the orchestrator's probe) asks GET /healthz with a Host
# header from ALLOWED_HOSTS; see docs/deploy.md, "Health checks".
CMD ["gunicorn", "-c", "gunicorn.conf.py"]
