# relinker's container image: `docker build -t relinker .`
#
# Multi-stage: the toolchain stays in the build stage; the runtime is Debian slim with CA
# certificates (rustls verifies Marketo's and dotdigital's TLS against them), a shell (for a
# CronJob that treats exit 4, "paused for a person", as success), and relinker running as a
# user without privileges. Run state (journals, locks) lives in /state: mount a volume there so
# a run survives its pod, or name a database (RELINKER_STATE). deploy/kubernetes/ has the CronJobs
# that use it (docs/scheduled-offboarding.md).

# Base images are pinned by digest: a tag can be moved to other bytes, a digest cannot. The tag
# stays beside it for people. To move to newer patches, look each tag up and replace its digest:
#   docker buildx imagetools inspect rust:1.95-slim-bookworm
#   docker buildx imagetools inspect debian:bookworm-slim
# The toolchain relinker is built and tested with (bookworm, so the binary's glibc matches the
# runtime stage's).
FROM rust:1.95-slim-bookworm@sha256:d7482085ff5b415f84dba5647ae71606650bdef00db7aeb69f4b3d170c3e4082 AS build
WORKDIR /src
# Everything the build reads: the manifest and lock file, the sources, the plans and fixtures
# the binary embeds (include_str!), and the benches the manifest names.
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY plans ./plans
COPY benches ./benches
RUN cargo build --release --locked --bin relinker \
    && install -D -m 0755 target/release/relinker /out/relinker

FROM debian:bookworm-slim@sha256:d5d3f9c23164ea16f31852f95bd5959aad1c5e854332fe00f7b3a20fcc9f635c
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /state --shell /usr/sbin/nologin relinker \
    && mkdir -p /state \
    && chown relinker:relinker /state
COPY --from=build /out/relinker /usr/local/bin/relinker
ENV RELINKER_STATE_DIR=/state
VOLUME ["/state"]
WORKDIR /work
USER 10001:10001
ENTRYPOINT ["relinker"]
CMD ["--help"]
