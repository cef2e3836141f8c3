// Builds the operator image's root filesystem in a directory, from image/contents.json: a few Debian packages
// unpacked without their maintainer scripts (the C and C++ runtimes Node links against, the CA bundle), Node from
// the npm package `node`, and the CLI bundle from dist/. The Dockerfile runs this same script in its build stage,
// and `make image` runs it here, so both images hold the same files.
//   node image/assemble.ts --out DIR [--repo DIR]
// Needs a Debian system of the suite in contents.json (for `apt-get download` and `dpkg-deb`) and root (files
// in the image belong to root; only the user's home belongs to the user).
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { type ImageContents, readContents } from "./contents.ts";

const run = (cmd: string, args: string[], cwd?: string) =>
  execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });

function debianSuite(): string {
  const osRelease = readFileSync("/etc/os-release", "utf8");
  return /^VERSION_CODENAME=(.*)$/m.exec(osRelease)?.[1]?.replace(/"/g, "") ?? "unknown";
}

/** Name of the .deb `apt-get download` writes for a package's candidate version, or undefined without one. */
function candidateFile(pkg: string): string | undefined {
  let show: string;
  try {
    // Quiet: a package missing from the lists is the expected case before the first `apt-get update`.
    show = execFileSync("apt-cache", ["show", "--no-all-versions", pkg], { encoding: "utf8", stdio: "pipe" });
  } catch {
    return undefined;
  }
  const filename = /^Filename: (.*)$/m.exec(show)?.[1];
  return filename ? path.basename(filename) : undefined;
}

/** The packages' .deb files, from the download cache when already there. */
function fetchDebs(packages: string[], cacheDir: string): string[] {
  mkdirSync(cacheDir, { recursive: true });
  // A fresh machine or a container's build stage has no package lists yet.
  if (packages.some((p) => candidateFile(p) === undefined)) run("apt-get", ["update", "-qq"]);
  return packages.map((pkg) => {
    const file = candidateFile(pkg);
    if (!file) throw new Error(`image: Debian package ${pkg} has no candidate version (apt-cache show ${pkg})`);
    // apt-get download writes "%3a" for an epoch's colon, which the Filename field spells ":".
    const local = path.join(cacheDir, file.replace(/:/g, "%3a"));
    if (!existsSync(local)) run("apt-get", ["download", "-qq", "-o", "APT::Sandbox::User=root", pkg], cacheDir);
    if (!existsSync(local)) throw new Error(`image: apt-get download ${pkg} did not write ${local}`);
    return local;
  });
}

/**
 * Unpacks the packages and records them under var/lib/dpkg/status.d/ (one control file each, as distroless
 * images do) so image scanners can list what the image holds and match it against Debian's advisories.
 */
function installDebs(debs: string[], root: string): void {
  const statusDir = path.join(root, "var/lib/dpkg/status.d");
  mkdirSync(statusDir, { recursive: true });
  for (const deb of debs) {
    run("dpkg-deb", ["--extract", deb, root]);
    const control = run("dpkg-deb", ["--field", deb]);
    const name = /^Package: (.*)$/m.exec(control)?.[1] ?? path.basename(deb);
    writeFileSync(path.join(statusDir, name), `${control.trimEnd()}\nStatus: install ok installed\n`);
  }
}

/** Drops what nothing at run time reads; each package keeps its copyright file. */
function prune(root: string, paths: string[]): void {
  for (const p of paths) rmSync(path.join(root, p), { recursive: true, force: true });
  const docs = path.join(root, "usr/share/doc");
  if (!existsSync(docs)) return;
  for (const pkg of readdirSync(docs)) {
    for (const entry of readdirSync(path.join(docs, pkg))) {
      if (entry !== "copyright") rmSync(path.join(docs, pkg, entry), { recursive: true, force: true });
    }
  }
}

/**
 * The CA bundle update-ca-certificates would write (the package's own script does not run here). Node trusts
 * its built-in roots; this file is for `--use-system-ca` and for tools that read SSL_CERT_FILE.
 */
function caBundle(root: string): void {
  const dir = path.join(root, "usr/share/ca-certificates/mozilla");
  if (!existsSync(dir)) return;
  const pems = readdirSync(dir)
    .filter((f) => f.endsWith(".crt"))
    .sort();
  mkdirSync(path.join(root, "etc/ssl/certs"), { recursive: true });
  writeFileSync(
    path.join(root, "etc/ssl/certs/ca-certificates.crt"),
    pems.map((f) => readFileSync(path.join(dir, f), "utf8")).join(""),
  );
}

/**
 * The bundle under app/, started by the kernel through its #! line, so `deepseek-operator` runs without a shell
 * (the chart and the weights Jobs call it by that name). The source map gets one empty line in front to match.
 */
function installApp(root: string, repo: string, c: ImageContents, version: string): void {
  const appDir = path.join(root, c.app.dir);
  for (const f of c.app.files) {
    const from = path.join(repo, f);
    if (!existsSync(from)) throw new Error(`image: ${from} is missing; run \`npm run build\` first`);
    cpSync(from, path.join(appDir, f), { recursive: true });
  }
  writeFileSync(
    path.join(appDir, "package.json"),
    `${JSON.stringify({ name: "deepseek-operator", version, type: "module" }, null, 2)}\n`,
  );
  const main = path.join(appDir, "dist/main.js");
  writeFileSync(main, `#!/${c.node.to}\n${readFileSync(main, "utf8")}`);
  chmodSync(main, 0o755);
  const mapFile = `${main}.map`;
  if (existsSync(mapFile)) {
    const map = JSON.parse(readFileSync(mapFile, "utf8")) as { mappings: string };
    map.mappings = `;${map.mappings}`;
    writeFileSync(mapFile, JSON.stringify(map));
  }
  const entry = path.join(root, c.config.Entrypoint[0]!);
  mkdirSync(path.dirname(entry), { recursive: true });
  symlinkSync(`/${c.app.dir}/dist/main.js`, entry);
}

function installNode(root: string, repo: string, c: ImageContents): void {
  const to = path.join(root, c.node.to);
  mkdirSync(path.dirname(to), { recursive: true });
  copyFileSync(path.join(repo, c.node.from), to);
  chmodSync(to, 0o755);
}

/** The user (no login shell: there is none), a home it owns, a /tmp anyone may write, name lookups, mount points. */
function installUsers(root: string, c: ImageContents): void {
  const { uid, gid, name, home } = c.user;
  mkdirSync(path.join(root, "etc"), { recursive: true });
  writeFileSync(
    path.join(root, "etc/passwd"),
    `root:x:0:0:root:/root:/sbin/nologin\n${name}:x:${uid}:${gid}:${name}:${home}:/sbin/nologin\n`,
  );
  writeFileSync(path.join(root, "etc/group"), `root:x:0:\n${name}:x:${gid}:\n`);
  writeFileSync(path.join(root, "etc/nsswitch.conf"), "passwd: files\ngroup: files\nhosts: files dns\n");
  mkdirSync(path.join(root, "root"), { recursive: true, mode: 0o700 });
  mkdirSync(path.join(root, home.slice(1)), { recursive: true });
  chownSync(path.join(root, home.slice(1)), uid, gid);
  chmodSync(path.join(root, home.slice(1)), 0o700);
  mkdirSync(path.join(root, "tmp"), { recursive: true });
  chmodSync(path.join(root, "tmp"), 0o1777);
  // Where a container runtime mounts /proc, /dev and /sys; a read-only root cannot grow them later.
  for (const d of ["proc", "dev", "sys"]) mkdirSync(path.join(root, d), { recursive: true, mode: 0o755 });
}

export function assemble(out: string, repo: string, cacheDir: string): void {
  const c = readContents(repo);
  const suite = debianSuite();
  if (suite !== c.debian.suite) {
    throw new Error(`image: the base is Debian ${c.debian.suite} (image/contents.json) but this system is ${suite}`);
  }
  const version = (JSON.parse(readFileSync(path.join(repo, "package.json"), "utf8")) as { version: string }).version;
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true, mode: 0o755 });
  installDebs(fetchDebs(c.debian.packages, path.join(cacheDir, "debs", c.debian.suite)), out);
  prune(out, c.debian.prune);
  caBundle(out);
  installNode(out, repo, c);
  installApp(out, repo, c, version);
  installUsers(out, c);
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { out: { type: "string" }, repo: { type: "string" } } });
  if (!values.out) throw new Error("usage: node image/assemble.ts --out DIR [--repo DIR]");
  const repo = path.resolve(values.repo ?? path.join(import.meta.dirname, ".."));
  const cache = path.join(process.env.DSO_CACHE ?? path.join(homedir(), ".cache/deepseek-operator"), "image");
  assemble(path.resolve(values.out), repo, cache);
  process.stdout.write(`image: root filesystem in ${values.out}\n`);
}
