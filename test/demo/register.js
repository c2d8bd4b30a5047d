/**
 * Lets plain Node run the demo's TypeScript (test/demo/main.js loads it first; the unit test
 * test/unit/demo.test.ts checks it). No test runner: the output is the demo's own and Ctrl-C
 * reaches its cleanup.
 *
 * TypeScript is transpiled in memory, file by file, by the project's own compiler
 * (typescript.transpileModule: no type check here, `npm test` type-checks these files).
 *
 * The lab's harness (test/harness.ts) asks vitest for one thing, `vi.resetModules()`, so that
 * each run evaluates the stack program (index.ts) afresh. Outside vitest that is Node's module
 * cache: the shim below drops the program's own modules (index.ts, components/) from it, and
 * keeps node_modules (one @pulumi/pulumi, as under vitest, which also keeps dependencies loaded).
 */
"use strict";
const fs = require("fs");
const path = require("path");
const Module = require("module");
const ts = require("typescript");

const ROOT = path.join(__dirname, "..", "..");
const compilerOptions = {
    module: ts.ModuleKind.CommonJS,
    target: ts.ScriptTarget.ES2020,
    esModuleInterop: true,
    experimentalDecorators: true,
    inlineSourceMap: true,
};
require.extensions[".ts"] = (module, filename) => {
    const source = fs.readFileSync(filename, "utf8");
    module._compile(ts.transpileModule(source, { compilerOptions, fileName: filename }).outputText, filename);
};
process.setSourceMapsEnabled(true);

const programModule = (file) =>
    file.startsWith(ROOT + path.sep) &&
    !file.includes(`${path.sep}node_modules${path.sep}`) &&
    (file === path.join(ROOT, "index.ts") || file.startsWith(path.join(ROOT, "components") + path.sep));
const vitestShim = new Module("vitest");
vitestShim.loaded = true;
vitestShim.exports = {
    vi: {
        resetModules() {
            for (const file of Object.keys(require.cache)) if (programModule(file)) delete require.cache[file];
        },
    },
};
require.cache[require.resolve("vitest")] = vitestShim;
