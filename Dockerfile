# rollback-bot: TypeScript is compiled in the build stage; the runtime stage holds only the compiled
# dist/ and the production dependencies, so no compiler, test tool or source file ships.
#
# Node 24 because it is an LTS line, with security fixes until April 2028; Node 20 (the engines floor
# in package.json) left support in April 2026. trixie-slim is Debian 13 without compilers or curl:
# no dependency builds native code, and the health check below uses node's own fetch.

FROM node:24-trixie-slim AS build
WORKDIR /app
# The lockfile alone first, so the dependency layer is reused while only the source changes.
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:24-trixie-slim AS runtime
LABEL org.opencontainers.image.title="rollback-bot" \
      org.opencontainers.image.description="Slack chatops bot that rolls a Kubernetes Deployment back to its last good revision"
# The catalog is a ConfigMap mounted at /etc/rollback-bot (manifests/deployment.yaml).
ENV NODE_ENV=production \
    PORT=8080 \
    CATALOG_PATH=/etc/rollback-bot/catalog.yaml
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build /app/dist ./dist
# Numeric, so Kubernetes runAsNonRoot can verify it without reading /etc/passwd (1000 is the image's
# `node` user). Everything under /app stays owned by root: the bot cannot change its own code.
USER 1000:1000
EXPOSE 8080
# For docker and compose; Kubernetes ignores this and uses the Deployment's probes.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/health', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node as PID 1 in exec form receives SIGTERM itself and shuts down cleanly (src/main.ts).
CMD ["node", "--enable-source-maps", "dist/main.js", "serve"]
