import { expect, it } from "@jest/globals";
import { readFile, writeFile } from "node:fs/promises";
import { stateSlotPaths } from "./layout.ts";
import { StateStore } from "./state.ts";
import { tempDir } from "./test-support.ts";

it("keeps the previous state when a kill tears the slot being written", async () => {
  const { dir, cleanup } = await tempDir("state-");
  try {
    const s = await StateStore.load(dir);
    const partial = { size: 10, sha256: "a".repeat(64), gitOid: null, partSize: 5, received: [5, 0] };
    s.partial["f"] = partial;
    s.markDirty();
    s.save();
    partial.received = [5, 3];
    s.markDirty();
    s.save();
    s.close();
    expect((await StateStore.load(dir)).partial["f"]!.received).toEqual([5, 3]);

    // Tear the newest slot (seq 2 lives in slot 0): the loader falls back to seq 1.
    const newest = stateSlotPaths(dir)[0];
    const text = await readFile(newest, "utf8");
    expect(JSON.parse(text).seq).toBe(2);
    await writeFile(newest, text.slice(0, 20));
    const loaded = await StateStore.load(dir);
    expect(loaded.partial["f"]!.received).toEqual([5, 0]);

    // The next save numbers itself after the newest valid slot, lands in the torn one, and wins.
    loaded.partial["f"]!.received = [5, 5];
    loaded.markDirty();
    loaded.close();
    expect((await StateStore.load(dir)).partial["f"]!.received).toEqual([5, 5]);
  } finally {
    await cleanup();
  }
});
