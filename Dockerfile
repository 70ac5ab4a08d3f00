# chatd container image: three stages, one small runtime.
#
#   podman build --format docker -t chatd .        (podman: --format docker keeps HEALTHCHECK)
#   docker build -t chatd .
#   podman run --rm -p 8080:8080 chatd             then open http://127.0.0.1:8080
#
# Configuration is the CHATD_* environment (docs/CONFIG.md); flags given after the image
# name go to chatd (`podman run chatd --pace 40`). See docs/DEPLOYMENT.md.

ARG BASE=docker.io/library/debian:bookworm-slim

# ---- server: build/chatd ---------------------------------------------------------------
FROM ${BASE} AS server
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      gcc libc6-dev make pkg-config \
      libmicrohttpd-dev libcurl4-openssl-dev libcjson-dev libutf8proc-dev libhiredis-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Only what the server build reads, so a change to the UI, tests or docs keeps this cached.
COPY Makefile ./
COPY server/ server/
COPY client-cli/ client-cli/
# CHECK_LIBS= : the unit-test library (check) is not installed here and not needed.
RUN make -j"$(nproc)" CHECK_LIBS= build/chatd build/chatc \
 && install -D -s -m 0755 build/chatd /out/usr/local/bin/chatd \
 && install -D -s -m 0755 build/chatc /out/usr/local/bin/chatc \
 && /out/usr/local/bin/chatd --help >/dev/null && /out/usr/local/bin/chatc --help >/dev/null

# ---- web: client-web/dist --------------------------------------------------------------
FROM ${BASE} AS web
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      nodejs npm make ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src/client-web
# Dependencies first (cached until the lock file changes), then the sources.
COPY client-web/package.json client-web/package-lock.json ./
# Behind a TLS-inspecting proxy, pass its CA bundle as the build secret "ca"
# (`--secret id=ca,src=/etc/ssl/certs/ca-certificates.crt`); it is not kept in any layer.
RUN --mount=type=secret,id=ca,required=false \
    if [ -s /run/secrets/ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca; fi; \
    npm ci --no-audit --no-fund --loglevel=error
COPY client-web/ ./
# `make -C client-web` is the project's UI build (it produces dist/, and runs npm ci again
# only if the lock file is newer than node_modules); `npm run build` is the same esbuild
# step for a tree without that Makefile. Then publish only the files a browser loads: no
# node_modules, sources, tests, docs or package files.
RUN --mount=type=secret,id=ca,required=false \
    if [ -s /run/secrets/ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca; fi; \
    if [ -f Makefile ]; then make; else npm run build; fi \
 && test -s dist/app.js \
 && mkdir -p /out \
 && tar -cf - --exclude=./node_modules --exclude=./src --exclude=./tests \
      --exclude=./package.json --exclude=./package-lock.json --exclude=./Makefile \
      --exclude=./docs --exclude='./.*' --exclude='*.md' . \
    | tar -xf - -C /out

# ---- runtime ---------------------------------------------------------------------------
FROM ${BASE}
# Runtime libraries only. curl is for the HEALTHCHECK: it reuses libcurl4, which chatd links
# anyway, so it adds about 0.5 MB.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libmicrohttpd12 libcurl4 libcjson1 libutf8proc2 libhiredis0.14 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 chatd \
 && useradd --system --uid 10001 --gid chatd --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin chatd

COPY --from=server /out/usr/local/bin/chatd /usr/local/bin/chatd
COPY --from=server /out/usr/local/bin/chatc /usr/local/bin/chatc
COPY --from=web /out/ /usr/share/chatd/web/

ENV CHATD_LISTEN=0.0.0.0:8080 \
    CHATD_WEB_ROOT=/usr/share/chatd/web
EXPOSE 8080
# Numeric, so orchestrators can check runAsNonRoot.
USER 10001:10001
WORKDIR /

# Follows CHATD_LISTEN (set the address there, not with --listen, for the check to find it);
# a wildcard host is checked on loopback.
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 \
  CMD h="${CHATD_LISTEN%:*}"; p="${CHATD_LISTEN##*:}"; \
      case "$h" in ""|0.0.0.0|localhost) h=127.0.0.1 ;; "[::]") h="[::1]" ;; esac; \
      curl -fsS -o /dev/null --max-time 4 "http://$h:${p:-8080}/healthz" || exit 1

# chatd is PID 1 and handles SIGTERM itself: it stops accepting, lets open streams finish
# for CHATD_SHUTDOWN_GRACE_MS (default 5 s), ends the rest with an `error` event of type
# `shutdown`, and exits 0. Give the runtime's stop timeout more than that grace.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/chatd"]
