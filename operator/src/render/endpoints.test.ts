import { describe, expect, it } from "@jest/globals";
import { DEFAULT_TOKEN_POLICY, parseOrigins, tokenRefusal } from "./endpoints.ts";

describe("token policy", () => {
  const lab = {
    tokenOrigins: ["https://huggingface.co", "http://127.0.0.1:8080"],
    plainHttpOrigins: ["http://127.0.0.1:8080"],
  };

  it("sends a token to the Hub by default and nowhere else", () => {
    expect(tokenRefusal("https://huggingface.co", DEFAULT_TOKEN_POLICY)).toBeUndefined();
    expect(tokenRefusal("https://huggingface.co/", DEFAULT_TOKEN_POLICY)).toBeUndefined();
    for (const bad of [
      "https://huggingface.co.attacker.example",
      "https://attacker.example/huggingface.co",
      "https://huggingface.co:8443",
      "https://user:pw@attacker.example",
      "http://huggingface.co",
      "not a url",
    ])
      expect({ bad, refused: tokenRefusal(bad, DEFAULT_TOKEN_POLICY) !== undefined }).toEqual({ bad, refused: true });
  });

  it("allows plain http only for origins the administrator lists for it", () => {
    expect(tokenRefusal("http://127.0.0.1:8080/x", lab)).toBeUndefined();
    expect(tokenRefusal("http://127.0.0.1:8080", { ...lab, plainHttpOrigins: [] })).toMatch(/must use https/);
  });

  it("parses the chart's lists into origins and names a bad entry", () => {
    expect(parseOrigins(" https://huggingface.co/ , http://127.0.0.1:8080/path", "x")).toEqual([
      "https://huggingface.co",
      "http://127.0.0.1:8080",
    ]);
    expect(() => parseOrigins("ftp://mirror", "--token-endpoints")).toThrow(/--token-endpoints: not an http\(s\) URL/);
  });
});
