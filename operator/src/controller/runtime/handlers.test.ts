import { describe, expect, it } from "@jest/globals";
import type { KubernetesObject } from "@kubernetes/client-node";
import { enqueueFor, generationChanged, labelPrefixMapper, ownerKeyMapper, selfKey } from "./handlers.ts";
import { key, objectKey } from "./keys.ts";

const owner = { group: "serving.deepseek-operator.io", kind: "DeepSeekDeployment" };

function owned(refs: Array<Record<string, unknown>>, ns = "team-a"): KubernetesObject {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "flash-engine", namespace: ns, ownerReferences: refs as never },
  };
}

describe("key mappers", () => {
  it("selfKey and objectKey use namespace/name, or name for cluster-scoped objects", () => {
    expect(selfKey({ metadata: { name: "a", namespace: "n" } })).toEqual(["n/a"]);
    expect(objectKey({ metadata: { name: "node-1" } })).toBe("node-1");
    expect(key(undefined, "x")).toBe("x");
  });

  it("ownerKeyMapper follows only the controller reference of the right group and kind, any version", () => {
    const m = ownerKeyMapper(owner);
    const ctrl = {
      apiVersion: "serving.deepseek-operator.io/v1beta1",
      kind: "DeepSeekDeployment",
      name: "flash",
      uid: "u",
      controller: true,
    };
    expect(m(owned([ctrl]))).toEqual(["team-a/flash"]);
    expect(m(owned([{ ...ctrl, controller: false }]))).toEqual([]);
    expect(m(owned([{ ...ctrl, kind: "Other" }]))).toEqual([]);
    expect(m(owned([{ ...ctrl, apiVersion: "other.io/v1alpha1" }]))).toEqual([]);
    expect(
      m(
        owned([
          { ...ctrl, controller: undefined },
          { ...ctrl, name: "real", controller: true },
        ]),
      ),
    ).toEqual(["team-a/real"]);
    expect(m({ metadata: { name: "x" } })).toEqual([]);
    expect(
      ownerKeyMapper({ group: "", kind: "Pod" })(
        owned([{ apiVersion: "v1", kind: "Pod", name: "p", uid: "u", controller: true }]),
      ),
    ).toEqual(["team-a/p"]);
  });

  it("labelPrefixMapper maps a shared object to every user named in its labels", () => {
    const m = labelPrefixMapper("users.serving.deepseek-operator.io");
    const pvc: KubernetesObject = {
      metadata: {
        name: "weights-v4-flash",
        namespace: "team-a",
        labels: {
          "users.serving.deepseek-operator.io/flash-a": "",
          "users.serving.deepseek-operator.io/flash-b": "",
          "app.kubernetes.io/name": "weights",
          "users.serving.deepseek-operator.io/": "",
        },
      },
    };
    expect(m(pvc).sort()).toEqual(["team-a/flash-a", "team-a/flash-b"]);
    expect(m({ metadata: { name: "x" } })).toEqual([]);
  });
});

describe("enqueueFor", () => {
  it("adds mapped keys, including those of the old object on an update", () => {
    const added: string[] = [];
    const h = enqueueFor({ add: (k) => void added.push(k) }, labelPrefixMapper("u"));
    const before = { metadata: { name: "pvc", namespace: "n", labels: { "u/a": "", "u/b": "" } } };
    const after = { metadata: { name: "pvc", namespace: "n", labels: { "u/b": "" } } };
    h(after, "update", before);
    expect(added.sort()).toEqual(["n/a", "n/b"]); // "a" lost its label and must still be told
  });

  it("generationChanged drops status-only updates but keeps adds, deletes, resyncs and spec changes", () => {
    const added: string[] = [];
    const h = enqueueFor({ add: (k) => void added.push(k) }, selfKey, generationChanged);
    const g1 = { metadata: { name: "a", namespace: "n", generation: 1 } };
    const g2 = { metadata: { name: "a", namespace: "n", generation: 2 } };
    h(g1, "update", g1);
    expect(added).toEqual([]);
    h(g2, "update", g1);
    h(g1, "add");
    h(g1, "delete");
    h(g1, "resync");
    expect(added).toEqual(["n/a", "n/a", "n/a", "n/a"]);
  });
});
