/**
 * The zone check's API calls (issue 15.1): counted by the Cloudflare fake as the provider's data
 * sources make them (a page per call, the last page empty; test/cloudflare.ts providerPages), against
 * Cloudflare's limit of 1,200 calls per 5 minutes per user, then 5 minutes of 429.
 */
import { describe, expect, it } from "vitest";
import { FakeCloudflare, RateLimit, zoneReaderOf } from "../cloudflare";
import { exampleConfig, programError, runProgram } from "../harness";
import { legacyComment } from "../../components/stackMarker";
import { checkAdopted, checkZones, DomainPlan, LISTING_LIMITS, Target, ZoneError } from "../../components/zone";

const MARK = legacyComment("mailauth", "test");
const OWN = { comment: MARK, stack: "test", project: "mailauth", adopt: false, log: () => undefined };
/** As the bench's scale case names them (test/bench/scale.test.ts): example.com and d0001.example.com on. */
const domainName = (i: number, apex = "example.com") => (i === 0 ? apex : `d${String(i).padStart(4, "0")}.${apex}`);

function targets(d: string): Target[] {
    return [
        { kind: "mx", name: d, type: "MX", resource: `${d}-mx`, value: "mail.example.net", priority: 10 },
        { kind: "spf", name: d, type: "TXT", resource: `${d}-spf`, value: "v=spf1 mx -all" },
        { kind: "dkim", name: `s1._domainkey.${d}`, type: "TXT", resource: `${d}-dkim-s1` },
        { kind: "dmarc", name: `_dmarc.${d}`, type: "TXT", resource: `${d}-dmarc`, value: "v=DMARC1; p=none" },
    ];
}
function plans(n: number, name: (i: number) => string, zoneId?: string): DomainPlan[] {
    return Array.from({ length: n }, (_, i) => ({
        domain: name(i),
        zoneId,
        component: name(i),
        targets: targets(name(i)),
        selectors: ["s1"],
        spfMechanisms: [],
        index: i,
    }));
}
/** The records a converged stack has in the zone: its own four per domain. */
function converged(cf: FakeCloudflare, zone: string, ds: DomainPlan[]) {
    for (const p of ds)
        for (const t of p.targets)
            // Straight into the zone (no CNAME among them; addRecord's per-name rule is quadratic at 4,000).
            cf.zone(zone).records.push({
                id: cf.newId(),
                name: t.name,
                type: t.type,
                content: t.type === "TXT" ? `"${t.value ?? "v=DKIM1; k=rsa; p=AAAA"}"` : t.value!,
                priority: t.priority,
                ttl: 1,
                proxied: false,
                comment: MARK,
                tags: [],
                ...cf.times(),
            });
}

