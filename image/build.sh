#!/usr/bin/env bash
# `make image`: the operator image as an OCI archive (also `docker load`-able) at .image/, without a container
# daemon or registry. Same root filesystem as the Dockerfile (image/assemble.ts reads image/contents.json);
# Debian packages are cached in ~/.cache/deepseek-operator/image. Needs a Debian bookworm system and root.
# Expects `npm run build` to have written dist/ (the Makefile target does it first).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
CACHE="${DSO_CACHE:-$HOME/.cache/deepseek-operator}"
node="$repo/node_modules/.bin/node"

# apt-get, dpkg-deb and GNU tar come with every Debian system.
for tool in apt-get apt-cache dpkg-deb tar; do
  command -v "$tool" >/dev/null || { echo "image: $tool not found (make image needs a Debian system)" >&2; exit 1; }
done
if [ "$(id -u)" != 0 ]; then
  echo "image: run as root (the image's files belong to root; apt-get update may be needed)" >&2
  exit 1
fi

version="$("$node" -p 'require("./package.json").version')"
rootfs="$CACHE/image/rootfs"
out="$repo/.image/deepseek-operator-$version.oci.tar"
mkdir -p "$repo/.image"
"$node" --disable-warning=ExperimentalWarning image/assemble.ts --out "$rootfs"
"$node" --disable-warning=ExperimentalWarning image/oci.ts --rootfs "$rootfs" --out "$out"
ln -sfn "$(basename "$out")" "$repo/.image/deepseek-operator.oci.tar"
echo "load it with: docker load -i $out   (or: skopeo copy oci-archive:$out <destination>)"
