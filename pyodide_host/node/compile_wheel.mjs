// Precompile pure wheels' modules to bytecode INSIDE Pyodide (the host CPython's .pyc would
// carry the wrong magic number), for `python -m pyodide_host.build` and `amphi export`.
//
//   node pyodide_host/node/compile_wheel.mjs --pyodide DIR --in IN.whl --out OUT.whl --script FILE.py
//   node pyodide_host/node/compile_wheel.mjs --pyodide DIR --pairs PAIRS.json --script FILE.py
//
// DIR is the npm pyodide package (no packages are loaded); FILE.py defines
// `compile_wheel(src, dst)` (pyodide_host/build/compile_in_pyodide.py).  PAIRS.json is a JSON
// list of [in, out] wheel paths, all compiled by one Pyodide (one boot for many wheels).  Each
// output wheel holds every source plus `__pycache__/<module>.cpython-3XY.pyc` in
// unchecked-hash mode, so Pyodide (which never writes bytecode) imports without compiling.

import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, "")] = process.argv[i + 1];
const pairs = args.pairs ? JSON.parse(fs.readFileSync(args.pairs, "utf8")) : [[args.in, args.out]];
for (const key of ["pyodide", "script"]) {
  if (!args[key]) {
    process.stderr.write(`compile_wheel: --${key} is required\n`);
    process.exit(2);
  }
}
if (!pairs.length || pairs.some(([src, dst]) => !src || !dst)) {
  process.stderr.write("compile_wheel: --in and --out (or --pairs) are required\n");
  process.exit(2);
}
const dir = path.resolve(args.pyodide) + path.sep;
const { loadPyodide } = await import(pathToFileURL(path.join(dir, "pyodide.mjs")).href);
const err = (line) => process.stderr.write(line + "\n");
const pyodide = await loadPyodide({ indexURL: dir, packageCacheDir: dir, stdout: err, stderr: err });
pyodide.runPython(fs.readFileSync(args.script, "utf8"));
for (const [src, dst] of pairs) {
  pyodide.FS.writeFile("/tmp/in.whl", fs.readFileSync(src));
  const count = pyodide.runPython("compile_wheel('/tmp/in.whl', '/tmp/out.whl')");
  fs.writeFileSync(dst, pyodide.FS.readFile("/tmp/out.whl"));
  process.stderr.write(`compile_wheel: ${path.basename(src)}: ${count} modules compiled\n`);
}
