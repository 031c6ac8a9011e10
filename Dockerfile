# syntax=docker/dockerfile:1
# etcd-space-guard: `docker run IMAGE` runs `serve`; `docker run IMAGE status ...` any other command.
# Built on Node.js's official slim image; run on Debian's slim image with the same node binary
# and nothing else of Node.js (no npm, npx, corepack, yarn). Where neither image can be pulled,
# scripts/image/base.sh makes both (docs/deploying.md#the-image).
ARG NODE_IMAGE=node:24-bookworm-slim
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
# .npmrc keeps the test tools' peers (aws-cdk-lib, 160 MB) out, as on a developer's machine.
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.mjs ./scripts/
COPY scripts/bundle ./scripts/bundle
COPY src ./src
# Every dependency is inside the bundle: the runtime takes it and the entry point that starts
# it, and no node_modules.
RUN npm run build && mkdir -p /out/dist \
  && cp package.json /out/ \
  && cp dist/main.js dist/errors.js dist/etcd-space-guard.cjs /out/dist/

FROM ${RUNTIME_IMAGE}
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="etcd-space-guard" \
  org.opencontainers.image.description="Prometheus exporter, Alertmanager webhook and CLI that watch etcd's space quota and run the NOSPACE runbook safely." \
  org.opencontainers.image.source="https://github.com/etcd-space-guard/etcd-space-guard" \
  org.opencontainers.image.licenses="Apache-2.0" \
  org.opencontainers.image.version="${VERSION}" \
  org.opencontainers.image.revision="${REVISION}"
# tini as PID 1 reaps the hook commands' children and passes signals on.
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini \
  && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
COPY --from=build /usr/local/bin/node /usr/local/bin/node
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /out ./
# Snapshots and the run history default to ./snapshots and ./state: keep them on a volume,
# owned by the unprivileged user the guard runs as.
RUN mkdir -p /var/lib/etcd-space-guard && chown 10001:10001 /var/lib/etcd-space-guard
WORKDIR /var/lib/etcd-space-guard
VOLUME /var/lib/etcd-space-guard
USER 10001:10001
EXPOSE 9379
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/dist/main.js"]
CMD ["serve"]
