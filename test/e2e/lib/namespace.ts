// One namespace per test file (or test), random suffix, deleted afterwards, so tests never see
// each other's objects and a rerun never trips over leftovers.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll } from "@jest/globals";
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { loadKubeConfig, orNotFound } from "./kube.ts";

const TEST_NAMESPACE_LABEL = "e2e.deepseek-operator.io/test";

export interface TestNamespace {
  name: string;
  delete(): Promise<void>;
}

export async function createTestNamespace(prefix: string, kc: KubeConfig = loadKubeConfig()): Promise<TestNamespace> {
  const core = kc.makeApiClient(CoreV1Api);
  const name = `${prefix}-${randomBytes(3).toString("hex")}`.slice(0, 63);
  await core.createNamespace({ body: { metadata: { name, labels: { [TEST_NAMESPACE_LABEL]: prefix } } } });
  return {
    name,
    async delete() {
      if (process.env.DSO_E2E_KEEP_NAMESPACES === "1") return;
      // Not awaited to completion: the namespace controller and kwok's pod-delete stage finish it.
      await orNotFound(core.deleteNamespace({ name }));
    },
  };
}

/**
 * Registers beforeAll/afterAll hooks for a namespace shared by the tests of one describe block.
 * Read `.name` inside tests (it is set in beforeAll).
 */
export function useTestNamespace(prefix: string): { readonly name: string } {
  let ns: TestNamespace | undefined;
  beforeAll(async () => {
    ns = await createTestNamespace(prefix);
  });
  afterAll(async () => {
    await ns?.delete();
  });
  return {
    get name(): string {
      if (!ns) throw new Error("test namespace used outside a test (beforeAll has not run)");
      return ns.name;
    },
  };
}
