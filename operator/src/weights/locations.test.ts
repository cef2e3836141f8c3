// How long a redirect target is reused: a signed URL's own expiry, less a margin, never past the TTL.
import { describe, expect, it } from "@jest/globals";
import { LOCATION_TTL_MS, Locations, isStaleLocationStatus, locationExpiry } from "./locations.ts";

const NOW = Date.UTC(2026, 10, 29, 12, 0, 0);

describe("locationExpiry", () => {
  it("keeps an unsigned target for the TTL", () => {
    expect(locationExpiry("https://cdn.example/lfs/abc", NOW)).toBe(NOW + LOCATION_TTL_MS);
  });

  it("ends an S3-signed target a minute before X-Amz-Date + X-Amz-Expires", () => {
    const url =
      "https://cas-bridge.example/xet/abc?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20261129T115500Z&X-Amz-Expires=600&X-Amz-Signature=f00";
    expect(locationExpiry(url, NOW)).toBe(Date.UTC(2026, 10, 29, 11, 55, 0) + 600_000 - 60_000);
  });

  it("ends a CloudFront-signed target a minute before Expires, and ignores a malformed one", () => {
    const expires = NOW / 1000 + 300;
    expect(locationExpiry(`https://cdn-lfs.example/repos/x?Expires=${expires}&Signature=s&Key-Pair-Id=k`, NOW)).toBe(
      NOW + 240_000,
    );
    expect(locationExpiry("https://cdn-lfs.example/repos/x?Expires=soon", NOW)).toBe(NOW + LOCATION_TTL_MS);
  });
});

describe("Locations", () => {
  it("remembers only redirects, drops a target once it expires, and forgets only the entry it was given", () => {
    let now = NOW;
    const l = new Locations(() => now);
    l.remember("https://hub/a", "https://hub/a", {});
    expect(l.get("https://hub/a")).toBeUndefined();

    l.remember("https://hub/a", "https://cdn/a?Expires=" + (NOW / 1000 + 120), { "x-repo-commit": "c" });
    expect(l.get("https://hub/a")).toMatchObject({
      url: expect.stringContaining("https://cdn/a"),
      firstHeaders: { "x-repo-commit": "c" },
    });
    now += 59_000;
    expect(l.get("https://hub/a")).toBeDefined();
    now += 2_000; // within a minute of the stated expiry
    expect(l.get("https://hub/a")).toBeUndefined();

    l.remember("https://hub/b", "https://cdn/b1", {});
    const old = l.get("https://hub/b")!;
    l.remember("https://hub/b", "https://cdn/b2", {});
    l.forget("https://hub/b", old); // a fetch that saw the old target fail must not drop the new one
    expect(l.get("https://hub/b")?.url).toBe("https://cdn/b2");
  });

  it("treats expired, revoked and gone as stale, and server errors or rate limits as not", () => {
    expect([401, 403, 404, 410].every(isStaleLocationStatus)).toBe(true);
    expect([429, 500, 503, 416].some(isStaleLocationStatus)).toBe(false);
  });
});
