// The pure core (API schema, planner, rendering, the reconcile decision, the autoscaling policy) does no
// I/O: it is what most tests exercise without a cluster, and the I/O edge around it (controller runtime,
// writers, downloader, CLI, simulators) may change without touching it. This test keeps the direction:
// a core module imports only core modules, a few pure packages, and types.
import { describe, expect, it } from "@jest/globals";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const SRC = dirname(fileURLToPath(import.meta.url));

/** Folders (and single files) of the core, relative to operator/src. */
const CORE = ["api/", "planner/", "render/", "reconcile/", "autoscaler/policy/", "util/compare.ts", "util/random.ts"];

/** Packages the core may import values from: pure computation, no I/O. */
const PURE_PACKAGES = new Set(["zod", "node:crypto"]);

/** Packages the core may import types from (erased at build time). */
const TYPE_ONLY_PACKAGES = new Set(["@kubernetes/client-node"]);

type Import = { spec: string; typeOnly: boolean };

const IMPORT = /^\s*(import|export)\s+(type\s+)?(?:[^"';]*?\s+from\s+)?["']([^"']+)["']/gm;

export function importsOf(source: string): Import[] {
  const out: Import[] = [];
  for (const m of source.matchAll(IMPORT)) out.push({ spec: m[3]!, typeOnly: m[2] !== undefined });
  for (const m of source.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)) out.push({ spec: m[1]!, typeOnly: false });
  return out;
}

const isCore = (rel: string) => CORE.some((c) => (c.endsWith("/") ? rel.startsWith(c) : rel === c));
const isTest = (rel: string) => /\.test\.ts$|(^|\/)fixtures\.ts$/.test(rel);

/** Every rule a core file's imports break, as "file: import" lines. */
export function violations(rel: string, source: string): string[] {
  const out: string[] = [];
  for (const { spec, typeOnly } of importsOf(source)) {
    if (spec.startsWith(".")) {
      const target = relative(SRC, resolve(SRC, dirname(rel), spec));
      if (!isCore(target)) out.push(`${rel}: imports ${spec} (${target} is not in the core)`);
    } else if (!PURE_PACKAGES.has(spec) && !(typeOnly && TYPE_ONLY_PACKAGES.has(spec))) {
      out.push(`${rel}: imports ${typeOnly ? "types of " : ""}${spec}`);
    }
  }
  return out;
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

describe("layers", () => {
  it("the core imports nothing from the I/O edge", () => {
    const files = walk(SRC)
      .map((f) => relative(SRC, f))
      .filter((f) => isCore(f) && !isTest(f));
    expect(files.length).toBeGreaterThan(30);
    expect(files.flatMap((f) => violations(f, readFileSync(join(SRC, f), "utf8")))).toEqual([]);
  });

  it("flags edge modules, I/O packages and value imports of type-only packages", () => {
    const source = [
      'import { Reconciler } from "../controller/deepseek/reconciler.ts";',
      'import pino from "pino";',
      'import { readFile } from "node:fs/promises";',
      'import { KubeConfig } from "@kubernetes/client-node";',
      'import type { V1Pod } from "@kubernetes/client-node";',
      'import { z } from "zod";',
      'export { plan } from "../planner/index.ts";',
      'const lazy = await import("../weights/downloader.ts");',
    ].join("\n");
    expect(violations("reconcile/x.ts", source)).toEqual([
      "reconcile/x.ts: imports ../controller/deepseek/reconciler.ts (controller/deepseek/reconciler.ts is not in the core)",
      "reconcile/x.ts: imports pino",
      "reconcile/x.ts: imports node:fs/promises",
      "reconcile/x.ts: imports @kubernetes/client-node",
      "reconcile/x.ts: imports ../weights/downloader.ts (weights/downloader.ts is not in the core)",
    ]);
  });
});
