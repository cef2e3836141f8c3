// Pulumi entry point: `pulumi up` in infra/ (needs the Pulumi CLI and a kubeconfig).
import * as pulumi from "@pulumi/pulumi";
import { createStack } from "./program.ts";

const config = new pulumi.Config();
const stack = createStack({
  namespace: config.get("namespace") ?? "deepseek-system",
  operatorReplicas: config.getNumber("operatorReplicas") ?? 2,
  gpu: config.get("gpu") ?? "H200",
  modelRevision: config.get("modelRevision") ?? "60d8d70770c6776ff598c94bb586a859a38244f1",
});

export const deploymentName = stack.deployment.metadata.name;
