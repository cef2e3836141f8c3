// GPUs as data. Memory is what the driver reports (nvidia-smi "Memory-Usage" total, rocm-smi
// "VRAM Total Memory"), because that is what the engines size their pools against.
import type { GpuProfile } from "./types.ts";

const MiB = 2 ** 20;
const GiB = 2 ** 30;

const NVIDIA_LABEL = "nvidia.com/gpu.product";
/** AMD GPU operator / k8s-device-plugin labeller (amd.com/gpu.device-id=74a1 on MI300X). */
const AMD_LABEL = "amd.com/gpu.device-id";

export const GPU_PROFILES: readonly GpuProfile[] = [
  {
    id: "H100",
    aliases: ["H100-80GB", "H100-SXM", "NVIDIA-H100-80GB-HBM3"],
    vendor: "nvidia",
    arch: "hopper",
    memory: { bytes: 81_559 * MiB, source: "nvidia-smi total 81559MiB (H100 80GB HBM3)" },
    fp8: true,
    fp4: false,
    resourceName: "nvidia.com/gpu",
    nodeLabel: { key: NVIDIA_LABEL, values: ["NVIDIA-H100-80GB-HBM3"] },
    defaultGpusPerNode: 8,
  },
  {
    id: "H200",
    aliases: ["H200-141GB", "H200-SXM", "NVIDIA-H200"],
    vendor: "nvidia",
    arch: "hopper",
    memory: { bytes: 143_771 * MiB, source: "nvidia-smi total 143771MiB (H200 141GB)" },
    fp8: true,
    fp4: false,
    resourceName: "nvidia.com/gpu",
    nodeLabel: { key: NVIDIA_LABEL, values: ["NVIDIA-H200"] },
    defaultGpusPerNode: 8,
  },
  {
    id: "B200",
    aliases: ["B200-180GB", "NVIDIA-B200"],
    vendor: "nvidia",
    arch: "blackwell",
    memory: { bytes: 183_359 * MiB, source: "nvidia-smi total 183359MiB (≈179 GiB; model-facts §2.4)" },
    fp8: true,
    fp4: true,
    resourceName: "nvidia.com/gpu",
    nodeLabel: { key: NVIDIA_LABEL, values: ["NVIDIA-B200"] },
    defaultGpusPerNode: 8,
  },
  {
    id: "B300",
    aliases: ["B300-288GB", "B300-SXM6", "NVIDIA-B300-SXM6-AC"],
    vendor: "nvidia",
    arch: "blackwell",
    memory: {
      bytes: 268 * GiB,
      estimate: true,
      source: "[estimate] a public GPU table lists 269 GiB for 'NVIDIA B300 SXM6 AC'; rounded down",
    },
    fp8: true,
    fp4: true,
    resourceName: "nvidia.com/gpu",
    nodeLabel: { key: NVIDIA_LABEL, values: ["NVIDIA-B300-SXM6-AC"] },
    defaultGpusPerNode: 8,
  },
  {
    id: "GB200",
    aliases: ["GB200-NVL72", "NVIDIA-GB200"],
    vendor: "nvidia",
    arch: "blackwell",
    memory: { bytes: 189_471 * MiB, source: "nvidia-smi total 189471MiB (GB200)" },
    fp8: true,
    fp4: true,
    resourceName: "nvidia.com/gpu",
    nodeLabel: { key: NVIDIA_LABEL, values: ["NVIDIA-GB200"] },
    // A GB200 NVL72 compute tray (one Kubernetes node) carries 4 GPUs.
    defaultGpusPerNode: 4,
  },
  {
    id: "MI300X",
    aliases: ["MI300X-192GB", "AMD_Instinct_MI300X_OAM"],
    vendor: "amd",
    arch: "cdna3",
    memory: { bytes: 205_822_885_888, source: "rocm-smi VRAM Total Memory 205822885888 B (192 GB)" },
    fp8: true,
    fp4: false,
    resourceName: "amd.com/gpu",
    nodeLabel: { key: AMD_LABEL, values: ["74a1", "74b5"] },
    defaultGpusPerNode: 8,
  },
  {
    id: "MI355X",
    aliases: ["MI355X-288GB", "AMD_Instinct_MI355X"],
    vendor: "amd",
    arch: "cdna4",
    memory: {
      bytes: 287 * GiB,
      estimate: true,
      source: "[estimate] 288 GB HBM3E (SGLang cookbook); driver total not found, rounded down",
    },
    fp8: true,
    fp4: true,
    resourceName: "amd.com/gpu",
    // PCI device id 0x75a3 (vLLM's ROCm device map: AMD_Instinct_MI355X).
    nodeLabel: { key: AMD_LABEL, values: ["75a3"] },
    defaultGpusPerNode: 8,
  },
];
