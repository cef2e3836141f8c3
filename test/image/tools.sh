#!/usr/bin/env bash
# What the image test runs besides the image: bubblewrap (the confined root) and skopeo (an independent reader
# of the archive's OCI layout and docker manifest). Installed from Debian's packages when missing.
set -euo pipefail
missing=()
command -v bwrap >/dev/null || missing+=(bubblewrap)
command -v skopeo >/dev/null || missing+=(skopeo)
command -v setpriv >/dev/null || missing+=(util-linux)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
echo "bwrap $(bwrap --version | cut -d' ' -f2), $(skopeo --version)"
