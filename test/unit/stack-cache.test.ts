/**
 * components/stackTraces.ts keeps ts-node's text of each stack frame: the stacks the program formats
 * under the CLI (ts-node registered as @pulumi/pulumi's cmd/run/run.js does, its source-map-support
 * in place) read exactly as ts-node's own prepareStackTrace writes them, and each frame is formatted
 * by it once.
 */
import { execFileSync } from "child_process";
import * as path from "path";
import { describe, expect, it } from "vitest";

const ROOT = path.join(__dirname, "..", "..");

/** In a node process of its own with ts-node registered as test/bench/program.js does. */
const SCRIPT = `
const tsutils = require("@pulumi/pulumi/tsutils");
const { tsnodeRequire, typescriptRequire } = tsutils.typeScriptRequireStrings();
const compilerOptions = tsutils.loadTypeScriptCompilerOptions("tsconfig.json");
require(tsnodeRequire).register({ compiler: typescriptRequire, transpileOnly: true, project: "tsconfig.json", skipProject: false,
    compilerOptions: { target: "ES2020", module: "commonjs", moduleResolution: "node", sourceMap: "true", ...compilerOptions } });
const original = Error.prepareStackTrace;
let calls = 0;
const counted = (e, f) => { calls++; return original(e, f); };
const { cacheFrameLines, isTsNodeFormatter } = require("./components/stackTraces");
const installed = Error.prepareStackTrace !== original && isTsNodeFormatter(original);
const cached = cacheFrameLines(counted);
require("./test/stack/frames").frameSets().then((sets) => {
    const errors = [new Error("boom"), Object.assign(new TypeError(""), { name: "" }), { name: "X", message: "two\\nlines" }];
    const out = [];
    for (const frames of sets) for (const e of errors) out.push([original(e, frames), cached(e, frames)]);
    const before = calls;
    for (const frames of sets) cached(errors[0], frames);
    process.stdout.write(JSON.stringify({ installed, out, frames: sets.reduce((n, s) => n + s.length, 0), again: calls - before }));
});
`;

describe("stack frames formatted once (components/stackTraces.ts)", () => {
    it("every stack reads exactly as ts-node writes it; formatting them all again asks ts-node nothing", () => {
        const r = JSON.parse(execFileSync(process.execPath, ["-e", SCRIPT], { cwd: ROOT, encoding: "utf8" })) as {
            installed: boolean;
            out: [string, string][];
            frames: number;
            again: number;
        };
        expect(r.installed).toBe(true);
        expect(r.out.length).toBeGreaterThan(40);
        // Source-mapped: the frames name the .ts file and its lines.
        expect(r.out[0][0]).toMatch(/frames\.ts:\d+:\d+/);
        for (const [original, cached] of r.out) expect(cached).toBe(original);
        expect(r.again).toBe(0);
    });

    it("any other formatter is left as it is", async () => {
        const { isTsNodeFormatter } = await import("../../components/stackTraces");
        expect(
            isTsNodeFormatter(function prepareStackTrace(e: Error) {
                return e.message;
            }),
        ).toBe(false);
        expect(isTsNodeFormatter(undefined)).toBe(false);
    });
});
