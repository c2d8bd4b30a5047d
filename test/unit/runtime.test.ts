/**
 * How the stack's program is run: the Node.js it needs, and the CLI running it without a type check
 * while `npm test` keeps one.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as semver from "semver";
import * as ts from "typescript";
import { describe, expect, it } from "vitest";
import { ROOT } from "../harness";

const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));

describe("package.json engines states the Node.js the stack needs", () => {
    it("no runtime dependency needs a newer Node.js than engines says", () => {
        for (const dep of Object.keys(pkg.dependencies)) {
            const theirs = JSON.parse(fs.readFileSync(path.join(ROOT, "node_modules", dep, "package.json"), "utf8")).engines?.node;
            if (theirs === undefined) continue;
            // @pulumi/pulumi 3.276: "node": ">=22"; mailauth 7.1.0: ">=22.19.0" (their package.json engines).
            expect(semver.subset(pkg.engines.node, theirs), `${dep} needs node ${theirs}; engines says ${pkg.engines.node}`).toBe(true);
        }
    });
});

describe("the CLI runs the program without type-checking it; npm test type-checks", () => {
    it("Pulumi's nodejs runtime reads noCheck from tsconfig.json as ts-node's transpileOnly", () => {
        // @pulumi/pulumi 3.276 cmd/run/run.js ~279-299: with PULUMI_NODEJS_TRANSPILE_ONLY unset,
        // transpileOnly = compilerOptions.noCheck of the tsconfig (tsutils.js ~29-42 reads it).
        const tsutils = require("@pulumi/pulumi/tsutils");
        expect(tsutils.loadTypeScriptCompilerOptions(path.join(ROOT, "tsconfig.json")).noCheck).toBe(true);
    });

    it("npm test and npm run build run tsc with the check turned back on, and it finds a type error", () => {
        for (const script of [pkg.scripts.test, pkg.scripts.build]) {
            const tsc = script
                .split("&&")
                .map((s: string) => s.trim())
                .find((s: string) => s.startsWith("tsc "));
            expect(tsc, script).toBeDefined();
            expect(ts.parseCommandLine(tsc.split(/\s+/).slice(1)).options.noCheck, tsc).toBe(false);
        }
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mailauth-tsc-"));
        try {
            fs.writeFileSync(path.join(dir, "bad.ts"), 'export const x: number = "not a number";\n');
            fs.writeFileSync(
                path.join(dir, "tsconfig.json"),
                JSON.stringify({ extends: path.join(ROOT, "tsconfig.json"), compilerOptions: { types: [] }, include: [], files: ["bad.ts"] }),
            );
            const tsc = path.join(ROOT, "node_modules/typescript/bin/tsc");
            const run = (args: string[]) => {
                try {
                    execFileSync(process.execPath, [tsc, "-p", dir, "--pretty", "false", ...args], { encoding: "utf8" });
                    return "";
                } catch (e) {
                    return String((e as { stdout?: string }).stdout);
                }
            };
            expect(run(["--noEmit", "--noCheck", "false"])).toContain("TS2322");
            // Without the flag, tsconfig's noCheck hides it: the flag is what keeps npm test honest.
            expect(run(["--noEmit"])).toBe("");
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    }, 120_000);
});

describe("the program takes no stack traces while it runs (components/stackTraces.ts)", () => {
    // test/bench/program.js runs the program as the CLI does: plain node, ts-node registered as
    // @pulumi/pulumi's run.js registers it (with its source-map-support), Pulumi's mocks for the engine.
    const program = (nodeOptions?: string) =>
        JSON.parse(
            execFileSync(process.execPath, [path.join(ROOT, "test/bench/program.js"), "20"], {
                encoding: "utf8",
                env: { ...process.env, NODE_OPTIONS: nodeOptions ?? "" },
            }),
        );

    it("Error.stackTraceLimit is 0 in the program run as the CLI runs it (Node's default is 10: the SDK's stack per promise, source-mapped, was most of its time)", () => {
        expect(program().stackTraceLimit).toBe(0);
    });

    it("a developer's own --stack-trace-limit is kept", () => {
        expect(program("--stack-trace-limit=25").stackTraceLimit).toBe(25);
    });

    it("index.ts loads it before anything else", () => {
        const imports = fs
            .readFileSync(path.join(ROOT, "index.ts"), "utf8")
            .split("\n")
            .filter((l) => l.startsWith("import "));
        expect(imports[0]).toBe('import "./components/stackTraces";');
    });
});

describe("Node's arguments from Pulumi.yaml (runtime.options.nodeargs)", () => {
    it("the bench's program runs with them, as the language host starts node (main.go:313-317, 929)", () => {
        const yaml = require("js-yaml") as typeof import("js-yaml");
        const nodeargs = (yaml.load(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")) as { runtime: { options: { nodeargs: string } } }).runtime.options
            .nodeargs;
        // The young generation the program's garbage collection needs at many domains (BENCHMARKS.md "Program start").
        expect(nodeargs).toMatch(/--max-semi-space-size=\d+/);
        const run = JSON.parse(
            execFileSync(process.execPath, [path.join(ROOT, "test/bench/program.js"), "2"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }),
        );
        expect(run.execArgv).toEqual(nodeargs.split(/\s+/));
        expect(run.domains).toBe(2);
    }, 60_000);
});
