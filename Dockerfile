# One image for every subcommand of the kafscale binary:
#   docker run kafscale broker ...      docker run kafscale processor iceberg ...
#   docker run kafscale snapshot ...    docker run kafscale admin ...
#
# Build stage: the same recipe as a developer machine. The packages the native-AOT link needs
# (a subset of scripts/install-deps.sh; node and npm bundle the web console's front end), then
# scripts/build.sh, which writes out/kafscale.
# Ubuntu 24.04 in both stages, so the binary is linked against the C library it runs with.
FROM --platform=linux/amd64 mcr.microsoft.com/dotnet/sdk:10.0-noble AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends clang lld nodejs npm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN ./scripts/build.sh

# Run stage: the .NET runtime dependencies (C library, OpenSSL for TLS to S3 and etcd, CA
# certificates). The codecs are managed code inside the binary: no compression library is installed.
FROM --platform=linux/amd64 mcr.microsoft.com/dotnet/runtime-deps:10.0-noble
RUN groupadd --system --gid 10001 kafscale \
 && useradd --system --uid 10001 --gid kafscale --home-dir /var/lib/kafscale --shell /usr/sbin/nologin kafscale \
 && mkdir -p /var/lib/kafscale \
 && chown kafscale:kafscale /var/lib/kafscale
COPY --from=build /src/out/kafscale /usr/local/bin/kafscale

USER kafscale
WORKDIR /var/lib/kafscale
# Defaults for a container: data under the volume, every listener on all interfaces.
ENV KAFSCALE_DATA_DIR=/var/lib/kafscale \
    KAFSCALE_LOG_FORMAT=json \
    KAFSCALE_HEALTH_PORT=9093 \
    KAFSCALE_HEALTH_PATH=/readyz
VOLUME ["/var/lib/kafscale"]
# 9092 Kafka; 9093 broker HTTP (/metrics /healthz /readyz, the web console under /ui/); 9094 processor HTTP; 9095 snapshot scheduler HTTP.
EXPOSE 9092 9093 9094 9095

# The image has no curl: bash's /dev/tcp sends the request. Healthy when the answer is 200.
# KAFSCALE_HEALTH_PORT / KAFSCALE_HEALTH_PATH point it at another subcommand's HTTP listener.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${KAFSCALE_HEALTH_PORT:-9093} && printf 'GET %s HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' \"${KAFSCALE_HEALTH_PATH:-/readyz}\" >&3 && head -n 1 <&3 | grep -q ' 200 '"]

ENTRYPOINT ["/usr/local/bin/kafscale"]
CMD ["broker"]
