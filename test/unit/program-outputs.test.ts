/**
 * The Outputs the program makes per domain (issue 15, program time). At 1,000 domains the
 * program's time is the SDK's work per Output: each one is an object with about ten promises
 * (@pulumi/pulumi 3.276 output.js 71-118: copies of its resources, `isKnown`, `lifted` and three
 * `then`s on it), and garbage collection and the microtask queue were two thirds of a profile
 * (BENCHMARKS.md "Fewer Outputs"). What makes them, per call site, was counted with this test's
 * counter (every Output the SDK makes is returned through `new Proxy`, output.js 118-135):
 * - `pulumi.all` and `pulumi.output` over an Output make two more (outputRec, output.js 391-401:
 *   a copy and an apply), so `all` over n Outputs makes 2n + 1;
 * - an alias given as a spec makes seven per resource (resource.js 421-436 collapseAliasToUrn,
 *   createUrn 34-58: the parent's URN applied, then interpolated), one given as a URN three;
 * - the SDK's own per resource: its URN and id, and one per property key (rpc.js 60-101).
 *
 * The counts are per domain, from the difference between two sizes (what does not grow with the
 * domains cancels out). A budget is what the program makes now, with a little room; an SDK upgrade
 * that makes more shows here (then measure with `npm run bench` before raising it).
 */
import { describe, expect, it } from "vitest";
import { manyDomainsConfig, runProgram, RunOptions } from "../harness";

/**
 * `check`: mailauth:check.enabled, on as users have it by default (the harness turns it off unless
 * set). It never runs at preview; at `up` it is off here, as its DNS questions would leave this machine.
 */
function config(n: number, check: boolean): Record<string, unknown> {
    return { ...manyDomainsConfig(n), "mailauth:check": { enabled: check } };
}

/** Every Output made while `f` runs: the SDK returns each through `new Proxy` (output.js 118). */
async function outputsMadeBy(f: () => Promise<unknown>): Promise<number> {
    const original = globalThis.Proxy;
    let made = 0;
    globalThis.Proxy = new original(original, {
        construct(target, args) {
            made++;
            return new target(args[0], args[1]);
        },
    });
    try {
        await f();
    } finally {
        globalThis.Proxy = original;
    }
    return made;
}

async function perDomain(opts: RunOptions, check: boolean): Promise<number> {
    const small = await outputsMadeBy(() => runProgram(config(5, check), { shareKeys: true, ...opts }));
    const large = await outputsMadeBy(() => runProgram(config(25, check), { shareKeys: true, ...opts }));
    return (large - small) / 20;
}

describe("Outputs the program makes per domain", () => {
    // 142 before the check's inputs were made only when it runs, the records' alias was a URN, and
    // the applies were merged (mailDns.ts, dkimKey.ts warnKeptKey, mailHost.ts keys); 90 after.
    it("at preview: at most 95", async () => {
        const n = await perDomain({ preview: true }, true);
        expect(n).toBeGreaterThan(20);
        expect(n).toBeLessThanOrEqual(95);
    }, 120_000);

    // 144 before, 93 after.
    it("at up, the check off: at most 98", async () => {
        const n = await perDomain({}, false);
        expect(n).toBeGreaterThan(20);
        expect(n).toBeLessThanOrEqual(98);
    }, 120_000);
});
