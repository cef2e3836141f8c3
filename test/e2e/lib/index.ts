// Shared e2e helpers; tests import from here.
export * from "./paths.ts";
export * from "./kube.ts";
export * from "./exec.ts";
export * from "./wait.ts";
export * from "./namespace.ts";
export * from "./credentials.ts";
