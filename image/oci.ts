// Packs a root filesystem into one image archive without a container daemon or registry: an OCI image layout
// (oci-layout, index.json, blobs/sha256/…) that also carries the manifest.json `docker load` reads, so the
// same file works with `docker load`, `podman load`, `skopeo copy oci-archive:…` and containerd's import.
// Written here rather than with umoci: GNU tar with sorted names, fixed times and numeric owners plus Node's
// zlib give a byte-identical archive (the same image digest) for the same inputs, and nothing to install.
//   node image/oci.ts --rootfs DIR --out FILE.tar [--tag T]
import { spawn, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createWriteStream, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { Transform, type TransformCallback } from "node:stream";
import { parseArgs } from "node:util";
import { createGzip } from "node:zlib";
import { type ImageContents, readContents } from "./contents.ts";

export const MEDIA = {
  index: "application/vnd.oci.image.index.v1+json",
  manifest: "application/vnd.oci.image.manifest.v1+json",
  config: "application/vnd.oci.image.config.v1+json",
  layer: "application/vnd.oci.image.layer.v1.tar+gzip",
} as const;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

/** GNU tar flags that make an archive depend only on the files' contents, names, modes and owners. */
export function reproducibleTarArgs(epoch: number): string[] {
  return [
    "--sort=name",
    `--mtime=@${epoch}`,
    "--clamp-mtime",
    "--numeric-owner",
    "--format=posix",
    "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime",
  ];
}

class Counter extends Transform {
  readonly hash = createHash("sha256");
  size = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    done(null, chunk);
  }
}

/** Writes the root filesystem as one gzip layer blob; returns its descriptor and the uncompressed digest. */
async function writeLayer(
  rootfs: string,
  blobs: string,
  epoch: number,
): Promise<{ layer: Descriptor; diffId: string; rawSize: number }> {
  const tmp = path.join(blobs, "layer.tmp");
  const tar = spawn("tar", ["-C", rootfs, ...reproducibleTarArgs(epoch), "-cf", "-", "."], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<number>((resolve) => tar.on("close", (code) => resolve(code ?? 1)));
  const raw = new Counter();
  const gz = new Counter();
  await pipeline(tar.stdout, raw, createGzip({ level: 9 }), gz, createWriteStream(tmp));
  const code = await exited;
  if (code !== 0) throw new Error(`image: tar of ${rootfs} exited with ${code}`);
  const digest = gz.hash.digest("hex");
  renameSync(tmp, path.join(blobs, digest));
  const layer = { mediaType: MEDIA.layer, digest: `sha256:${digest}`, size: gz.size };
  return { layer, diffId: `sha256:${raw.hash.digest("hex")}`, rawSize: raw.size };
}

function writeBlob(blobs: string, mediaType: string, value: unknown): Descriptor {
  const bytes = Buffer.from(JSON.stringify(value));
  const digest = createHash("sha256").update(bytes).digest("hex");
  writeFileSync(path.join(blobs, digest), bytes);
  return { mediaType, digest: `sha256:${digest}`, size: bytes.length };
}

export interface PackOptions {
  rootfs: string;
  out: string;
  contents: ImageContents;
  version: string;
  revision: string;
  /** Seconds since 1970 for every file time and the image's created date (SOURCE_DATE_EPOCH). */
  epoch: number;
  tag: string;
}

/** Writes the archive; returns the manifest's descriptor, the layer's, and the unpacked size in bytes. */
export async function pack(o: PackOptions): Promise<{ manifest: Descriptor; layer: Descriptor; rawSize: number }> {
  const work = `${o.out}.d`;
  rmSync(work, { recursive: true, force: true });
  const blobs = path.join(work, "blobs/sha256");
  mkdirSync(blobs, { recursive: true });
  const { layer, diffId, rawSize } = await writeLayer(o.rootfs, blobs, o.epoch);
  const created = new Date(o.epoch * 1000).toISOString().replace(".000Z", "Z");
  const labels = {
    ...o.contents.labels,
    "org.opencontainers.image.version": o.version,
    "org.opencontainers.image.revision": o.revision,
    "org.opencontainers.image.created": created,
  };
  const config = writeBlob(blobs, MEDIA.config, {
    created,
    architecture: goArch(process.arch),
    os: "linux",
    config: { ...o.contents.config, Labels: labels },
    rootfs: { type: "layers", diff_ids: [diffId] },
    history: [{ created, created_by: "image/assemble.ts (image/contents.json)" }],
  });
  const manifest = writeBlob(blobs, MEDIA.manifest, {
    schemaVersion: 2,
    mediaType: MEDIA.manifest,
    config,
    layers: [layer],
    annotations: labels,
  });
  const ref = `${o.contents.repository}:${o.tag}`;
  const index = {
    schemaVersion: 2,
    mediaType: MEDIA.index,
    manifests: [
      { ...manifest, annotations: { "org.opencontainers.image.ref.name": o.tag, "io.containerd.image.name": ref } },
    ],
  };
  writeFileSync(path.join(work, "index.json"), JSON.stringify(index));
  writeFileSync(path.join(work, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  const blobPath = (d: Descriptor) => `blobs/sha256/${d.digest.slice("sha256:".length)}`;
  writeFileSync(
    path.join(work, "manifest.json"),
    JSON.stringify([{ Config: blobPath(config), RepoTags: [ref], Layers: [blobPath(layer)] }]),
  );
  execFileSync("tar", [
    "-C",
    work,
    ...reproducibleTarArgs(o.epoch),
    "--owner=0",
    "--group=0",
    "-cf",
    `${o.out}.tmp`,
    ".",
  ]);
  renameSync(`${o.out}.tmp`, o.out);
  rmSync(work, { recursive: true, force: true });
  return { manifest, layer, rawSize };
}

function goArch(arch: string): string {
  return ({ x64: "amd64", arm64: "arm64" } as Record<string, string>)[arch] ?? arch;
}

function gitRevision(repo: string): { revision: string; epoch: number } {
  try {
    const [rev, time] = execFileSync("git", ["-C", repo, "log", "-1", "--format=%H %ct"], { encoding: "utf8" })
      .trim()
      .split(" ");
    return { revision: rev!, epoch: Number(time) };
  } catch {
    return { revision: "unknown", epoch: 0 };
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: { rootfs: { type: "string" }, out: { type: "string" }, tag: { type: "string" } },
  });
  if (!values.rootfs || !values.out) throw new Error("usage: node image/oci.ts --rootfs DIR --out FILE.tar [--tag T]");
  const repo = path.join(import.meta.dirname, "..");
  const version = (JSON.parse(readFileSync(path.join(repo, "package.json"), "utf8")) as { version: string }).version;
  const git = gitRevision(repo);
  const epoch = process.env.SOURCE_DATE_EPOCH ? Number(process.env.SOURCE_DATE_EPOCH) : git.epoch;
  const { manifest, layer, rawSize } = await pack({
    rootfs: path.resolve(values.rootfs),
    out: path.resolve(values.out),
    contents: readContents(repo),
    version,
    revision: git.revision,
    epoch,
    tag: values.tag ?? version,
  });
  const mb = (n: number) => (n / 1e6).toFixed(1);
  process.stdout.write(
    `image: ${values.out}\n  manifest ${manifest.digest}\n` +
      `  size ${mb(rawSize)} MB unpacked, ${mb(layer.size)} MB compressed\n`,
  );
}
