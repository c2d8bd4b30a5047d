/**
 * The stack's program at N domains (one zone, `zoneId` set, one selector each), run as `pulumi
 * preview` runs it, under Pulumi's mocks (test/harness.ts) instead of the engine:
 * - a plain `node` with the `nodeargs` of Pulumi.yaml's runtime options, as the nodejs language
 *   host starts it (pulumi/pulumi sdk/nodejs/cmd/pulumi-language-nodejs/main.go:313-317 reads
 *   `nodeargs`, :929 splits it into node's arguments; @ 1b5949891b, v3.260): started without them,
 *   it starts itself again with them;
 * - ts-node registered exactly as @pulumi/pulumi 3.276 cmd/run/run.js ~279-361 does (the project's
 *   TypeScript, `transpileOnly` from tsconfig.json's noCheck, CommonJS, source maps), which also
 *   installs source-map-support (so every stack the SDK takes is
 *   source-mapped), as in the CLI; Error.stackTraceLimit stays Node's default, 10.
 * Prints one JSON line: {domains, loadSeconds, runSeconds, totalSeconds} from this process's start.
 *
 * Usage: node test/bench/program.js <domains>; test/bench/scale.test.ts runs it.
 */
const started = process.hrtime.bigint();
const path = require("path");
const ROOT = path.join(__dirname, "..", "..");
process.chdir(ROOT);
const seconds = (from) => Number(process.hrtime.bigint() - from) / 1e9;

// Pulumi.yaml's runtime.options.nodeargs, as the language host passes them to node (main.go:313-317
// reads the option, :929 splits it with shlex and puts the words before the program's arguments): when
// this process was not started with them, it runs itself again with them, and that run is measured.
const nodeargs = nodeArgsOf(require("fs").readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8"));
if (nodeargs.length > 0 && process.env.MAILAUTH_BENCH_NODEARGS !== nodeargs.join(" ")) {
    const { status } = require("child_process").spawnSync(process.execPath, [...nodeargs, __filename, ...process.argv.slice(2)], {
        stdio: "inherit",
        env: { ...process.env, MAILAUTH_BENCH_NODEARGS: nodeargs.join(" ") },
    });
    process.exit(status ?? 1);
}
/** The words of `runtime.options.nodeargs` in Pulumi.yaml (none when unset); quotes as a shell reads them. */
function nodeArgsOf(pulumiYaml) {
    const line = require("js-yaml").load(pulumiYaml)?.runtime?.options?.nodeargs ?? "";
    return [...String(line).matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]);
}

const tsutils = require("@pulumi/pulumi/tsutils");
const tsConfigPath = "tsconfig.json";
const compilerOptions = tsutils.loadTypeScriptCompilerOptions(tsConfigPath);
const { tsnodeRequire, typescriptRequire } = tsutils.typeScriptRequireStrings();
const ts = require(typescriptRequire);
const useNodeNext = Number(ts.version.split(".")[0]) * 100 + Number(ts.version.split(".")[1]) >= 407;
require(tsnodeRequire).register({
    compiler: typescriptRequire,
    transpileOnly: compilerOptions.noCheck,
    project: tsConfigPath,
    skipProject: false,
    compilerOptions: {
        target: "ES2020",
        module: useNodeNext ? "nodenext" : "commonjs",
        moduleResolution: useNodeNext ? "nodenext" : "node",
        sourceMap: "true",
        ...compilerOptions,
    },
});

const n = Number(process.argv[2] ?? 1000);
let limitInProgram;
(async () => {
    const harness = require("../harness");
    harness.setProgramLoader(async () => {
        for (const id of Object.keys(require.cache))
            if (id.startsWith(ROOT) && !id.includes("node_modules") && !id.includes(`${path.sep}test${path.sep}`)) delete require.cache[id];
        const program = require("../../index");
        limitInProgram = Error.stackTraceLimit;
        return program;
    });
    const config = harness.manyDomainsConfig(n);
    const loaded = process.hrtime.bigint();
    const loadSeconds = seconds(started);
    await harness.runProgram(config, { preview: true, shareKeys: true });
    const runSeconds = seconds(loaded);
    process.stdout.write(
        JSON.stringify({
            domains: n,
            loadSeconds,
            runSeconds,
            totalSeconds: seconds(started),
            cpuSeconds: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
            stackTraceLimit: limitInProgram,
            execArgv: process.execArgv,
        }) + "\n",
    );
})().catch((e) => {
    process.stderr.write(String(e?.stack ?? e) + "\n");
    process.exit(1);
});
