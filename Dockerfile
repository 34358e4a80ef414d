# envless admission webhook image (docs/image.md).
#
#   docker build -t envless .
#   docker run --read-only --tmpfs /tmp -p 8443:8443 envless     # throw-away certificate
#
# Base images are build arguments so that the image can also be built from local bases (the image
# test makes its own: no registry is reachable there):
#   NODE_IMAGE     Node 24 with npm, for the build stage
#   RUNTIME_IMAGE  the runtime: distroless keeps node at /nodejs/bin/node and has no shell
#   RUNTIME_NODE   where RUNTIME_IMAGE keeps node, when not at /nodejs/bin/node (e.g.
#                  /usr/local/bin/node for node:24-bookworm-slim): a symlink is added there
# Every instruction is a layer commit, and metadata goes before the big COPY steps: with the
# classic builder on a copying storage driver (vfs) each commit costs a walk of the whole tree.
ARG NODE_IMAGE=node:24-bookworm-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot

FROM ${NODE_IMAGE} AS build
ARG RUNTIME_NODE=/nodejs/bin/node
WORKDIR /src
# Dependencies first: this layer is reused while package*.json do not change.
COPY package.json package-lock.json ./
# --ignore-scripts: no install script is needed (ssh2 and cpu-features fall back to JavaScript;
# the `node` devDependency would download a second Node that the build does not use).
RUN npm ci --ignore-scripts --no-audit --no-fund
# .dockerignore lets in only bin/, src/ and the tsconfig files besides package*.json.
COPY . .
# Type declarations and source maps are never loaded at run time (nearly half of node_modules).
# The runtime stage has no shell: whatever it needs from one is prepared here.
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
 && find dist node_modules -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' \) -delete \
 && mkdir -p /out/app \
 && mv bin dist node_modules package.json /out/app/ \
 && if [ "$RUNTIME_NODE" != /nodejs/bin/node ]; then \
      mkdir -p /out/nodejs/bin && ln -s "$RUNTIME_NODE" /out/nodejs/bin/node; \
    fi

FROM ${RUNTIME_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="envless" \
      org.opencontainers.image.description="Kubernetes admission webhook that turns secret environment variables into mounted secret files" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
# A long-running server gains nothing from Node's compile cache, and a read-only root has nowhere
# to keep it; the throw-away certificate mode writes its CA under TMPDIR (mount a tmpfs at /tmp).
ENV NODE_ENV=production \
    NODE_DISABLE_COMPILE_CACHE=1 \
    TMPDIR=/tmp
WORKDIR /app
USER 65532:65532
EXPOSE 8443 9090
ENTRYPOINT ["/nodejs/bin/node", "/app/bin/envless", "webhook"]
# No HEALTHCHECK: Kubernetes ignores it (the chart probes /healthz and /readyz over HTTPS on the
# named port), distroless has no shell or curl, and a check would have to guess the port
# (`--port`) and skip TLS verification. For `docker run`, probe /healthz from outside.
# /app (and the node symlink, if any), owned by root and read-only for the user: the process
# cannot change its own code. No src/, so the launcher runs the compiled dist/.
COPY --from=build /out/ /