describe("API calls of the zone check", () => {
    it("1,000 domains in one zone (the bench's layout): at most 600 calls, fresh and converged, with and without zoneId", async () => {
        const measured: Record<string, number> = {};
        for (const withId of [true, false]) {
            for (const state of ["fresh", "converged"]) {
                const cf = new FakeCloudflare();
                const zone = cf.addZone("example.com");
                for (let i = 0; i < 49; i++) cf.addZone(`other${i}.example`); // the account's other zones: 3 pages of 20
                const ds = plans(1000, (i) => domainName(i), withId ? zone.id : undefined);
                if (state === "converged") converged(cf, "example.com", ds);
                const rs = await checkZones(ds, { ...OWN, reader: zoneReaderOf(cf) });
                expect(rs.every((r) => r.zone.id === zone.id)).toBe(true);
                measured[`${withId ? "zoneId" : "by name"}, ${state}`] = cf.apiCalls;
            }
        }
        // Before: one zone lookup per domain (per candidate name without zoneId) and one records listing per domain.
        expect(measured).toEqual({
            "zoneId, fresh": 2, // GET /zones/{id}; one records page, empty
            "zoneId, converged": 42, // 4,000 records: 40 pages of 100, then the empty one
            "by name, fresh": 5, // zones: 3 pages of 20 then the empty one; records: one empty page
            "by name, converged": 45,
        });
        for (const n of Object.values(measured)) expect(n).toBeLessThanOrEqual(600);
    }, 60_000);

    it("one zone per domain: a zones listing per run and a records listing per zone (2 calls each: its page and the empty one)", async () => {
        const cf = new FakeCloudflare();
        const ds = plans(100, (i) => `d${i}.example`);
        for (const p of ds) cf.addZone(p.domain);
        converged(cf, "d0.example", []);
        for (const p of ds) converged(cf, p.domain, [p]);
        await checkZones(ds, { ...OWN, reader: zoneReaderOf(cf) });
        // zones: 100 / 20 = 5 pages and the empty one; records: 100 x 2.
        expect(cf.apiCalls).toBe(6 + 200);
    });

    it("the recheck after adoption: one records listing per zone, not one per domain", async () => {
        const cf = new FakeCloudflare();
        const zone = cf.addZone("example.com");
        const ds = plans(1000, (i) => domainName(i), zone.id);
        converged(cf, "example.com", ds);
        // One record added by hand at an adopted name since the adoption: refused, naming its domain.
        cf.addRecord("example.com", { name: "d0500.example.com", type: "TXT", content: '"v=spf1 include:_spf.other.net ~all"' });
        const err = await checkAdopted(
            ds.map((plan) => ({ plan, zone: { id: zone.id, name: zone.name } })),
            { comment: MARK, stack: "test", project: "mailauth" },
            zoneReaderOf(cf),
        ).then(
            () => "",
            (e: ZoneError) => e.message,
        );
        expect(err).toMatch(
            /d0500\.example\.com: TXT d0500\.example\.com "v=spf1 include:_spf\.other\.net ~all" \(record id \w+\) was added at a name the stack adopted earlier/,
        );
        expect(err.match(/was added at a name/g)).toHaveLength(1);
        // 4,001 records: 41 pages of 100, then the empty one. Before: a listing per domain (1,000 listings, 2,000+ calls).
        expect(cf.apiCalls).toBe(42);
    });

    it("the recheck after adoption meeting Cloudflare's limit says so, once", async () => {
        const cf = new FakeCloudflare();
        const zone = cf.addZone("example.com");
        for (let i = 0; i < RateLimit.LIMIT; i++) cf.rate.take();
        const err = await checkAdopted(
            [{ plan: plans(1, () => "example.com")[0], zone: { id: zone.id, name: zone.name } }],
            { comment: MARK, stack: "test", project: "mailauth" },
            zoneReaderOf(cf),
        ).then(
            () => "",
            (e: Error) => e.message,
        );
        expect(err).toContain("over its API limit (429 Too Many Requests)");
        expect(err).not.toContain("invocation of");
    });

    it("a 429 from Cloudflare's limit is said as such, not as a missing permission", async () => {
        const cf = FakeCloudflare.forConfig(exampleConfig());
        for (let i = 0; i < RateLimit.LIMIT; i++) cf.rate.take(); // the user's other tools spent the budget
        const err = await programError(exampleConfig(), { preview: true, call: cf.call });
        expect(err).toContain("over its API limit (429 Too Many Requests): 1,200 calls per 5 minutes per user");
        expect(err).toContain("Wait 5 minutes");
        expect(err).not.toMatch(/needs Zone|give it Zone/);
        expect(err.match(/over its API limit/g)).toHaveLength(1);
    });

    it("the fake blocks every call for 5 minutes past 1,200 in 5 minutes, as Cloudflare documents", () => {
        let t = 0;
        const rate = new RateLimit(() => t);
        for (let i = 0; i < 1200; i++) expect(rate.take()).toBeUndefined();
        t = 60_000;
        expect(rate.take()).toBe(300);
        t = 5 * 60_000 + 30_000; // the window's first calls are old now, but the block lasts
        expect(rate.take()).toBe(30);
        t = 6 * 60_000 + 1;
        expect(rate.take()).toBeUndefined();
    });

    it(`a zone with more than ${LISTING_LIMITS.records} records under the domain: refused, not read in part (maxItems cuts silently)`, async () => {
        const cf = new FakeCloudflare();
        const z = cf.addZone("example.com");
        // Straight into the zone: addRecord's per-name CNAME rule makes 20,000 inserts quadratic.
        for (let i = 0; i < LISTING_LIMITS.records; i++)
            z.records.push({
                id: cf.newId(),
                name: `h${i}.example.com`,
                type: "A",
                content: "192.0.2.1",
                ttl: 1,
                proxied: false,
                comment: null,
                tags: [],
                ...cf.times(),
            });
        // After the cut: a second SPF record that a read of the first 20,000 would miss.
        cf.addRecord("example.com", { name: "example.com", type: "TXT", content: '"v=spf1 include:_spf.other.net ~all"' });
        const err = await checkZones(
            plans(1, () => "example.com"),
            { ...OWN, reader: zoneReaderOf(cf) },
        ).then(
            () => undefined,
            (e: ZoneError) => e.message,
        );
        expect(err).toContain(`zone example.com has more than ${LISTING_LIMITS.records} records at or below example.com`);
        expect(cf.apiCalls).toBeLessThanOrEqual(1 + Math.ceil((LISTING_LIMITS.records + 1) / 100) + 1);
    });
});

