import { describe, expect, it } from "@jest/globals";
import { stripJob } from "./informers.ts";

describe("the Job cache", () => {
  it("keeps what the reconciler reads of a Job (metadata, status) and drops its pod template and managed fields", () => {
    const job = {
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: {
        name: "w-pull",
        namespace: "team",
        uid: "u1",
        labels: { a: "b" },
        ownerReferences: [{ uid: "pvc" }],
        managedFields: [{ manager: "x" }],
      },
      spec: { backoffLimit: 0, template: { spec: { containers: [{ name: "pull", args: ["weights", "pull"] }] } } },
      status: { active: 1, conditions: [{ type: "Failed", status: "True", message: "401" }] },
    };
    stripJob(job as never);
    expect(job).toEqual({
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: { name: "w-pull", namespace: "team", uid: "u1", labels: { a: "b" }, ownerReferences: [{ uid: "pvc" }] },
      spec: { backoffLimit: 0 },
      status: { active: 1, conditions: [{ type: "Failed", status: "True", message: "401" }] },
    });
  });
});
