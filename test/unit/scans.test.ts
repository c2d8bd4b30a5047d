/**
 * The program's time at many domains (issue 15, "Speed at start"): no search of a list per domain.
 * Each `find`, `findIndex`, `filter`, `some` and `every` the program makes is counted by the
 * predicate's source text, the whole program run at N and at 4N domains: a predicate called once per
 * domain (or per record) is called about 4 times as often at 4N, one that searches every domain's
 * entry per domain about 16 times. The zone check's results were searched so per domain, four times
 * over (each domain's zone id and zone name, the recheck after adoption, the signing gate), and the
 * zone's records filtered per domain; 1,000 domains made that millions of comparisons.
 */
import { describe, expect, it } from "vitest";
import { exampleConfig, runProgram } from "../harness";
import { FakeCloudflare } from "../cloudflare";
import { recordsAtOrBelow, resultsByDomain } from "../../components/zone";
import { normalizeName } from "../../components/records/name";

const ZONE_ID = "0123456789abcdef0123456789abcdef";
const name = (i: number) => (i === 0 ? "example.com" : `d${String(i).padStart(4, "0")}.example.com`);

/** N domains in one zone (the bench's layout), adopting, on a rotation calendar; one record of the user's under each domain. */
function setup(n: number) {
    const cf = new FakeCloudflare();
    const zone = cf.addZone("example.com", ZONE_ID);
    for (let i = 0; i < n; i++)
        zone.records.push({
            id: cf.newId(),
            name: `www.${name(i)}`,
            type: "A",
            content: "192.0.2.80",
            ttl: 1,
            proxied: false,
            comment: null,
            tags: [],
            ...cf.times(),
        });
    const config = {
        ...exampleConfig(),
        "mailauth:domains": Array.from({ length: n }, (_, i) => ({ name: name(i), zoneId: ZONE_ID, selector: "s1", rotation: { start: "2026-12-01" } })),
        "mailauth:adoptRecords": "true",
        "cloudflare:apiToken": "test-token",
        // A report address in another domain's zone: every domain gets an authorization there.
        "mailauth:dmarc": { policy: "none", rua: ["dmarc-reports@example.com"] },
    };
    return { cf, config };
}

const METHODS = ["find", "findIndex", "filter", "some", "every"] as const;

/** Predicate calls during one program run (an `up`, so that the recheck after adoption runs), by predicate source. */
async function predicateCalls(n: number): Promise<Map<string, number>> {
    const { cf, config } = setup(n);
    const calls = new Map<string, number>();
    const originals = METHODS.map((m) => [m, Array.prototype[m]] as const);
    for (const [m, original] of originals) {
        Object.defineProperty(Array.prototype, m, {
            configurable: true,
            writable: true,
            value: function (this: unknown[], predicate: (...a: unknown[]) => unknown, thisArg?: unknown) {
                if (typeof predicate !== "function") return (original as Function).call(this, predicate, thisArg);
                const key = `${m}: ${Function.prototype.toString.call(predicate)}`;
                return (original as Function).call(
                    this,
                    function (this: unknown, ...a: unknown[]) {
                        calls.set(key, (calls.get(key) ?? 0) + 1);
                        return predicate.apply(this, a);
                    },
                    thisArg,
                );
            },
        });
    }
    try {
        await runProgram(config, { call: cf.call, shareKeys: true });
    } finally {
        for (const [m, original] of originals) Object.defineProperty(Array.prototype, m, { configurable: true, writable: true, value: original });
    }
    return calls;
}

describe("the program at many domains", () => {
    it("no list is searched per domain: every predicate's calls grow with the domains, not with their square", async () => {
        const small = await predicateCalls(40);
        const large = await predicateCalls(160);
        // Linear: about 4x (what is per run, not per domain, stays); quadratic: about 16x.
        const quadratic = [...large]
            .filter(([key, count]) => count > 1000 && count > 8 * (small.get(key) ?? 0))
            .map(([key, count]) => `${count} calls at 160 domains, ${small.get(key) ?? 0} at 40: ${key.slice(0, 160)}`);
        expect(quadratic).toEqual([]);
    }, 120_000);
});

describe("the lookups that replace the searches", () => {
    it("recordsAtOrBelow gives each name what a filter per name gave, in the listing's order", () => {
        const names = ["example.com", "d1.example.com", "b.d1.example.com", "example.org", "xample.com"];
        const records = [
            "example.com",
            "EXAMPLE.COM.",
            "_dmarc.example.com",
            "s1._domainkey.d1.example.com",
            "xd1.example.com",
            "a.b.d1.example.com",
            "example.org",
            "www.example.org.",
            "anexample.com",
            "com",
        ].map((name, id) => ({ id, name }));
        const before = names.map((d) => records.filter((r) => normalizeName(r.name) === d || normalizeName(r.name).endsWith(`.${d}`)));
        expect(recordsAtOrBelow(records, names)).toEqual(before);
        // A name given twice gets the same records at each of its places.
        expect(recordsAtOrBelow(records, ["example.org", "example.org"])).toEqual([before[3], before[3]]);
    });
    it("resultsByDomain keeps the first result of a domain, as find did", () => {
        const rs = [
            { domain: "a", n: 1 },
            { domain: "b", n: 2 },
            { domain: "a", n: 3 },
        ];
        const map = resultsByDomain(rs);
        for (const d of ["a", "b", "c"]) expect(map.get(d)).toBe(rs.find((r) => r.domain === d));
    });
});
