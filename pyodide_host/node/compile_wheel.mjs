// Precompile a pure wheel's modules to bytecode INSIDE Pyodide (the host CPython's .pyc would
// carry the wrong magic number), for `python -m pyodide_host.build`.
//
//   node pyodide_host/node/compile_wheel.mjs --pyodide DIR --in IN.whl --out OUT.whl --script FILE.py
//
// DIR is the npm pyodide package (no packages are loaded); FILE.py defines
// `compile_wheel(src, dst)` (pyodide_host/build/compile_in_pyodide.py).  The output wheel
// holds every source plus `__pycache__/<module>.cpython-3XY.pyc` in unchecked-hash mode, so
// Pyodide (which never writes bytecode) imports without compiling.

import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, "")] = process.argv[i + 1];
for (const key of ["pyodide", "in", "out", "script"]) {
  if (!args[key]) {
    process.stderr.write(`compile_wheel: --${key} is required\n`);
    process.exit(2);
  }
}
const dir = path.resolve(args.pyodide) + path.sep;
const { loadPyodide } = await import(pathToFileURL(path.join(dir, "pyodide.mjs")).href);
const err = (line) => process.stderr.write(line + "\n");
const pyodide = await loadPyodide({ indexURL: dir, packageCacheDir: dir, stdout: err, stderr: err });
pyodide.FS.writeFile("/tmp/in.whl", fs.readFileSync(args.in));
pyodide.runPython(fs.readFileSync(args.script, "utf8"));
const count = pyodide.runPython("compile_wheel('/tmp/in.whl', '/tmp/out.whl')");
fs.writeFileSync(args.out, pyodide.FS.readFile("/tmp/out.whl"));
process.stderr.write(`compile_wheel: ${count} modules compiled\n`);
