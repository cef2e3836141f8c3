// The Dockerfile and `make image` must build the same image. The files come from one script and one list
// (image/assemble.ts, image/contents.json) in both; what a Dockerfile states itself (base image, user, env, entry
// point, labels) is compared here with that list and with package.json.
import { describe, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import path from "node:path";
import { readContents } from "../../image/contents.ts";

const repo = path.resolve(import.meta.dirname, "../..");
const contents = readContents(repo);
const pkg = JSON.parse(readFileSync(path.join(repo, "package.json"), "utf8")) as {
  version: string;
  devDependencies: Record<string, string>;
};

type Instruction = { op: string; args: string };

/** The Dockerfile's instructions, continuation lines joined and comments dropped, per stage. */
function stages(text: string): Instruction[][] {
  const joined = text.replace(/\\\n/g, " ");
  const out: Instruction[][] = [];
  for (const line of joined.split("\n")) {
    const m = /^\s*([A-Z]+)\s+(.*)$/.exec(line);
    if (!m || line.trimStart().startsWith("#")) continue;
    if (m[1] === "FROM") out.push([]);
    out.at(-1)?.push({ op: m[1]!, args: m[2]!.trim() });
  }
  return out;
}

const dockerfile = stages(readFileSync(path.join(repo, "Dockerfile"), "utf8"));
const [build, runtime] = [dockerfile[0]!, dockerfile.at(-1)!];
const args = (s: Instruction[], op: string) => s.filter((i) => i.op === op).map((i) => i.args);

describe("Dockerfile and image/contents.json", () => {
  it("builds with the Node version package.json pins, on the Debian suite the list names", () => {
    expect(args(build, "FROM")[0]).toBe(`node:${pkg.devDependencies.node}-${contents.debian.suite}-slim AS build`);
  });

  it("assembles the runtime's root filesystem with image/assemble.ts and copies nothing else into it", () => {
    expect(args(build, "RUN").join(" ")).toMatch(/node [^&]*image\/assemble\.ts --out \/rootfs/);
    expect(args(runtime, "FROM")).toEqual(["scratch"]);
    const copies = args(runtime, "COPY");
    expect(copies.every((c) => c.startsWith("--from=build ") && c.includes("/rootfs/"))).toBe(true);
    expect(copies).toContain(
      `--from=build --chown=${contents.config.User} /rootfs${contents.user.home}/ ${contents.user.home}/`,
    );
  });

  it("sets the user, environment, working directory, entry point and command of the list", () => {
    expect(args(runtime, "USER")).toEqual([contents.config.User]);
    expect(args(runtime, "ENV")).toEqual(contents.config.Env);
    expect(args(runtime, "WORKDIR")).toEqual([contents.config.WorkingDir]);
    expect(args(runtime, "ENTRYPOINT").map((a) => JSON.parse(a) as unknown)).toEqual([contents.config.Entrypoint]);
    expect(args(runtime, "CMD").map((a) => JSON.parse(a) as unknown)).toEqual([contents.config.Cmd]);
  });

  it("labels the image with the list's OCI labels plus version, revision and date from build arguments", () => {
    const labels = Object.fromEntries(
      args(runtime, "LABEL").map((l) => {
        const m = /^([\w.]+)="(.*)"$/.exec(l);
        if (!m) throw new Error(`LABEL ${l}: expected key="value"`);
        return [m[1]!, m[2]!];
      }),
    );
    expect(labels).toEqual({
      ...contents.labels,
      "org.opencontainers.image.version": "${VERSION}",
      "org.opencontainers.image.revision": "${REVISION}",
      "org.opencontainers.image.created": "${CREATED}",
    });
    expect(args(runtime, "ARG")).toContain(`VERSION=${pkg.version}`);
  });

  it("runs as a non-root user whose home is in the list", () => {
    expect(contents.config.User).toBe(`${contents.user.uid}:${contents.user.gid}`);
    expect(contents.user.uid).not.toBe(0);
    expect(contents.config.WorkingDir).toBe(contents.user.home);
  });
});
