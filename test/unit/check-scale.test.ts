/**
 * components/check at scale, against test/dns-server.ts with a resolver's round trip (20 ms): the
 * queries in flight stay within MAX_IN_FLIGHT and MAX_QUERIES_PER_SECOND, and a question shared by
 * domains (the MX host's A/AAAA and SPF record, its PTRs, the report domain's names) is asked once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkPublished, MAX_IN_FLIGHT, MAX_QUERIES_PER_SECOND, ptrName, worst } from "../../components/check";
import { DnsServer, peakRate, startDnsServer } from "../dns-server";
import { manyDomains, MX_HOST, MX_IPV4, MX_IPV6 } from "../check-zone";

let server: DnsServer;
beforeAll(async () => {
    server = await startDnsServer({}, { latencyMs: 20 });
});
afterAll(() => server.close());

describe("the check's resolver", () => {
    it("60 domains: at most MAX_IN_FLIGHT queries at once and MAX_QUERIES_PER_SECOND a second, every item passing", async () => {
        const { zone, input } = manyDomains(60);
        server.zone = zone;
        server.resetCounts();
        const result = await checkPublished({ ...input, resolvers: [server.address] });
        expect(Object.values(result).map(worst)).toEqual(Array(60).fill("pass"));
        expect(server.peakInFlight).toBeLessThanOrEqual(MAX_IN_FLIGHT);
        // The pool is used, not one query at a time.
        expect(server.peakInFlight).toBeGreaterThan(1);
        expect(peakRate(server.arrivals)).toBeLessThanOrEqual(MAX_QUERIES_PER_SECOND);
    });

    it("a name shared by domains is asked once a run: every question once, the MX host's and the PTRs included", async () => {
        const { zone, input } = manyDomains(5);
        server.zone = zone;
        server.resetCounts();
        await checkPublished({ ...input, resolvers: [server.address] });
        const repeated = [...server.asked].filter(([, n]) => n > 1);
        expect(repeated).toEqual([]);
        for (const q of [`A ${MX_HOST}`, `AAAA ${MX_HOST}`, `TXT ${MX_HOST}`, `PTR ${ptrName(MX_IPV4)}`, `PTR ${ptrName(MX_IPV6)}`])
            expect(server.asked.get(q)).toBe(1);
        // Per domain the same questions, once each (its SPF record, MX, key, DMARC, report authorization, ...).
        const perDomain = [...server.asked.keys()].filter((q) => q.includes("d0003.example")).length;
        expect(perDomain).toBeGreaterThanOrEqual(5);
    });
});
