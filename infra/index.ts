// Pulumi entry point: `pulumi up` in infra/ (needs the Pulumi CLI and a kubeconfig). See the README section
// "Pulumi: the platform as one component".
import * as pulumi from "@pulumi/pulumi";
import { platformArgsFromConfig } from "./config.ts";
import { DeepSeekPlatform } from "./platform.ts";

const platform = new DeepSeekPlatform("deepseek", platformArgsFromConfig(new pulumi.Config()));

export const operatorRelease = platform.operator.status.name;
export const deployments = platform.deployments.map((d) => d.metadata.name);
