/**
 * The program takes no stack traces, unless node is asked for them.
 *
 * Pulumi's Node.js SDK takes a stack trace for every promise it tracks, formatted at once
 * (@pulumi/pulumi 3.276 runtime/debuggable.js:248-253, `new Error().stack` in debuggablePromise),
 * and the CLI runs the program through ts-node, whose source-map-support maps every frame of each
 * (vendor/ts-node@7.0.1/index.js ~2075-2141, prepareStackTrace). At Node's default of 10 frames that
 * was most of the program's time: 200 domains took 24 s instead of 3 s (test/bench/program.js,
 * BENCHMARKS.md "Program start"). With no frames, those stacks are a bare "Error".
 *
 * Unaffected: the source position of each resource (Resource.callsites sets its own limit,
 * resource.js:326-347) and every message of the stack's own (the CLI shows them without a trace).
 * A developer who wants the frames back runs with node's flag, which this respects:
 * `NODE_OPTIONS=--stack-trace-limit=50 pulumi preview`.
 */
const asked = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? "").split(/\s+/)].some((a) => a.startsWith("--stack-trace-limit"));
if (!asked) Error.stackTraceLimit = 0;

export {};
