// Prints the simulated nodes as a v1 List for `kubectl create -f -` (used by up.sh).
// Usage: node test/cluster/print-nodes.ts [nodes.yaml]
import { loadNodePools, nodeManifests } from "./nodes.ts";

const pools = loadNodePools(process.argv[2]);
process.stdout.write(JSON.stringify({ apiVersion: "v1", kind: "List", items: nodeManifests(pools) }, null, 1) + "\n");
