#!/usr/bin/env node
// Build the frontend bundle: src/main.ts -> <out>/app.js + app.css and chunks/ (views, charts,
// KaTeX with its stylesheet and woff2 fonts), index.html copied, and the licenses of every
// npm package bundled in chunks/THIRD-PARTY-LICENSES.txt.
// Output: ../subprocess_host/static/app/ (shipped in the wheel), or the directory given as
// the first argument.  Deterministic: no timestamps, no source maps, minified, so the same
// package-lock.json gives the same bytes.  Prints the sizes (raw and gzip).
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const webDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const outDir = resolve(process.argv[2] ?? join(webDir, "..", "subprocess_host", "static", "app"));

rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });

// Options every output shares: deterministic, minified, no source maps.  The bundled
// sources' license comments go to `<output>.LEGAL.txt` files, gathered into the licenses file
// at the end (never into the scripts: no byte of them in what a page loads).
const common = {
  absWorkingDir: webDir,
  outdir: outDir,
  bundle: true,
  target: ["es2022", "chrome110", "firefox110", "safari16"],
  minify: true,
  legalComments: "external",
  sourcemap: false,
  metafile: true,
  logLevel: "warning",
};
const define = { "process.env.NODE_ENV": '"production"' };

// KaTeX's stylesheet for the math chunk (src/render/lazy/katex.ts): chunks/katex-<hash>.css
// with its fonts beside it, woff2 only (every target browser reads woff2, so the woff and ttf
// fallbacks of each @font-face are dropped).  Its file name reaches the chunk as
// __AMPHI_KATEX_CSS__.
const KATEX_FALLBACKS = /,\s*url\([^)]*\.woff\)\s*format\("woff"\)\s*,\s*url\([^)]*\.ttf\)\s*format\("truetype"\)/g;
const woff2Only = {
  name: "katex-woff2-only",
  setup(b) {
    b.onLoad({ filter: /katex\.css$/ }, (args) => {
      const contents = readFileSync(args.path, "utf8").replace(KATEX_FALLBACKS, "");
      if (/\.(woff|ttf)\)/.test(contents)) throw new Error(`${args.path}: a font other than woff2 is left`);
      return { contents, loader: "css", resolveDir: dirname(args.path) };
    });
  },
};
const katexCss = await build({
  ...common,
  entryPoints: [join(webDir, "node_modules", "katex", "dist", "katex.css")],
  entryNames: "chunks/[name]-[hash]",
  assetNames: "chunks/[name]-[hash]",
  loader: { ".woff2": "file" },
  plugins: [woff2Only],
});
const katexCssFile = Object.keys(katexCss.metafile.outputs).find((p) => p.endsWith(".css"));

// The chunks imported on first use (src/render/lazy/*.ts: vega-embed, plotly.js, KaTeX), a
// build of their own, each chunk standalone: built with the pages' code, the runtime helpers
// these libraries need (CommonJS interop, namespace objects) would become a shared chunk that
// every page imports up front.  The pages' code imports them by file name (below).
const lazySources = ["vega", "plotly", "katex"].map((name) => `src/render/lazy/${name}.ts`);
const lazy = await build({
  ...common,
  entryPoints: lazySources,
  entryNames: "chunks/[name]-[hash]",
  format: "esm",
  define: { ...define, __AMPHI_KATEX_CSS__: JSON.stringify(basename(katexCssFile)) },
});
const lazyFiles = new Map(
  Object.entries(lazy.metafile.outputs)
    .filter(([, o]) => o.entryPoint)
    .map(([p, o]) => [basename(o.entryPoint, ".ts"), basename(p)]),
);
// `import("./lazy/<name>")` in src/render/ -> `import("./<name>-<hash>.js")`, kept as written:
// right for code in chunks/, which the check after the build makes sure of.
const lazyImports = {
  name: "lazy-chunks",
  setup(b) {
    b.onResolve({ filter: /^\.\/lazy\/[a-z]+$/ }, (args) => {
      const file = lazyFiles.get(args.path.slice("./lazy/".length));
      if (!file || dirname(args.importer) !== join(webDir, "src", "render")) {
        return { errors: [{ text: `${args.path}: not a lazy chunk of src/render/lazy/` }] };
      }
      return { path: `./${file}`, external: true };
    });
  },
};

