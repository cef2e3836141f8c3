import { describe, expect, it } from "@jest/globals";
import { gpuFacts, summarizeInventory, type NodeLike, type PodLike } from "./gpu-inventory.ts";

const H200 = {
  id: "H200",
  resourceName: "nvidia.com/gpu",
  nodeLabel: { key: "nvidia.com/gpu.product", value: "NVIDIA-H200" },
};
const node = (name: string): NodeLike => ({
  metadata: { name, labels: { "nvidia.com/gpu.product": "NVIDIA-H200" } },
  status: { allocatable: { "nvidia.com/gpu": "8" } },
});
const pod = (nodeName: string, gpus: string, phase = "Running") =>
  ({
    metadata: { name: `p-${nodeName}-${gpus}`, labels: { a: "b" }, annotations: { big: "x".repeat(1000) } },
    spec: {
      nodeName,
      containers: [
        {
          name: "c",
          image: "i",
          env: [{ name: "A", value: "1" }],
          resources: { limits: { "nvidia.com/gpu": gpus, memory: "1Gi" } },
        },
        { name: "side", resources: { requests: { cpu: "1" } } },
      ],
    },
    status: { phase, conditions: [{ type: "Ready", status: "True" }] },
  }) as unknown as PodLike;

describe("gpuFacts", () => {
  it("keeps exactly what the inventory needs", () => {
    const nodes = [node("a"), node("b")];
    const pods = [
      pod("a", "4"),
      pod("a", "2"),
      pod("b", "8", "Pending"),
      { spec: { containers: [{ resources: { limits: { "nvidia.com/gpu": "1" } } }] } },
    ];
    expect(summarizeInventory(H200, nodes, pods.map(gpuFacts))).toEqual(summarizeInventory(H200, nodes, pods));
    const kept = gpuFacts(pods[0]!);
    expect(JSON.stringify(kept)).not.toContain("xxxx");
    expect(kept).toEqual({
      spec: {
        nodeName: "a",
        containers: [
          { resources: { limits: { "nvidia.com/gpu": "4", memory: "1Gi" } } },
          { resources: { requests: { cpu: "1" } } },
        ],
      },
      status: { phase: "Running" },
    });
  });
});
