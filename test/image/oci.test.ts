// image/oci.ts packs the same files into the same archive, byte for byte, whenever they were written: the
// image digest follows the contents, not the build's clock. (The archive's layout is checked against skopeo in
// the image test.)
import { afterAll, describe, expect, it } from "@jest/globals";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { readContents } from "../../image/contents.ts";
import { pack } from "../../image/oci.ts";

const repo = path.resolve(import.meta.dirname, "../..");
const work = mkdtempSync(path.join(tmpdir(), "dso-oci-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const EPOCH = 1_700_000_000;

function rootfs(name: string, mtime: number, content = "#!/usr/local/bin/node\n"): string {
  const dir = path.join(work, name);
  mkdirSync(path.join(dir, "usr/local/bin"), { recursive: true });
  const file = path.join(dir, "usr/local/bin/deepseek-operator");
  writeFileSync(file, content);
  utimesSync(file, mtime, mtime);
  return dir;
}

async function packed(dir: string) {
  const out = `${dir}.tar`;
  const r = await pack({
    rootfs: dir,
    out,
    contents: readContents(repo),
    version: "0.0.0",
    revision: "r",
    epoch: EPOCH,
    tag: "t",
  });
  return { ...r, sha: createHash("sha256").update(readFileSync(out)).digest("hex") };
}

describe("image/oci.ts", () => {
  it("gives the same archive for the same files written at different times after the epoch", async () => {
    const a = await packed(rootfs("a", EPOCH + 10));
    const b = await packed(rootfs("b", EPOCH + 99_999));
    expect(b.manifest.digest).toBe(a.manifest.digest);
    expect(b.sha).toBe(a.sha);
  });

  it("gives another image digest when a file's contents change", async () => {
    const a = await packed(rootfs("c", EPOCH + 10));
    const b = await packed(rootfs("d", EPOCH + 10, "#!/usr/local/bin/node\n// changed\n"));
    expect(b.layer.digest).not.toBe(a.layer.digest);
    expect(b.manifest.digest).not.toBe(a.manifest.digest);
  });
});
