# syntax=docker/dockerfile:1
# agentd container image.
#
#   docker build -t agentd .                        # or: podman build -t agentd .
#   docker run --rm -p 8080:8080 -p 8081:8081 -p 9090:9090 agentd
#
# BASE_IMAGE must be a Debian bookworm image with Node.js 20 (node, npm on PATH); the
# default is the official one. The runtime stage writes nothing outside /tmp, so it runs
# with a read-only root filesystem (mount an emptyDir or tmpfs on /tmp).
ARG BASE_IMAGE=node:20-bookworm-slim

# ---- build: every dependency, compile TypeScript, then drop the dev dependencies ----
FROM ${BASE_IMAGE} AS build
WORKDIR /src
ENV NODE_ENV=development \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false
COPY package.json package-lock.json ./
# Install scripts are not needed to compile or run agentd (no native addon is used at run time).
# Behind a TLS-intercepting proxy, pass its CA as a build secret (never stored in a layer):
#   docker build --secret id=extra_ca,src=/path/to/proxy-ca.crt .
RUN --mount=type=cache,target=/root/.npm \
    --mount=type=secret,id=extra_ca,required=false \
    if [ -s /run/secrets/extra_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/extra_ca; fi \
 && npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
# Then production dependencies only, without the tests and source maps packages ship.
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts \
 && find dist node_modules -name "*.map" -type f -delete \
 && find node_modules -type f -regextype posix-extended \
      -regex '.*\.(test|spec)\.([cm]?[jt]s|d\.[cm]?ts)$' -delete \
 && find node_modules -type d \( -name __tests__ -o -path 'node_modules/*/test' -o -path 'node_modules/@*/*/test' \) \
      -prune -exec rm -rf {} + \
 && find node_modules -mindepth 1 -type d -empty -delete

# ---- runtime: production dependencies, compiled code, tini, non-root ----
FROM ${BASE_IMAGE} AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="agentd" \
      org.opencontainers.image.description="Production runtime for A2A v1.0 agents: JSON-RPC+SSE, HTTP+JSON and gRPC, MCP tools, durable workflows, Redis, Prometheus." \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="https://github.com/agentd/agentd"
# tini is PID 1: it forwards SIGTERM to Node (which drains, see docs/operations.md) and
# reaps the MCP stdio servers agents spawn.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \
 && groupadd --system --gid 10001 agentd \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin agentd
WORKDIR /app
ENV NODE_ENV=production \
    HOME=/tmp \
    npm_config_cache=/tmp/.npm
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY bin ./bin
COPY config ./config
# Numeric, so Kubernetes can verify runAsNonRoot. Writable at run time: /tmp only.
USER 10001:10001
EXPOSE 8080 8081 9090
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.HTTP_PORT||8080)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/bin/agentd.js"]
CMD ["serve"]
