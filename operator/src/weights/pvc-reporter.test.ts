// The PVC reporter against a tiny API server on 127.0.0.1: what goes on the wire is what the
// controller will read.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";
import { rootLogger } from "../util/log.ts";
import {
  ANNOTATION_PROGRESS,
  ANNOTATION_VERIFIED,
  parseProgressAnnotation,
  type ProgressReport,
} from "../api/weights-contract.ts";
import { ProgressTracker } from "./progress.ts";
import { PvcReporter, buildPvcPatch, parsePvcRef } from "./pvc-reporter.ts";
import { WeightsError } from "./errors.ts";

type Seen = {
  method: string;
  url: string;
  contentType: string | undefined;
  authorization: string | undefined;
  body: unknown;
};
const seen: Seen[] = [];
let status = 200;
/** Answers with `status` for this many requests, then 200. */
let failFor = Infinity;
let server: http.Server;
let kc: KubeConfig;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      seen.push({
        method: req.method!,
        url: req.url!,
        contentType: req.headers["content-type"],
        authorization: req.headers.authorization,
        body: text ? JSON.parse(text) : undefined,
      });
      const code = failFor-- > 0 ? status : 200;
      res.writeHead(code, { "content-type": "application/json" });
      res.end(
        JSON.stringify(
          code === 200
            ? { apiVersion: "v1", kind: "PersistentVolumeClaim", metadata: { name: "weights", namespace: "models" } }
            : { kind: "Status", code },
        ),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "fake", server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: "downloader", token: "sa-token" }],
    contexts: [{ name: "fake", cluster: "fake", user: "downloader" }],
    currentContext: "fake",
  });
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

const report: ProgressReport = {
  phase: "Downloading",
  bytesDone: 5,
  bytesTotal: 10,
  filesDone: 1,
  filesTotal: 2,
  bytesPerSecond: 1,
  etaSeconds: 5,
  updatedAt: "2026-11-28T12:00:00.000Z",
  repo: "deepseek-ai/DeepSeek-V4-Flash",
  revision: "60d8d70770c6776ff598c94bb586a859a38244f1",
};

describe("buildPvcPatch", () => {
  it("sets progress, and sets, clears or leaves the verified mark", () => {
    expect(buildPvcPatch(report, undefined).metadata.annotations).not.toHaveProperty(ANNOTATION_VERIFIED);
    expect(buildPvcPatch(report, null).metadata.annotations[ANNOTATION_VERIFIED]).toBeNull();
    expect(buildPvcPatch(report, "rev").metadata.annotations[ANNOTATION_VERIFIED]).toBe("rev");
    const value = buildPvcPatch(report, undefined).metadata.annotations[ANNOTATION_PROGRESS]!;
    expect(parseProgressAnnotation(value)).toEqual({ ok: true, report });
  });

  it("parses namespace/name references", () => {
    expect(parsePvcRef("models/weights-v4-flash-60d8d707")).toEqual({
      namespace: "models",
      name: "weights-v4-flash-60d8d707",
    });
    expect(() => parsePvcRef("weights")).toThrow(/namespace/);
    expect(() => parsePvcRef("Models/x")).toThrow();
  });
});

describe("PvcReporter", () => {
  it("merge-patches the PVC's annotations with the downloader's field manager", async () => {
    seen.length = 0;
    status = 200;
    const r = new PvcReporter(kc, { namespace: "models", name: "weights" }, rootLogger);
    await r.report(report, null);
    expect(seen).toHaveLength(1);
    const req = seen[0]!;
    expect(req.method).toBe("PATCH");
    expect(req.url).toBe(
      "/api/v1/namespaces/models/persistentvolumeclaims/weights?fieldManager=deepseek-operator-downloader",
    );
    expect(req.contentType).toBe("application/merge-patch+json");
    expect(req.authorization).toBe("Bearer sa-token");
    expect(req.body).toEqual(buildPvcPatch(report, null));
  });

  it("never fails the download when the API server refuses", async () => {
    seen.length = 0;
    status = 403;
    const r = new PvcReporter(kc, { namespace: "models", name: "weights" }, rootLogger);
    await expect(r.report(report)).resolves.toBeUndefined();
    expect(seen).toHaveLength(1);
    status = 200;
  });

  it("retries the verified mark until it is written", async () => {
    seen.length = 0;
    status = 500;
    failFor = 2;
    const r = new PvcReporter(kc, { namespace: "models", name: "weights" }, rootLogger, {
      attempts: 5,
      backoffMs: 1,
      maxBackoffMs: 2,
    });
    await r.report({ ...report, phase: "Complete" }, report.revision);
    expect(seen).toHaveLength(3);
    expect((seen[2]!.body as ReturnType<typeof buildPvcPatch>).metadata.annotations[ANNOTATION_VERIFIED]).toBe(
      report.revision,
    );
    failFor = Infinity;
    status = 200;
  });

  it("fails the run, transiently, when the verified mark cannot be written: the Job must not complete without it", async () => {
    seen.length = 0;
    status = 403;
    const r = new PvcReporter(kc, { namespace: "models", name: "weights" }, rootLogger, {
      attempts: 3,
      backoffMs: 1,
      maxBackoffMs: 2,
    });
    const t = new ProgressTracker({ repo: report.repo, revision: report.revision, reporters: [r], intervalMs: 10_000 });
    const err = await t.setPhase("Complete", "done", report.revision).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WeightsError);
    expect(err).toMatchObject({ reason: "NetworkError", exitCode: 1 });
    expect(seen).toHaveLength(3);
    // Clearing the mark before files change is held to the same standard.
    await expect(r.report(report, null)).rejects.toThrow(/clear the weights-verified mark/);
    status = 200;
  });

  it("carries a tracker's phases in order, the verified mark only on Complete", async () => {
    seen.length = 0;
    status = 200;
    const t = new ProgressTracker({
      repo: report.repo,
      revision: report.revision,
      reporters: [new PvcReporter(kc, { namespace: "models", name: "weights" }, rootLogger)],
      intervalMs: 10_000,
    });
    t.bytesTotal = 10;
    t.filesTotal = 2;
    await t.setPhase("Downloading", undefined, null);
    t.bytesDone = 10;
    t.filesDone = 2;
    await t.setPhase("Complete", "done", report.revision);
    const annotations = seen.map((s) => (s.body as ReturnType<typeof buildPvcPatch>).metadata.annotations);
    const phases = annotations.map((a) => {
      const p = parseProgressAnnotation(a[ANNOTATION_PROGRESS]!);
      return p.ok ? p.report.phase : "invalid";
    });
    expect(phases).toEqual(["Downloading", "Complete"]);
    expect(annotations.map((a) => a[ANNOTATION_VERIFIED])).toEqual([null, report.revision]);
  });
});
