// The shape of image/contents.json, the one list of what goes into the operator image.
import { readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";

const relativePath = z.string().regex(/^[^/]/, "a path relative to the image root, without a leading /");

const ImageContentsSchema = z.object({
  $comment: z.array(z.string()).optional(),
  debian: z.object({ suite: z.string(), packages: z.array(z.string()).min(1), prune: z.array(relativePath) }),
  node: z.object({ from: z.string(), to: relativePath }),
  app: z.object({ dir: relativePath, files: z.array(z.string()).min(1) }),
  user: z.object({
    uid: z.number().int().positive(),
    gid: z.number().int().positive(),
    name: z.string(),
    home: z.string().startsWith("/"),
  }),
  config: z.object({
    User: z.string(),
    Env: z.array(z.string().regex(/^[A-Z_]+=/)),
    Entrypoint: z.array(z.string().startsWith("/")).length(1),
    Cmd: z.array(z.string()),
    WorkingDir: z.string(),
  }),
  labels: z.record(z.string(), z.string()),
  repository: z.string(),
});
export type ImageContents = z.infer<typeof ImageContentsSchema>;

export function readContents(repo: string): ImageContents {
  const file = path.join(repo, "image/contents.json");
  const parsed = ImageContentsSchema.safeParse(JSON.parse(readFileSync(file, "utf8")));
  if (!parsed.success) throw new Error(`${file}: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}
