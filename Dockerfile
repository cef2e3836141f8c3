# syntax=docker/dockerfile:1
# The operator image: one image runs the operator (`run`, the default), its weights Jobs (`weights pull`) and the
# simulators. Build it with any builder: docker build, podman build, buildah, BuildKit or Kaniko.
# The root filesystem is made by image/assemble.ts from image/contents.json, the same script `make image` runs
# without a daemon; test/image/dockerfile.test.ts fails when the settings below and that list disagree.

# Build: Node 24 (the version package.json pins), the CLI bundle, then the runtime's root filesystem.
FROM node:24.21.0-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY operator/ operator/
COPY image/ image/
# esbuild inlines the production dependencies into dist/, so the runtime needs no node_modules.
RUN npm run -s build \
 && node --disable-warning=ExperimentalWarning image/assemble.ts --out /rootfs

# Runtime: glibc, libstdc++, CA certificates, Node and the bundle; no shell, no package manager.
FROM scratch
COPY --from=build /rootfs/ /
# COPY makes everything root's; the user's home is the one thing it owns.
COPY --from=build --chown=65532:65532 /rootfs/home/nonroot/ /home/nonroot/
USER 65532:65532
ENV PATH=/usr/local/bin:/usr/bin:/bin
ENV NODE_ENV=production
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
WORKDIR /home/nonroot
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=1970-01-01T00:00:00Z
LABEL org.opencontainers.image.title="deepseek-operator"
LABEL org.opencontainers.image.description="Kubernetes operator that self-hosts DeepSeek-V4-Flash"
LABEL org.opencontainers.image.licenses="Apache-2.0"
LABEL org.opencontainers.image.source="https://github.com/deepseek-operator/deepseek-operator"
LABEL org.opencontainers.image.vendor="deepseek-operator"
LABEL org.opencontainers.image.version="${VERSION}"
LABEL org.opencontainers.image.revision="${REVISION}"
LABEL org.opencontainers.image.created="${CREATED}"
ENTRYPOINT ["/usr/local/bin/deepseek-operator"]
CMD ["run"]