describe("the stack's own records (issue 23.7)", () => {
    const one = () => plans(1, () => "example.com");
    it("two records of one kind at one name with this stack's comment: refused", async () => {
        const cf = new FakeCloudflare();
        cf.addZone("example.com");
        cf.addRecord("example.com", { name: "example.com", type: "TXT", content: '"v=spf1 mx -all"', comment: MARK });
        cf.addRecord("example.com", { name: "example.com", type: "TXT", content: '"v=spf1 include:_spf.other.net -all"', comment: MARK });
        const err = await checkZones(one(), { ...OWN, reader: zoneReaderOf(cf) }).then(
            () => "",
            (e: Error) => e.message,
        );
        expect(err).toContain("2 records at example.com carry this stack's comment as its SPF record");
    });
    it("several MX hosts (mailauth:hosts): each MX target owns its own host's record, so a converged zone passes; a copy of one is refused", async () => {
        // Before: each MX target took both of the stack's MX records as its own, and every run after the first was refused.
        const two = (): DomainPlan[] =>
            one().map((p) => ({
                ...p,
                targets: [
                    ...p.targets.filter((t) => t.kind !== "mx"),
                    { kind: "mx", name: "example.com", type: "MX", resource: "example.com-mx-mail.example.com", value: "mail.example.com", priority: 10 },
                    { kind: "mx", name: "example.com", type: "MX", resource: "example.com-mx-mail2.example.com", value: "mail2.example.com", priority: 20 },
                ],
            }));
        const cf = new FakeCloudflare();
        cf.addZone("example.com");
        converged(cf, "example.com", two());
        await expect(checkZones(two(), { ...OWN, reader: zoneReaderOf(cf) })).resolves.toBeDefined();
        cf.addRecord("example.com", { name: "example.com", type: "MX", content: "mail2.example.com", priority: 30, comment: MARK });
        const err = await checkZones(two(), { ...OWN, reader: zoneReaderOf(cf) }).then(
            () => "",
            (e: Error) => e.message,
        );
        expect(err).toContain("2 records at example.com carry this stack's comment as its MX record");
        expect(err).toContain("mail2.example.com priority 30");
        expect(err).not.toContain("mail.example.com priority 10");
    });
    it("several hosts: a host's A, AAAA and HELO SPF records are its own by their name, whatever their value (the MX rule is for MX alone)", async () => {
        // Owned by value as the MX records are, a host's record whose address changed would be nobody's: no warning, no refusal.
        const hosts = (): DomainPlan[] =>
            one().map((p) => ({
                ...p,
                targets: [
                    ...p.targets,
                    ...[
                        ["mail.example.com", "192.0.2.25", "2001:db8::25"],
                        ["mail2.example.com", "192.0.2.26", "2001:db8::26"],
                    ].flatMap(([h, a, aaaa]): Target[] => [
                        { kind: "a", name: h, type: "A", resource: `example.com-mx-a-${h}`, value: a },
                        { kind: "aaaa", name: h, type: "AAAA", resource: `example.com-mx-aaaa-${h}`, value: aaaa },
                        { kind: "helo", name: h, type: "TXT", resource: `example.com-mx-spf-${h}`, value: "v=spf1 a -all" },
                    ]),
                ],
            }));
        const cf = new FakeCloudflare();
        cf.addZone("example.com");
        converged(cf, "example.com", hosts());
        const warned: string[] = [];
        const check = () =>
            checkZones(hosts(), { ...OWN, reader: zoneReaderOf(cf), warn: (m: string) => warned.push(m) }).then(
                () => "",
                (e: Error) => e.message,
            );
        expect(await check()).toBe("");
        expect(warned).toEqual([]);
        // mail2's address and HELO SPF record as an earlier run published them: still mail2's, for this run to set.
        const at = (name: string, type: string) => cf.zone("example.com").records.find((r) => r.name === name && r.type === type)!;
        at("mail2.example.com", "A").content = "192.0.2.99";
        at("mail2.example.com", "AAAA").content = "2001:db8::99";
        at("mail2.example.com", "TXT").content = '"v=spf1 ip4:192.0.2.99 -all"';
        expect(await check()).toBe("");
        expect(warned).toHaveLength(3);
        for (const r of ["A mail2.example.com 192.0.2.99", "AAAA mail2.example.com 2001:db8::99", 'TXT mail2.example.com "v=spf1 ip4:192.0.2.99 -all"'])
            expect(warned.join("\n")).toContain(`example.com: ${r} (record id`);
        // A second record of the stack's at a host's name: refused, whatever its value.
        cf.addRecord("example.com", { name: "mail2.example.com", type: "A", content: "192.0.2.26", comment: MARK });
        cf.addRecord("example.com", { name: "mail2.example.com", type: "TXT", content: '"v=spf1 a -all"', comment: MARK });
        const err = await check();
        expect(err).toContain("2 records at mail2.example.com carry this stack's comment as its A record");
        expect(err).toContain("2 records at mail2.example.com carry this stack's comment as its HELO SPF record");
        expect(err).not.toContain("at mail.example.com");
    });
    it("this stack's comment on a value it does not publish: flagged", async () => {
        const cf = new FakeCloudflare();
        cf.addZone("example.com");
        cf.addRecord("example.com", { name: "_dmarc.example.com", type: "TXT", content: '"v=DMARC1; p=reject; rua=mailto:x@evil.example"', comment: MARK });
        const warned: string[] = [];
        await checkZones(one(), { ...OWN, reader: zoneReaderOf(cf), warn: (m) => warned.push(m) });
        expect(warned.join("\n")).toContain('_dmarc.example.com "v=DMARC1; p=reject; rua=mailto:x@evil.example"');
        expect(warned.join("\n")).toContain("carries this stack's comment but not the value the stack publishes");
    });
});

