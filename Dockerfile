# Both services' images, one per value of SERVICE. Build them from the repository root:
#   docker build --build-arg SERVICE=command -t cqrs-pair/command-service .
#   docker build --build-arg SERVICE=query -t cqrs-pair/query-service .
# SERVICE: command (the default) or query.
# BASE_IMAGE: any Debian-like image with Python 3.11+ and its venv module (default: the official one).
ARG BASE_IMAGE=python:3.11-slim-bookworm
ARG SERVICE=command

FROM ${BASE_IMAGE} AS build
ARG UV_VERSION=0.13.9
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=/app \
    PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python3 -m venv /opt/uv && /opt/uv/bin/pip install --quiet "uv==${UV_VERSION}"
WORKDIR /src
# The locked dependencies first, in a layer of their own: rebuilt only when uv.lock or a manifest changes.
COPY pyproject.toml uv.lock ./
COPY packages/contracts/pyproject.toml packages/contracts/README.md packages/contracts/
COPY packages/client/pyproject.toml packages/client/README.md packages/client/
COPY shared/pyproject.toml shared/
COPY services/command/pyproject.toml services/command/
COPY services/query/pyproject.toml services/query/
# Declared here, not higher: the layers above are the same for both services, and so built once.
ARG SERVICE
RUN case "$SERVICE" in command|query) ;; *) echo "SERVICE is '$SERVICE': command or query" >&2; exit 1;; esac \
    && /opt/uv/bin/uv sync --frozen --no-dev --no-install-workspace --package "$SERVICE-service"
COPY packages/contracts/src packages/contracts/src
COPY packages/client/src packages/client/src
COPY shared/src shared/src
COPY services/${SERVICE}/src services/${SERVICE}/src
RUN /opt/uv/bin/uv sync --frozen --no-dev --no-editable --package "$SERVICE-service"

# What both images have.
FROM ${BASE_IMAGE} AS runtime
COPY --from=build /app /app
ENV PATH=/app/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    CQRS_HTTP_HOST=0.0.0.0 CQRS_LOG_FORMAT=json
# Where this user may write a file for another container: docker-compose.yml's rabbitmq-definitions
# job (`cqrs broker definitions`, in the command image) writes the broker's definitions into a volume
# mounted here. The query image has it too, empty and unused.
RUN mkdir -p /run/cqrs && chown 10001:10001 /run/cqrs
# Not root: a numeric user, so that an orchestrator can check runAsNonRoot.
USER 10001:10001
# SIGTERM: stop taking messages, finish those in flight, exit 0 (give it the stop grace period).
STOPSIGNAL SIGTERM
# OCI annotations (docker inspect, registries, scanners). VERSION: the packages' version; REVISION:
# the commit built (`--build-arg REVISION=$(git rev-parse HEAD)`).
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG BASE_IMAGE
LABEL org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="The CQRS service pair authors" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"

# One stage per service for what cannot take a variable: HEALTHCHECK and ENTRYPOINT (exec form).
FROM runtime AS command
LABEL org.opencontainers.image.title="command-service" \
      org.opencontainers.image.description="Takes commands off RabbitMQ, decides, writes PostgreSQL, publishes events"
EXPOSE 8081
HEALTHCHECK --interval=5s --timeout=5s --start-period=60s --retries=3 \
    CMD ["command-service", "healthcheck"]
ENTRYPOINT ["command-service"]

FROM runtime AS query
LABEL org.opencontainers.image.title="query-service" \
      org.opencontainers.image.description="Projects the events into MongoDB and answers queries over RabbitMQ RPC"
EXPOSE 8082
HEALTHCHECK --interval=5s --timeout=5s --start-period=60s --retries=3 \
    CMD ["query-service", "healthcheck"]
ENTRYPOINT ["query-service"]

# The image built: the stage named by SERVICE.
FROM ${SERVICE}
