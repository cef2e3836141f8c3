// `npm run build`: the CLI as it ships, one minified ES module per lazily loaded subcommand (esbuild
// bundles and tree-shakes; the chunks hold what several commands share) in dist/, entry dist/main.js.
// Why a bundle and not tsc's one file per module: the operator's memory. Node keeps the source of
// every loaded module, and @kubernetes/client-node's index pulls in every generated API and model, so
// the bundle is what keeps the operator's idle memory down (docs/controller-runtime.md, "Throughput and
// memory", has the figures). Types are checked by `npm run typecheck`.
import { build, type Plugin } from "esbuild";
import { rmSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

// Node's builtins as CommonJS objects, not ES modules: Node builds an ES facade of a builtin by reading
// every export, which runs its lazy getters: node:http's WebSocket loads Node's internal undici, node:util's
// diff and TextDecoder load their own modules, a start-up cost every weights Job would pay
// (docs/weights.md). esbuild's interop reads a named import from the object when it is used.
const builtinsAsObjects: Plugin = {
  name: "builtins-as-objects",
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) =>
      // node:module stays an import: the banner's createRequire needs it before anything else runs.
      args.path === "node:module" ? { path: args.path, external: true } : { path: args.path, namespace: "builtin" },
    );
    b.onLoad({ filter: /.*/, namespace: "builtin" }, (args) => ({
      contents: `module.exports = process.getBuiltinModule(${JSON.stringify(args.path)});`,
      loader: "js",
    }));
  },
};
rmSync(`${root}dist`, { recursive: true, force: true });
await build({
  entryPoints: { main: `${root}operator/src/cli/main.ts` },
  outdir: `${root}dist`,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node24",
  minify: true,
  // Class and function names survive: logs name error types (err.type) and stack frames by them.
  keepNames: true,
  // Stack traces map back to the sources with `node --enable-source-maps`.
  sourcemap: true,
  chunkNames: "chunks/[name]-[hash]",
  // The CommonJS dependencies (pino, prom-client) call require() for Node's builtins; an ES module has none.
  banner: {
    js: "import { createRequire as __dsoRequire } from 'node:module'; const require = __dsoRequire(import.meta.url);",
  },
  plugins: [builtinsAsObjects],
  logLevel: "warning",
});
