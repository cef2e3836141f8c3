// The image `make image` built, unpacked the way a container runtime would (index.json → manifest → config and
// layers, every digest checked) and run confined: bubblewrap, started by a process that is already UID 65532
// (setpriv), with the image's root mounted read-only and the image's own Env and Entrypoint. The hub simulator
// runs from the image too; both processes listen and connect on 127.0.0.1 only.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";

const repo = path.resolve(import.meta.dirname, "../..");
const archive = path.join(repo, ".image/deepseek-operator.oci.tar");
const version = (JSON.parse(readFileSync(path.join(repo, "package.json"), "utf8")) as { version: string }).version;
const UID = 65532;

type ImageConfig = {
  config: { User: string; Env: string[]; Entrypoint: string[]; Cmd: string[]; Labels: Record<string, string> };
};
let work: string;
let rootfs: string;
let config: ImageConfig;
const children: ChildProcess[] = [];

function blob(layout: string, digest: string): Buffer {
  const bytes = readFileSync(path.join(layout, "blobs/sha256", digest.replace(/^sha256:/, "")));
  expect(`sha256:${createHash("sha256").update(bytes).digest("hex")}`).toBe(digest);
  return bytes;
}

/** bwrap's arguments for running `argv` from the image as UID 65532, with `data` mounted read-write at /tmp/data. */
function confined(argv: string[], data?: string): [string, string[]] {
  const env = config.config.Env.flatMap((kv) => {
    const i = kv.indexOf("=");
    return ["--setenv", kv.slice(0, i), kv.slice(i + 1)];
  });
  const bind = data ? ["--bind", data, "/tmp/data"] : [];
  const bwrap = [
    "bwrap",
    "--unshare-user",
    "--uid",
    String(UID),
    "--gid",
    String(UID),
    "--unshare-pid",
    "--unshare-ipc",
  ];
  const mounts = ["--ro-bind", rootfs, "/", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", ...bind];
  const args = [`--reuid=${UID}`, `--regid=${UID}`, "--clear-groups", ...bwrap, "--die-with-parent", ...mounts];
  return ["setpriv", [...args, "--clearenv", ...env, "--chdir", "/", "--", ...config.config.Entrypoint, ...argv]];
}

function runConfined(argv: string[], data?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const [cmd, args] = confined(argv, data);
  return new Promise((resolve) => {
    execFile(cmd, args, { encoding: "utf8", timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

beforeAll(() => {
  if (!existsSync(archive)) throw new Error(`${archive} is missing: run \`make image\` first`);
  // mkdtemp makes a 0700 folder; the confined user must be able to reach the root filesystem inside it.
  work = mkdtempSync(path.join(tmpdir(), "dso-image-"));
  chmodSync(work, 0o755);
  const layout = path.join(work, "layout");
  rootfs = path.join(work, "rootfs");
  mkdirSync(layout);
  mkdirSync(rootfs, { mode: 0o755 });
  execFileSync("tar", ["-xf", archive, "-C", layout]);
  const index = JSON.parse(readFileSync(path.join(layout, "index.json"), "utf8")) as {
    manifests: { digest: string }[];
  };
  expect(index.manifests).toHaveLength(1);
  const manifest = JSON.parse(blob(layout, index.manifests[0]!.digest).toString()) as {
    config: { digest: string };
    layers: { digest: string; mediaType: string }[];
  };
  config = JSON.parse(blob(layout, manifest.config.digest).toString()) as ImageConfig;
  for (const layer of manifest.layers) {
    expect(layer.mediaType).toBe("application/vnd.oci.image.layer.v1.tar+gzip");
    blob(layout, layer.digest);
    const file = path.join(layout, "blobs/sha256", layer.digest.replace(/^sha256:/, ""));
    execFileSync("tar", ["-xzf", file, "-C", rootfs, "--numeric-owner", "--same-owner", "--same-permissions"]);
  }
});

afterAll(() => {
  for (const c of children) c.kill("SIGTERM");
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("the image archive", () => {
  it("is read by skopeo both as an OCI layout and as a docker archive, with the same config", () => {
    const oci = JSON.parse(
      execFileSync("skopeo", ["inspect", "--config", `oci-archive:${archive}`], { encoding: "utf8" }),
    );
    const docker = JSON.parse(
      execFileSync("skopeo", ["inspect", "--config", `docker-archive:${archive}`], { encoding: "utf8" }),
    );
    expect(oci.config).toEqual(config.config);
    expect(docker.config).toEqual(config.config);
  });

  it("runs as UID 65532 by default, with the OCI labels and the CLI as entry point", () => {
    expect(config.config.User).toBe(`${UID}:${UID}`);
    expect(config.config.Entrypoint).toEqual(["/usr/local/bin/deepseek-operator"]);
    expect(config.config.Cmd).toEqual(["run"]);
    expect(config.config.Labels["org.opencontainers.image.version"]).toBe(version);
    expect(config.config.Labels["org.opencontainers.image.licenses"]).toBe("Apache-2.0");
    expect(config.config.Labels["org.opencontainers.image.revision"]).toMatch(/^[0-9a-f]{40}$/);
  });

  it("holds no shell, no package manager and no node_modules, and only the user's home is writable by it", () => {
    for (const p of [
      "bin/sh",
      "bin/bash",
      "bin/dash",
      "usr/bin/sh",
      "usr/bin/apt-get",
      "usr/bin/dpkg",
      "app/node_modules",
    ]) {
      expect(existsSync(path.join(rootfs, p))).toBe(false);
    }
    expect(statSync(path.join(rootfs, "home/nonroot")).uid).toBe(UID);
    expect(statSync(path.join(rootfs, "app/dist/main.js")).uid).toBe(0);
    expect(statSync(path.join(rootfs, "usr/local/bin/node")).uid).toBe(0);
  });

  it("prints its size, under the 250 MB goal", () => {
    const bytes = Number(execFileSync("du", ["-sb", rootfs], { encoding: "utf8" }).split("\t")[0]);
    process.stdout.write(`image size: ${(bytes / 1e6).toFixed(1)} MB unpacked (${archive})\n`);
    expect(bytes).toBeLessThan(250e6);
  });
});

describe("the CLI in the image, confined as UID 65532", () => {
  it("prints its version with --version", async () => {
    const r = await runConfined(["--version"]);
    expect(r).toMatchObject({ code: 0 });
    expect(r.stdout.trim()).toContain(version);
  });

  it("prints the operator's flags with run --help", async () => {
    const r = await runConfined(["run", "--help"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^usage: deepseek-operator run/);
    expect(r.stdout).toContain("--leader-elect");
  });

  it("pulls a small model from the hub simulator (also run from the image) into a directory it owns", async () => {
    const data = path.join(work, "data");
    mkdirSync(data);
    chownSync(data, UID, UID);
    const model = "image-test/tiny";
    const [cmd, args] = confined([
      "simulate",
      "hub",
      "--model",
      model,
      "--shape",
      "uniform",
      "--files",
      "3",
      "--file-size",
      "262144",
    ]);
    const hub = spawn(cmd, args, { stdio: ["ignore", "pipe", "inherit"] });
    children.push(hub);
    const listening = await new Promise<{ url: string; revision: string }>((resolve, reject) => {
      hub.once("exit", (code) => reject(new Error(`hub simulator exited with ${code}`)));
      createInterface({ input: hub.stdout }).on("line", (line) => {
        const rec = JSON.parse(line) as { msg?: string; url?: string; revision?: string };
        if (rec.msg === "hub simulator listening") resolve({ url: rec.url!, revision: rec.revision! });
      });
    });
    expect(listening.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+/);

    const pull = [
      "weights",
      "pull",
      "--repo",
      model,
      "--revision",
      listening.revision,
      "--dir",
      "/tmp/data/model",
      "--endpoint",
      listening.url,
    ];
    const r = await runConfined(pull, data);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
    const dir = path.join(data, "model");
    const shards = readdirSync(dir).filter((f) => f.endsWith(".safetensors"));
    expect(shards).toHaveLength(3);
    for (const f of shards) {
      const st = statSync(path.join(dir, f));
      expect(st.size).toBe(262144);
      expect(st.uid).toBe(UID);
    }
    expect(existsSync(path.join(dir, ".deepseek-operator/complete.json"))).toBe(true);
  });
});
