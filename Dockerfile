# syntax=docker/dockerfile:1
# Warden in a container: built on the Rust image, run as a non-root user
# on Debian slim. Data (the embedded profile's SQLite log, the audit index,
# the local master key) lives in the volume /var/lib/warden; everything
# else is configured by environment (see docs/guides/deployment.md).
#
#   docker build -t warden .
#   docker run -p 8080:8080 -v warden-data:/var/lib/warden warden

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS build
WORKDIR /src
COPY . .
# The registry and the target directory are build caches, not layers; the
# binary is copied out of the cache in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p warden-api --bin warden \
    && install -m 0755 target/release/warden /usr/local/bin/warden

FROM debian:${DEBIAN_RELEASE}-slim AS run
# ca-certificates: TLS to PostgreSQL, NATS, SMTP and webhook receivers;
# curl: the health check. Not pinned: a rebuild takes Debian's security
# updates of the release the image is built on.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 warden \
    && useradd --system --uid 10001 --gid warden --home-dir /var/lib/warden --shell /usr/sbin/nologin warden \
    && install -d -o warden -g warden -m 0700 /var/lib/warden
COPY --from=build /usr/local/bin/warden /usr/local/bin/warden
COPY deploy/docker/entrypoint.sh /usr/local/bin/warden-entrypoint
USER 10001:10001
WORKDIR /var/lib/warden
ENV WARDEN_DATA_DIR=/var/lib/warden \
    WARDEN_LISTEN=0.0.0.0:8080 \
    WARDEN_LOG_FORMAT=json
VOLUME ["/var/lib/warden"]
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["curl", "--fail", "--silent", "--show-error", "--output", "/dev/null", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["/usr/local/bin/warden-entrypoint"]
CMD ["serve"]
