# bridge production image.
#
#   scripts/build-image                       # podman, from a local Debian base (docs/kubernetes.md)
#   docker build -t bridge .                  # from the default base below
#   docker run --read-only --tmpfs /tmp -v bridge-data:/var/lib/bridge -p 8080:8080 \
#     -e STRIPE_WEBHOOK_SECRET -e PAGENT_API_KEY bridge
#
# BASE_IMAGE is any Debian-based image with python3 (3.11 or newer) and its venv module. The
# same base is used to build and to run, so the virtualenv's interpreter links stay valid.
# The default is pinned by the digest of its multi-architecture index, so every build starts
# from the same bytes. To move to a newer base, read the tag's current digest and replace both:
#   skopeo inspect --format '{{.Digest}}' docker://python:3.11.14-slim-bookworm
#   (or: docker buildx imagetools inspect python:3.11.14-slim-bookworm)
ARG BASE_IMAGE=python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d

FROM ${BASE_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore

WORKDIR /src
RUN python3 -m venv /opt/bridge

# Dependencies first, each at the version and hash requirements.lock pins (scripts/lock), so
# a code change reuses this layer and every build installs the same bytes.
# The optional build secret `ca-certificates` is a CA bundle for builds behind a TLS-inspecting
# proxy; it is used for this step only and never stored in the image.
COPY requirements.lock ./
RUN --mount=type=secret,id=ca-certificates \
    if [ -s /run/secrets/ca-certificates ]; then export PIP_CERT=/run/secrets/ca-certificates; fi \
    && /opt/bridge/bin/pip install --no-cache-dir --require-hashes --requirement requirements.lock

COPY pyproject.toml README.md ./
COPY bridge ./bridge
# pip compiles the bytecode here, so nothing needs to write it on a read-only root at run time.
RUN --mount=type=secret,id=ca-certificates \
    if [ -s /run/secrets/ca-certificates ]; then export PIP_CERT=/run/secrets/ca-certificates; fi \
    && /opt/bridge/bin/pip install --no-cache-dir --no-deps /src \
    && /opt/bridge/bin/bridge --version


FROM ${BASE_IMAGE}

ARG BASE_IMAGE
ARG VERSION=unknown
ARG REVISION=unknown
ARG CREATED=unknown
ARG SOURCE=unknown

LABEL org.opencontainers.image.title="bridge" \
      org.opencontainers.image.description="Verified payment webhooks in, server-side conversions out to A/B-testing vendors." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"

# A fixed numeric user, so Kubernetes' runAsNonRoot can verify it without a passwd lookup.
RUN groupadd --gid 10001 bridge \
    && useradd --uid 10001 --gid 10001 --no-log-init --no-create-home --home-dir /var/lib/bridge \
         --shell /usr/sbin/nologin bridge \
    && mkdir -p /var/lib/bridge \
    && chown 10001:10001 /var/lib/bridge \
    && chmod 0750 /var/lib/bridge

COPY --from=builder /opt/bridge /opt/bridge
# The repository's mapping files are the default (the loader reads only the top-level *.yaml;
# examples/ and samples/ come along for `bridge try`). Mount a directory over it to use your own.
COPY mappings /etc/bridge/mappings

# Only /tmp and /var/lib/bridge are written to, so the root filesystem can be read-only.
ENV PATH=/opt/bridge/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    BRIDGE_HOST=0.0.0.0 \
    BRIDGE_PORT=8080 \
    BRIDGE_DATABASE_URL=sqlite:////var/lib/bridge/bridge.db \
    BRIDGE_MAPPINGS_DIR=/etc/bridge/mappings

USER 10001:10001
WORKDIR /var/lib/bridge
# Holds the SQLite store; with PostgreSQL it stays empty.
VOLUME ["/var/lib/bridge"]
EXPOSE 8080

# The slim images have no curl: ask the process itself with the standard library.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('BRIDGE_PORT', '8080') + '/healthz', timeout=4)"]

ENTRYPOINT ["bridge"]
CMD ["serve"]
