#!/usr/bin/env bash
# make demo: a local control plane with simulated GPU nodes, the operator, a DeepSeekDeployment whose
# weights really download from a local Hub, engine simulators at the pods' addresses, and load.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash test/cluster/up.sh
export PATH="$PWD/node_modules/.bin:$PATH"
exec node --disable-warning=ExperimentalWarning test/demo/demo.ts "$@"
