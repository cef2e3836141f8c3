// Simulated node pools (test/cluster/nodes.yaml) -> v1 Node objects that kwok keeps alive.
// The e2e tests read the same pools to know which nodes and GPU counts to expect.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { z } from "zod";

const quantity = z.union([z.string(), z.number()]).transform(String);

const gpuSchema = z.object({
  product: z.string().min(1),
  count: z.number().int().positive(),
  memoryMiB: z.number().int().positive(),
  family: z.string().default("hopper"),
  computeMajor: z.number().int().default(9),
  computeMinor: z.number().int().default(0),
});

const poolSchema = z.object({
  name: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "pool name must be a DNS label"),
  count: z.number().int().nonnegative(),
  instanceType: z.string().optional(),
  cpu: quantity,
  memory: quantity,
  pods: quantity.default("110"),
  ephemeralStorage: quantity.default("1Ti"),
  gpu: gpuSchema.optional(),
});

const fileSchema = z.object({ pools: z.array(poolSchema).min(1) });

export type NodePool = z.infer<typeof poolSchema>;

export const DEFAULT_NODES_FILE = fileURLToPath(new URL("./nodes.yaml", import.meta.url));

/** The GPU taint every simulated GPU node carries; GPU pods need a matching toleration. */
export const GPU_TAINT = { key: "nvidia.com/gpu", value: "present", effect: "NoSchedule" } as const;

/** Every node kwok manages carries this annotation; kwok runs with a matching selector. */
export const KWOK_NODE_ANNOTATION = { key: "kwok.x-k8s.io/node", value: "fake" } as const;

export function loadNodePools(file: string = process.env.DSO_NODES_FILE ?? DEFAULT_NODES_FILE): NodePool[] {
  const parsed = fileSchema.safeParse(parse(readFileSync(file, "utf8")));
  if (!parsed.success) {
    throw new Error(`invalid node pool file ${file}: ${z.prettifyError(parsed.error)}`);
  }
  return parsed.data.pools;
}

export function nodeName(pool: NodePool, index: number): string {
  return `kwok-${pool.name}-${index}`;
}

/** Node objects with status, ready for `kubectl create -f -` (a Node create keeps its status). */
export function nodeManifests(pools: NodePool[]): Record<string, unknown>[] {
  const nodes: Record<string, unknown>[] = [];
  let ordinal = 0;
  for (const pool of pools) {
    for (let i = 0; i < pool.count; i++) {
      ordinal++;
      const name = nodeName(pool, i);
      const resources: Record<string, string> = {
        cpu: pool.cpu,
        memory: pool.memory,
        pods: pool.pods,
        "ephemeral-storage": pool.ephemeralStorage,
      };
      const labels: Record<string, string> = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        type: "kwok",
        "sim.deepseek-operator.io/pool": pool.name,
      };
      if (pool.instanceType) labels["node.kubernetes.io/instance-type"] = pool.instanceType;
      const taints: Record<string, string>[] = [];
      if (pool.gpu) {
        resources["nvidia.com/gpu"] = String(pool.gpu.count);
        Object.assign(labels, {
          "nvidia.com/gpu.present": "true",
          "nvidia.com/gpu.product": pool.gpu.product,
          "nvidia.com/gpu.memory": String(pool.gpu.memoryMiB),
          "nvidia.com/gpu.count": String(pool.gpu.count),
          "nvidia.com/gpu.family": pool.gpu.family,
          "nvidia.com/gpu.compute.major": String(pool.gpu.computeMajor),
          "nvidia.com/gpu.compute.minor": String(pool.gpu.computeMinor),
          "nvidia.com/gpu.replicas": "1",
          "nvidia.com/gpu.sharing-strategy": "none",
        });
        taints.push({ ...GPU_TAINT });
      }
      // One /24 per node inside kwok's --cidr=127.64.0.0/16, so a pod IP tells its node and
      // every pod IP stays on loopback.
      const podCIDR = `127.64.${ordinal}.0/24`;
      nodes.push({
        apiVersion: "v1",
        kind: "Node",
        metadata: {
          name,
          labels,
          annotations: {
            [KWOK_NODE_ANNOTATION.key]: KWOK_NODE_ANNOTATION.value,
            "node.alpha.kubernetes.io/ttl": "0",
          },
        },
        spec: { podCIDR, podCIDRs: [podCIDR], ...(taints.length > 0 ? { taints } : {}) },
        status: { capacity: resources, allocatable: { ...resources } },
      });
    }
  }
  if (ordinal > 254) throw new Error(`too many simulated nodes (${ordinal}); each needs a /24 inside 127.64.0.0/16`);
  return nodes;
}