/**
 * Each of the check's reads (components/zone.ts resolveZone: a zone by id, the zones listing; perZone:
 * a zone's records) refused by Cloudflare: its own message per domain, or the API limit once.
 */
describe("the zone check's reads refused", () => {
    type Read = "zoneById" | "allZones" | "recordsUnder";
    /** A provider error as terraform-provider-cloudflare reports a refused call (test/cloudflare.ts refuse). */
    const refusal = (status: number, code: number, message: string) =>
        new Error(
            `invocation of cloudflare returned an error: failed to make http request: GET "https://api.cloudflare.com/client/v4/x": ${status} ${status === 429 ? "Too Many Requests" : "Forbidden"} ` +
                JSON.stringify({ success: false, errors: [{ code, message }], messages: [], result: null }),
        );
    /** The check's problems for two domains of one zone, given by id or found by name, with `read` failing. */
    async function check(read: Read, error: Error, byId = read === "zoneById"): Promise<string[]> {
        const cf = new FakeCloudflare();
        const zone = cf.addZone("example.com");
        const reader = { ...zoneReaderOf(cf), [read]: async () => Promise.reject(error) };
        const ds = plans(2, (i) => domainName(i), byId ? zone.id : undefined);
        return checkZones(ds, { ...OWN, reader }).then(
            () => [],
            (e: ZoneError) => e.problems,
        );
    }

    it("a zone by id, the zones listing, a zone's records: each domain told what the token lacks", async () => {
        const byId = await check("zoneById", refusal(403, 9109, "Unauthorized to access requested resource"));
        expect(byId).toHaveLength(2);
        expect(byId[0]).toMatch(
            /^example\.com: Cloudflare refused to read zone \S+ \(403: 9109 Unauthorized to access requested resource\): either the id is not a zone of your account/,
        );
        expect(byId[1]).toMatch(/^d0001\.example\.com: Cloudflare refused to read zone /);
        expect(await check("allZones", refusal(403, 9109, "Unauthorized"))).toEqual([
            "example.com: Cloudflare refused to list zones (403: 9109 Unauthorized): to find the zone of example.com by name the API token needs Zone → Zone → Read on it; or set mailauth:domains[].zoneId",
            "d0001.example.com: Cloudflare refused to list zones (403: 9109 Unauthorized): to find the zone of d0001.example.com by name the API token needs Zone → Zone → Read on it; or set mailauth:domains[].zoneId",
        ]);
        const records = await check("recordsUnder", refusal(403, 10000, "Authentication error"));
        expect(records).toHaveLength(2);
        expect(records[1]).toMatch(
            /^d0001\.example\.com: Cloudflare refused to list the DNS records of zone example\.com \(\S+\) \(403: 10000 Authentication error\)/,
        );
    });

    it.each<Read>(["zoneById", "allZones", "recordsUnder"])("%s over Cloudflare's API limit: said once, and no permission is blamed", async (read) => {
        const problems = await check(read, refusal(429, 971, "Please wait and consider throttling your request speed"));
        expect(problems).toHaveLength(1);
        expect(problems[0]).toMatch(/^Cloudflare refused the zone check's calls for going over its API limit \(429 Too Many Requests\)/);
    });

    it.each<Read>(["zoneById", "allZones", "recordsUnder"])("%s failing otherwise (not a refusal): the error itself", async (read) => {
        const cf = new FakeCloudflare();
        const zone = cf.addZone("example.com");
        const reader = { ...zoneReaderOf(cf), [read]: async () => Promise.reject(new Error("connection reset")) };
        await expect(
            checkZones(
                plans(1, (i) => domainName(i), read === "zoneById" ? zone.id : undefined),
                { ...OWN, reader },
            ),
        ).rejects.toThrow("connection reset");
    });
});
