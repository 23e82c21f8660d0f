#!/usr/bin/env node
// Build the frontend bundle: src/main.ts -> <out>/app.js + app.css, index.html copied.
// Output: ../subprocess_host/static/app/ (shipped in the wheel), or the directory given as
// the first argument.  Deterministic: no timestamps, no source maps, minified, so the same
// package-lock.json gives the same bytes.  Prints the sizes (raw and gzip).
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const webDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const outDir = resolve(process.argv[2] ?? join(webDir, "..", "subprocess_host", "static", "app"));

rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });

// Options every output shares: deterministic, minified, no source maps.
const common = {
  absWorkingDir: webDir,
  outdir: outDir,
  bundle: true,
  target: ["es2022", "chrome110", "firefox110", "safari16"],
  minify: true,
  legalComments: "none",
  sourcemap: false,
  metafile: true,
  logLevel: "warning",
};

const result = await build({
  ...common,
  // app: the notebook and app views; amphi-islands: documentation islands (src/islands/).
  entryPoints: { app: "src/main.ts", "amphi-islands": "src/islands/index.ts" },
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
  format: "esm",
  define: { "process.env.NODE_ENV": '"production"' },
});
copyFileSync(join(webDir, "index.html"), join(outDir, "index.html"));

// The Pyodide host's scripts (static sites, islands): the kernel's module Web Worker
// (`worker.js`, one file: a worker cannot share the page's chunks), the service worker that
// serves `@file/` virtual files and adds COOP/COEP headers (`sw.js`, a classic script: it
// `importScripts` the npm coi-serviceworker, copied next to it unchanged).
const hostBuilds = [
  { entryPoints: { worker: "src/worker/pyodide-worker.ts" }, format: "esm" },
  { entryPoints: { sw: "src/worker/service-worker.ts" }, format: "iife" },
];
for (const extra of hostBuilds) {
  const built = await build({ ...common, ...extra });
  Object.assign(result.metafile.outputs, built.metafile.outputs);
}
copyFileSync(join(webDir, "node_modules", "coi-serviceworker", "coi-serviceworker.js"), join(outDir, "coi-serviceworker.js"));

writeFileSync(join(outDir, ".gitignore"), "# built by web/scripts/build.mjs\n*\n");

const files = Object.keys(result.metafile.outputs).map((p) => relative(outDir, resolve(webDir, p))).sort();
let total = 0;
for (const name of [...files, "index.html", "coi-serviceworker.js"]) {
  const path = join(outDir, name);
  const size = statSync(path).size;
  if (name.endsWith(".js") || name.endsWith(".css")) total += size;
  const gz = gzipSync(readFileSync(path)).length;
  console.log(`${name.padEnd(34)} ${(size / 1024).toFixed(1).padStart(7)} KB  (gzip ${(gz / 1024).toFixed(1)} KB)`);
}
console.log(`total: ${(total / 1024).toFixed(1)} KB minified (every .js and .css) -> ${outDir}`);

// What each view loads: app.js + app.css, the view's chunk and the chunks it imports statically.
const outputs = result.metafile.outputs;
const closure = (path, seen = new Set()) => {
  if (seen.has(path)) return seen;
  seen.add(path);
  for (const imp of outputs[path]?.imports ?? []) if (imp.kind === "import-statement") closure(imp.path, seen);
  return seen;
};
const entryJs = Object.keys(outputs).find((p) => outputs[p].entryPoint === "src/main.ts");
const cssPath = Object.keys(outputs).find((p) => p.endsWith("/app.css"));
for (const [view, source] of [["edit view", "src/views/notebook.ts"], ["app view", "src/views/app.ts"]]) {
  const chunkPath = outputs[entryJs].imports.find((i) => i.kind === "dynamic-import" && outputs[i.path]?.entryPoint === source)?.path;
  const paths = new Set([...closure(entryJs), ...(chunkPath ? closure(chunkPath) : [])]);
  if (cssPath) paths.add(cssPath);
  const bytes = [...paths].reduce((n, p) => n + outputs[p].bytes, 0);
  console.log(`${view}: ${(bytes / 1024).toFixed(1)} KB minified loaded`);
}
{
  // A documentation page with islands loads amphi-islands.js + .css and the chunks they import.
  const islandsJs = Object.keys(outputs).find((p) => outputs[p].entryPoint === "src/islands/index.ts");
  const paths = closure(islandsJs);
  const islandsCss = Object.keys(outputs).find((p) => p.endsWith("/amphi-islands.css"));
  if (islandsCss) paths.add(islandsCss);
  const bytes = [...paths].reduce((n, p) => n + outputs[p].bytes, 0);
  console.log(`islands: ${(bytes / 1024).toFixed(1)} KB minified loaded`);
}
if (process.env.AMPHI_BUNDLE_REPORT) {
  writeFileSync(process.env.AMPHI_BUNDLE_REPORT, JSON.stringify(result.metafile));
}