const result = await build({
  ...common,
  // app: the notebook and app views; amphi-islands: documentation islands (src/islands/).
  entryPoints: { app: "src/main.ts", "amphi-islands": "src/islands/index.ts" },
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
  format: "esm",
  define,
  plugins: [lazyImports],
});
for (const [path, output] of Object.entries(result.metafile.outputs)) {
  const lazyImport = (output.imports ?? []).find((i) => i.external && [...lazyFiles.values()].includes(basename(i.path)));
  if (lazyImport && basename(dirname(path)) !== "chunks") {
    throw new Error(`${relative(outDir, resolve(webDir, path))} imports ${lazyImport.path} but is not in chunks/`);
  }
}
Object.assign(result.metafile.outputs, lazy.metafile.outputs);
Object.assign(result.metafile.outputs, katexCss.metafile.outputs);
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

// The licenses of what is bundled, in one file that no page loads: every npm package with a
// file in the outputs (the metafile's inputs) and the copied coi-serviceworker, each with its
// LICENSE (packages with the same text share it), then the license comments esbuild took out
// of the bundled sources (plotly.js keeps those of the libraries it bundles).  In chunks/, as
// every copy of the bundle (islands runtimes, exported sites) takes that folder whole.
const LICENSES = "chunks/THIRD-PARTY-LICENSES.txt";
{
  const byOrder = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
  const packages = new Map([[join(webDir, "node_modules", "coi-serviceworker"), "coi-serviceworker"]]);
  for (const output of Object.values(result.metafile.outputs)) {
    for (const input of Object.keys(output.inputs)) {
      const at = input.lastIndexOf("node_modules/") + "node_modules/".length;
      if (at < "node_modules/".length) continue;
      const [scope, name] = input.slice(at).split("/");
      const pkg = scope.startsWith("@") ? `${scope}/${name}` : scope;
      packages.set(resolve(webDir, input.slice(0, at), pkg), pkg);
    }
  }
  const texts = new Map(); // license text -> the packages under it
  for (const [dir, name] of [...packages].sort((a, b) => byOrder(a[1], b[1]) || byOrder(a[0], b[0]))) {
    const meta = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
    const found = readdirSync(dir).filter((f) => /^(licen[cs]e|copying|notice)/i.test(f)).sort(byOrder);
    if (!found.length) throw new Error(`${name}: no license file in ${dir}`);
    const text = found.map((f) => readFileSync(join(dir, f), "utf8").replace(/\r\n/g, "\n").trim()).join("\n\n");
    const label = `${meta.name} ${meta.version} (${meta.license ?? "see below"})`;
    if (texts.has(text)) texts.get(text).push(label);
    else texts.set(text, [label]);
  }
  const rule = "=".repeat(78);
  let body = `Third-party software in this bundle (built by amphikernel's web/scripts/build.mjs)\n`;
  for (const [text, labels] of texts) body += `\n${rule}\n${labels.join("\n")}\n${rule}\n\n${text}\n`;
  const legal = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => byOrder(a.name, b.name))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".LEGAL.txt")) legal.push(path);
    }
  };
  walk(outDir);
  if (legal.length) body += `\n${rule}\nLicense comments of the bundled sources, by output file\n${rule}\n`;
  for (const path of legal) {
    const name = relative(outDir, path).replaceAll("\\", "/").replace(/\.LEGAL\.txt$/, "");
    body += `\n--- ${name}\n\n${readFileSync(path, "utf8").trim()}\n`;
    rmSync(path);
  }
  for (const p of Object.keys(result.metafile.outputs)) if (p.endsWith(".LEGAL.txt")) delete result.metafile.outputs[p];
  writeFileSync(join(outDir, LICENSES), body);
}

