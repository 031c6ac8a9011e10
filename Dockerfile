# syntax=docker/dockerfile:1
# etcd-space-guard: `docker run IMAGE` runs `serve`; `docker run IMAGE status ...` any other command.

FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.mjs ./scripts/
COPY scripts/bundle ./scripts/bundle
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# Snapshots and the run history default to ./snapshots and ./state: keep them on a volume,
# owned by the unprivileged user the guard runs as.
RUN mkdir -p /var/lib/etcd-space-guard && chown 10001:10001 /var/lib/etcd-space-guard
WORKDIR /var/lib/etcd-space-guard
VOLUME /var/lib/etcd-space-guard
USER 10001:10001
EXPOSE 9379
ENTRYPOINT ["node", "/app/dist/main.js"]
CMD ["serve"]
