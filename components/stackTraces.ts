/**
 * The program takes no stack traces, unless node is asked for them; and the traces that are taken
 * anyway are formatted once per call site, not once per trace.
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

/**
 * Resource.callsites (resource.js:313-347) takes every frame of the stack for every resource, and
 * ts-node's prepareStackTrace maps and formats each frame anew: at 1,000 domains (about 9,000
 * resources, each from the same few lines of the program) that was 2 s and 40% of what the program
 * allocated. The same frames come back resource after resource, so each frame's line is formatted
 * once, by ts-node's own function, and kept: the text is the same, character for character.
 *
 * ts-node's line for a frame depends on that frame and, for the function's name, on the position of
 * the frame below it (its caller, or the first one below with a source: `state.nextPosition` in
 * prepareStackTrace), so a line is kept under both frames' positions and names. Only ts-node 7.0.1's function (vendored by
 * @pulumi/pulumi, registered by its cmd/run/run.js) is wrapped; any other formatter is left as is.
 */
export function cacheFrameLines(format: (error: Error, stack: NodeJS.CallSite[]) => unknown): (error: Error, stack: NodeJS.CallSite[]) => string {
    const lines = new Map<string, string>();
    const probe = { name: "E", message: "M" } as Error;
    const text = (frames: NodeJS.CallSite[]) => String(format(probe, frames)).slice("E: M".length);
    return function prepareStackTrace(error: Error, frames: NodeJS.CallSite[]) {
        const keys = frames.map(frameKey);
        let out = `${error.name || "Error"}: ${error.message || ""}`;
        // The frame below whose position ts-node names a frame's function by: the next one that is
        // native or has a source (wrapCallSite leaves state.curPosition as it was for the others).
        let below = -1;
        const line: string[] = [];
        for (let i = frames.length - 1; i >= 0; i--) {
            const key = below < 0 ? keys[i] : `${keys[i]}\u0000${keys[below]}`;
            let l = lines.get(key);
            if (l === undefined) {
                // ts-node's own text for the frames from this one to that one, less theirs without it.
                const upTo = below < 0 ? frames.length : below + 1;
                const all = text(frames.slice(i, upTo));
                l = all.slice("\n    at ".length, all.length - text(frames.slice(i + 1, upTo)).length);
                lines.set(key, l);
            }
            line[i] = l;
            if (frames[i].isNative() || frames[i].getFileName() || frames[i].getScriptNameOrSourceURL()) below = i;
        }
        for (const l of line) out += `\n    at ${l}`;
        return out;
    };
}

/** ts-node 7.0.1's source-map-support prepareStackTrace, by its text. */
export function isTsNodeFormatter(format: unknown): format is (error: Error, stack: NodeJS.CallSite[]) => unknown {
    if (typeof format !== "function") return false;
    const text = Function.prototype.toString.call(format);
    return format.name === "prepareStackTrace" && text.includes("wrapCallSite(stack[i], state)") && text.includes("emptyCacheBetweenOperations");
}

/**
 * Everything of a frame that ts-node's wrapCallSite and CallSiteToString read (index.js ~2011-2139),
 * and V8's own text of a frame ts-node leaves as it is (native, or without a source).
 */
function frameKey(f: NodeJS.CallSite): string {
    const native = f.isNative();
    const file = native ? undefined : f.getFileName() || f.getScriptNameOrSourceURL();
    const top = f.isToplevel();
    const ctor = f.isConstructor();
    let key = `${file}\u0001${f.getLineNumber()}\u0001${f.getColumnNumber()}\u0001${f.getFunctionName()}\u0001${top ? "top" : ctor ? "new" : `${f.getTypeName()}.${f.getMethodName()}`}`;
    if (f.isEval()) key += `\u0001eval ${f.getEvalOrigin()}`;
    if (native || !file) key += `\u0001${native ? "native" : ""}${f.isAsync?.() ? " async" : ""}${f.isPromiseAll?.() ? ` all ${f.getPromiseIndex?.()}` : ""}`;
    return key;
}

if (isTsNodeFormatter(Error.prepareStackTrace)) Error.prepareStackTrace = cacheFrameLines(Error.prepareStackTrace);

export {};