const files = Object.keys(result.metafile.outputs).map((p) => relative(outDir, resolve(webDir, p))).sort();
let total = 0;
for (const name of [...files, "index.html", "coi-serviceworker.js", LICENSES]) {
  const path = join(outDir, name);
  const size = statSync(path).size;
  if (name.endsWith(".js") || name.endsWith(".css")) total += size;
  const gz = gzipSync(readFileSync(path)).length;
  console.log(`${name.padEnd(34)} ${(size / 1024).toFixed(1).padStart(7)} KB  (gzip ${(gz / 1024).toFixed(1)} KB)`);
}
console.log(`total: ${(total / 1024).toFixed(1)} KB minified (every .js and .css) -> ${outDir}`);

// What each page loads up front (HTML + static imports): app.js + app.css, the view's chunk
// and the chunks they import statically; islands: amphi-islands.js + .css and their chunks.
const outputs = result.metafile.outputs;
const closure = (path, seen = new Set()) => {
  if (seen.has(path)) return seen;
  seen.add(path);
  for (const imp of outputs[path]?.imports ?? []) if (imp.kind === "import-statement") closure(imp.path, seen);
  return seen;
};
const outputOf = (source) => Object.keys(outputs).find((p) => outputs[p].entryPoint === source && p.endsWith(".js"));
const gzipBytes = (p) => gzipSync(readFileSync(resolve(webDir, p))).length;
const entryJs = outputOf("src/main.ts");
const islandsJs = outputOf("src/islands/index.ts");
const upFront = new Set([...closure(entryJs), ...closure(islandsJs)]);
const pages = [
  ["edit view", [entryJs, outputOf("src/views/notebook.ts")], "/app.css"],
  ["app view", [entryJs, outputOf("src/views/app.ts")], "/app.css"],
  ["islands", [islandsJs], "/amphi-islands.css"],
];
for (const [page, scripts, css] of pages) {
  const paths = new Set(scripts.flatMap((p) => [...closure(p)]));
  for (const p of paths) upFront.add(p);
  const cssPath = Object.keys(outputs).find((p) => p.endsWith(css));
  if (cssPath) paths.add(cssPath);
  const bytes = [...paths].reduce((n, p) => n + outputs[p].bytes, 0);
  const gz = [...paths].reduce((n, p) => n + gzipBytes(p), 0);
  console.log(`${page}: ${(bytes / 1024).toFixed(1)} KB minified (gzip ${(gz / 1024).toFixed(1)} KB) in ${paths.size} files loaded up front`);
}
{
  // Chunks imported only when something needs them (charts, math, widgets), with the chunks
  // they import that no page loads up front; KaTeX adds its stylesheet and fonts.
  const views = new Set(["src/views/notebook.ts", "src/views/app.ts"]);
  for (const p of Object.keys(outputs).sort()) {
    const source = outputs[p].entryPoint ?? "";
    if (!p.endsWith(".js") || upFront.has(p) || views.has(source) || !source.startsWith("src/") || !p.includes("/chunks/")) continue;
    const own = [...closure(p)].filter((q) => !upFront.has(q));
    const bytes = own.reduce((n, q) => n + outputs[q].bytes, 0);
    let extra = "";
    if (source === "src/render/lazy/katex.ts") {
      const css = Object.keys(katexCss.metafile.outputs);
      const cssBytes = css.filter((q) => q.endsWith(".css")).reduce((n, q) => n + outputs[q].bytes, 0);
      const fonts = css.filter((q) => q.endsWith(".woff2")).reduce((n, q) => n + outputs[q].bytes, 0);
      extra = ` + ${(cssBytes / 1024).toFixed(1)} KB css + up to ${(fonts / 1024).toFixed(1)} KB woff2 fonts (only those a formula uses)`;
    }
    console.log(`on first use, ${basename(source, ".ts")}: ${(bytes / 1024).toFixed(1)} KB minified${extra}`);
  }
}
if (process.env.AMPHI_BUNDLE_REPORT) {
  writeFileSync(process.env.AMPHI_BUNDLE_REPORT, JSON.stringify(result.metafile));
}
