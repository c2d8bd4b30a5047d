/**
 * Stack frames of many shapes, taken in a TypeScript file that ts-node compiles (so each frame is
 * source-mapped): methods, constructors, callbacks of builtins (frames without a source), eval,
 * new Function, async frames, Promise.all, the same frames again. test/unit/stack-cache.test.ts
 * formats each with ts-node's prepareStackTrace and with the program's cache of it.
 */
type Frames = NodeJS.CallSite[];

function take(): Frames {
    const prepare = Error.prepareStackTrace;
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = Infinity;
    Error.prepareStackTrace = (_e, frames) => frames;
    try {
        const holder: { stack?: unknown } = {};
        Error.captureStackTrace(holder);
        return holder.stack as Frames;
    } finally {
        Error.prepareStackTrace = prepare;
        Error.stackTraceLimit = limit;
    }
}

class Resource {
    frames: Frames;
    constructor() {
        this.frames = take();
    }
    method(): Frames {
        return take();
    }
    static make(): Resource {
        return new Resource();
    }
}
class Record extends Resource {}

const named = function outerName() {
    return take();
};

export async function frameSets(): Promise<Frames[]> {
    const sets: Frames[] = [];
    sets.push(take());
    sets.push(new Resource().frames, new Record().frames, Resource.make().frames, new Resource().method(), new Record().method());
    // One method of one class, called from one place on two classes: "Resource.method", then "Record.method".
    sets.push(...[new Resource(), new Record()].map((o) => o.method()));
    sets.push(...[1, 2].map(() => take()));
    sets.push(...[1, 2].map((i) => [new Record()].map(() => take())[0]));
    sets.push([3].flatMap(() => [named()])[0]);
    sets.push(eval("take()") as Frames);
    sets.push(new Function("take", "return take()")(take) as Frames);
    sets.push(await (async () => take())());
    sets.push(...(await Promise.all([0, 1].map(async (i) => (await Promise.resolve(i), take())))));
    sets.push(await new Promise<Frames>((resolve) => setImmediate(() => resolve(take()))));
    // The same sites again, from other callers.
    for (let i = 0; i < 3; i++) sets.push(new Record().frames, named());
    return sets;
}
