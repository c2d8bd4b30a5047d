/**
 * The lab's DNS server (knot) as the runner writes into it: the records the runner has ready go
 * into one transaction per zone (LabDns.batched). What knot serves must be exactly what one
 * transaction per record (LabDns.set/unset, as before) serves, and a change knot refuses must
 * fail alone, with knot's own message, leaving the rest of its batch written.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DNS_ADDR, inLab, LabDns, setupNetwork, teardownNetwork } from "./lab";

const dns = new LabDns();
beforeAll(async () => {
    await setupNetwork();
    await dns.start();
});
afterAll(async () => {
    await dns.stop();
    teardownNetwork();
});

/** The answer section for a name, as kdig prints it, the zone's name in the owner replaced by ZONE. */
function answer(name: string, type: string, zone: string): string {
    const out = inLab(["kdig", `@${DNS_ADDR}`, name, type, "+noall", "+answer"]);
    return out
        .trim()
        .split("\n")
        .sort()
        .map((l) => l.replace(`${zone}.`, "ZONE."))
        .join("\n");
}

/** Records whose text knot parses and knotc's line splitter quotes: each is a trap for one of them. */
const RECORDS: { label: string; type: string; ttl: number; content: string; priority?: number }[] = [
    { label: "spf", type: "TXT", ttl: 60, content: `"v=spf1 mx ip4:10.231.0.10 ~all"` },
    { label: "_dmarc", type: "TXT", ttl: 60, content: `"v=DMARC1; p=none; rua=mailto:dmarc-reports@example.com"` },
    { label: "s1._domainkey", type: "TXT", ttl: 1, content: `"v=DKIM1; k=rsa; p=${"A".repeat(250)}" "${"B".repeat(160)}"` },
    { label: "quotes", type: "TXT", ttl: 60, content: `"it's" "a \\"quoted\\" word" "back\\\\slash" "tab	and  spaces"` },
    { label: "shell", type: "TXT", ttl: 60, content: `"$HOME \`id\` $(id) ; | & > <"` },
    { label: "@", type: "MX", ttl: 60, content: "mail.example.com", priority: 10 },
    { label: "mx2", type: "MX", ttl: 60, content: "mail.example.com.", priority: 20 },
];
const at = (label: string, zone: string) => (label === "@" ? zone : `${label}.${zone}`);

describe("the lab's DNS, written in batches", () => {
    it("serves exactly what one transaction per record serves, from one transaction", async () => {
        for (const r of RECORDS) dns.set(at(r.label, "example.org"), r.type, r.ttl, r.content, r.priority);
        const before = dns.transactions;
        await Promise.all(RECORDS.map((r) => dns.batched.set(at(r.label, "example.com"), r.type, r.ttl, r.content, r.priority)));
        expect(dns.transactions - before).toBe(1);
        for (const r of RECORDS) {
            const batched = answer(at(r.label, "example.com"), r.type, "example.com");
            expect(batched).not.toBe("");
            expect(batched).toBe(answer(at(r.label, "example.org"), r.type, "example.org"));
        }

        // Removal, and a change of value (unset then set), batched too.
        const [spf, dmarc] = RECORDS;
        await Promise.all([
            dns.batched.unset(at(dmarc.label, "example.com"), dmarc.type, dmarc.content),
            dns.batched.unset(at(spf.label, "example.com"), spf.type, spf.content),
            dns.batched.set(at(spf.label, "example.com"), spf.type, spf.ttl, `"v=spf1 -all"`),
        ]);
        expect(dns.query(at(dmarc.label, "example.com"), "TXT")).toBe("");
        expect(dns.query(at(spf.label, "example.com"), "TXT")).toBe(`"v=spf1 -all"`);
    });

    it("a change knot refuses fails alone, with knot's message; the rest of its batch is written", async () => {
        const results = await Promise.allSettled([
            dns.batched.set("first.example.com", "TXT", 60, `"one"`),
            dns.batched.unset("absent.example.com", "TXT", `"never written"`),
            dns.batched.set("third.example.com", "TXT", 60, `"three"`),
        ]);
        expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
        expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/no such record in zone/);
        expect(dns.query("first.example.com", "TXT")).toBe(`"one"`);
        expect(dns.query("third.example.com", "TXT")).toBe(`"three"`);
        // No transaction was left open: a direct write still works.
        dns.set("after.example.com", "TXT", 60, `"after"`);
        expect(dns.query("after.example.com", "TXT")).toBe(`"after"`);
    });

    it("a name outside the lab's zones is refused before anything is written", async () => {
        await expect(dns.batched.set("mail.example.invalid", "TXT", 60, `"x"`)).rejects.toThrow(/no lab zone holds mail.example.invalid/);
    });
});
