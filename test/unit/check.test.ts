/**
 * components/check: what receivers conclude from the published DNS, against a local authoritative
 * DNS server (test/dns-server.ts) that holds a correct zone, then that zone with one thing broken
 * per test, each as someone might break it by hand.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as crypto from "crypto";
import { checkPublished, CheckInput, CheckItem, ptrName } from "../../components/check";
import { DnsServer, startDnsServer, Zone } from "../dns-server";

const IPV4 = "192.0.2.10";
const IPV6 = "2001:db8::10";
const MX = "mail.example.com";
// The size of a 2048-bit key's p= (392 characters), and a 4096-bit one's (736): its TXT answer
// passes 512 bytes, so the resolver asks again over TCP.
const KEY = crypto.randomBytes(294).toString("base64");
const OLD_KEY = crypto.randomBytes(550).toString("base64");

function goodZone(): Zone {
    return {
        "example.com": { MX: [{ priority: 10, exchange: MX }], TXT: ["v=spf1 mx ~all"] },
        [MX]: { A: [IPV4], AAAA: [IPV6], TXT: ["v=spf1 a -all"] },
        "20261127._domainkey.example.com": { TXT: [`v=DKIM1; k=rsa; p=${KEY}`] },
        "20260601._domainkey.example.com": { TXT: [`v=DKIM1; k=rsa; p=${OLD_KEY}`] },
        "_dmarc.example.com": { TXT: ["v=DMARC1; p=none; rua=mailto:dmarc@example.com,mailto:reports@example.net!10m"] },
        "example.net": { A: ["192.0.2.99"] },
        "example.com._report._dmarc.example.net": { TXT: ["v=DMARC1"] },
        [ptrName(IPV4)]: { PTR: [MX] },
        [ptrName(IPV6)]: { PTR: [MX] },
    };
}

const input = (): CheckInput => ({
    domains: [
        {
            name: "example.com",
            dkim: [
                { selector: "20261127", publicKey: KEY },
                { selector: "20260601", publicKey: OLD_KEY },
            ],
            signing: "20261127",
            mxHost: MX,
            addresses: [IPV4, IPV6],
        },
    ],
    resolvers: [],
    timeoutMs: 1000,
});

let server: DnsServer;
beforeAll(async () => {
    server = await startDnsServer();
});
afterAll(() => server.close());

async function check(zone: Zone): Promise<CheckItem[]> {
    server.zone = zone;
    const result = await checkPublished({ ...input(), resolvers: [server.address] });
    return result["example.com"];
}
const find = (items: CheckItem[], name: string) => {
    const found = items.find((i) => i.check === name);
    if (!found) throw new Error(`no item ${name} in ${items.map((i) => i.check).join(", ")}`);
    return found;
};
const notPassing = (items: CheckItem[]) => items.filter((i) => i.status !== "pass").map((i) => `${i.check}: ${i.status}`);

describe("checkPublished", () => {
    it("passes every item for a correct zone, IPv4 and IPv6, and shows the lookup counts", async () => {
        const items = await check(goodZone());
        expect(notPassing(items)).toEqual([]);
        expect(items.map((i) => i.check)).toEqual([
            "spf record example.com",
            `spf record ${MX}`,
            `spf mail-from ${IPV4}`,
            `spf mail-from ${IPV6}`,
            `spf helo ${IPV4}`,
            `spf helo ${IPV6}`,
            "dkim 20261127",
            "dkim 20260601",
            "dkim signing 20261127",
            "dmarc",
            "dmarc report example.net",
            "mx",
            `fcrdns ${IPV4}`,
            `fcrdns ${IPV6}`,
        ]);
        // `mx` costs one lookup (RFC 7208 4.6.4), the first TXT query none.
        expect(find(items, "spf record example.com").reason).toBe('one SPF record, "v=spf1 mx ~all" (1 of 10 DNS lookups, 0 of 2 void)');
        expect(find(items, `spf mail-from ${IPV4}`).reason).toBe(`SPF pass for postmaster@example.com from ${IPV4} (1 of 10 DNS lookups, 0 of 2 void)`);
        expect(find(items, `spf helo ${IPV6}`).reason).toBe(`SPF pass for ${MX} from ${IPV6} (1 of 10 DNS lookups, 0 of 2 void)`);
        // The 4096-bit-sized key came over TCP after a truncated UDP answer.
        expect(server.queries.truncated).toBeGreaterThan(0);
        expect(server.queries.tcp).toBeGreaterThan(0);
    });

    it("a second SPF record: fail, RFC 7208 4.5 permerror", async () => {
        const zone = goodZone();
        zone["example.com"].TXT!.push("v=spf1 include:_spf.example.net -all");
        const items = await check(zone);
        const record = find(items, "spf record example.com");
        expect(record.status).toBe("fail");
        expect(record.reason).toMatch(/^2 SPF records at example\.com .*permerror \(RFC 7208 4\.5\)$/);
        expect(record.fix).toBe("delete every SPF record at example.com but the stack's own");
        expect(find(items, `spf mail-from ${IPV4}`)).toMatchObject({ status: "fail" });
        expect(find(items, `spf mail-from ${IPV4}`).reason).toMatch(/SPF permerror .*multiple SPF records/);
        expect(find(items, `spf helo ${IPV4}`).status).toBe("pass");
    });

    it("a wrong PTR: fail naming both names", async () => {
        const zone = goodZone();
        zone[ptrName(IPV4)] = { PTR: ["host-10.provider.example"] };
        const items = await check(zone);
        expect(notPassing(items)).toEqual([`fcrdns ${IPV4}: fail`]);
        expect(find(items, `fcrdns ${IPV4}`).reason).toMatch(new RegExp(`^PTR of ${IPV4} is host-10\\.provider\\.example, not ${MX.replace(/\./g, "\\.")}`));
        expect(find(items, `fcrdns ${IPV4}`).fix).toContain(`set its PTR to ${MX}`);
    });

    it("a PTR right but its name not resolving back: fail", async () => {
        const zone = goodZone();
        zone[MX].AAAA = ["2001:db8::99"];
        const items = await check(zone);
        expect(find(items, `fcrdns ${IPV6}`).status).toBe("fail");
        expect(find(items, `fcrdns ${IPV6}`).reason).toBe(`PTR of ${IPV6} is ${MX}, but ${MX} resolves to ${IPV4}, 2001:db8::99, not ${IPV6}`);
        expect(find(items, "mx").status).toBe("fail");
    });

    it("a DKIM record edited by hand: fail for that selector", async () => {
        const zone = goodZone();
        const edited = KEY.slice(0, 100) + (KEY[100] === "A" ? "B" : "A") + KEY.slice(101);
        zone["20261127._domainkey.example.com"] = { TXT: [`v=DKIM1; k=rsa; p=${edited}`] };
        const items = await check(zone);
        expect(notPassing(items)).toEqual(["dkim 20261127: fail", "dkim signing 20261127: fail"]);
        expect(find(items, "dkim 20261127").reason).toMatch(/not the stack's key .*fails DKIM$/);
    });

    it("the signing selector: passes naming it as what the stack configured, not what the host was seen to do", async () => {
        const items = await check(goodZone());
        expect(find(items, "dkim signing 20261127")).toEqual({
            check: "dkim signing 20261127",
            status: "pass",
            reason: "the host signs example.com's mail with selector 20261127 (the SigningTable the stack wrote this run); 20261127._domainkey.example.com publishes its key",
            fix: "",
        });
    });

    it("the signing selector revoked (p= empty), where every selector's item passes: fail", async () => {
        // A selector the stack lists as revoked (expected p= empty) passes its own item; signing with it cannot pass.
        server.zone = goodZone();
        server.zone["20260601._domainkey.example.com"] = { TXT: ["v=DKIM1; p="] };
        const given = input();
        given.domains[0].dkim[1].publicKey = "";
        given.domains[0].signing = "20260601";
        const items = (await checkPublished({ ...given, resolvers: [server.address] }))["example.com"];
        expect(notPassing(items)).toEqual(["dkim signing 20260601: fail"]);
        expect(find(items, "dkim signing 20260601").reason).toMatch(
            /publishes the empty p= \(revoked, RFC 6376 3\.6\.1\): receivers fail every signature it makes$/,
        );
    });

    it("the signing selector with no record at all: fail", async () => {
        server.zone = goodZone();
        const given = input();
        given.domains[0].signing = "k20270530";
        const items = (await checkPublished({ ...given, resolvers: [server.address] }))["example.com"];
        expect(notPassing(items)).toEqual(["dkim signing k20270530: fail"]);
        expect(find(items, "dkim signing k20270530").reason).toBe(
            "the host signs example.com's mail with selector k20270530 (the SigningTable the stack wrote this run), but k20270530._domainkey.example.com has no record: receivers cannot verify any of its mail (DKIM permerror, no key)",
        );
    });

    it("the signing selector publishing another key: fail for it too", async () => {
        const zone = goodZone();
        zone["20261127._domainkey.example.com"] = { TXT: [`v=DKIM1; k=rsa; p=${OLD_KEY}`] };
        const items = await check(zone);
        expect(notPassing(items)).toEqual(["dkim 20261127: fail", "dkim signing 20261127: fail"]);
    });

    it("every finding of the dkim and dkim signing items, word for word (one record, not revoked, the stack's key)", async () => {
        const name = "20261127._domainkey.example.com";
        const short = (p: string) => `${p.slice(0, 12)}…${p.slice(-8)}`;
        const signs = (sel: string) => `the host signs example.com's mail with selector ${sel} (the SigningTable the stack wrote this run)`;
        const items = async (zone: Zone, signing = "20261127") => {
            server.zone = zone;
            const given = input();
            given.domains[0].signing = signing;
            const all = (await checkPublished({ ...given, resolvers: [server.address] }))["example.com"];
            return all.filter((i) => i.check.startsWith("dkim ") && i.check.includes(signing));
        };
        expect(await items(goodZone())).toEqual([
            { check: "dkim 20261127", status: "pass", reason: `${name} publishes the stack's key (p=${short(KEY)})`, fix: "" },
            { check: "dkim signing 20261127", status: "pass", reason: `${signs("20261127")}; ${name} publishes its key`, fix: "" },
        ]);
        const none = goodZone();
        delete none[name];
        expect(await items(none)).toEqual([
            {
                check: "dkim 20261127",
                status: "fail",
                reason: `no DKIM record at ${name}: receivers cannot verify mail signed with selector 20261127`,
                fix: "run pulumi up to publish it",
            },
            {
                check: "dkim signing 20261127",
                status: "fail",
                reason: `${signs("20261127")}, but ${name} has no record: receivers cannot verify any of its mail (DKIM permerror, no key)`,
                fix: "run pulumi up to publish it; if it was deleted by hand, the stack puts it back",
            },
        ]);
        const two = goodZone();
        two[name].TXT!.push(`v=DKIM1; k=rsa; p=${OLD_KEY}`);
        expect(await items(two)).toEqual([
            {
                check: "dkim 20261127",
                status: "fail",
                reason: `2 TXT records at ${name}: receivers may take either key`,
                fix: `delete every TXT record at ${name} but the stack's own`,
            },
            {
                check: "dkim signing 20261127",
                status: "fail",
                reason: `${signs("20261127")}, but ${name} has 2 TXT records: receivers may take either key`,
                fix: `delete every TXT record at ${name} but the stack's own`,
            },
        ]);
        for (const [p, shown] of [
            [OLD_KEY, short(OLD_KEY)],
            ["", "(none)"],
        ]) {
            const other = goodZone();
            other[name] = { TXT: [`v=DKIM1; k=rsa; p=${p}`] };
            expect(await items(other)).toEqual([
                {
                    check: "dkim 20261127",
                    status: "fail",
                    reason: `${name} publishes p=${shown}, not the stack's key p=${short(KEY)}: mail signed with selector 20261127 fails DKIM`,
                    fix: `put back the record the stack published ("v=DKIM1; k=rsa; p=${short(KEY)}", in full in the stack output records): edit it in Cloudflare, or delete it and run pulumi up`,
                },
                p === ""
                    ? {
                          check: "dkim signing 20261127",
                          status: "fail",
                          reason: `${signs("20261127")}, but ${name} publishes the empty p= (revoked, RFC 6376 3.6.1): receivers fail every signature it makes`,
                          fix: "sign with a published selector: pulumi up (the signing gate moves to one whose record is in the zone), or put back the record the stack published",
                      }
                    : {
                          check: "dkim signing 20261127",
                          status: "fail",
                          reason: `${signs("20261127")}, but ${name} publishes another key than the one installed for it: its signatures fail DKIM`,
                          fix: "put back the record the stack published: edit it in Cloudflare, or delete it and run pulumi up",
                      },
            ]);
        }
        // A selector the stack published no key for (none in its dkim list), with a record in the zone.
        const unknown = goodZone();
        unknown["k20270530._domainkey.example.com"] = { TXT: [`v=DKIM1; k=rsa; p=${KEY}`] };
        expect(await items(unknown, "k20270530")).toEqual([
            {
                check: "dkim signing k20270530",
                status: "fail",
                reason: `${signs("k20270530")}, but the stack published no key for it`,
                fix: "run pulumi up: the stack publishes a key for every selector it installs",
            },
        ]);
    });

    it("more than 10 DNS lookups via includes: fail, with the count", async () => {
        const zone = goodZone();
        zone["example.com"].TXT = ["v=spf1 mx include:a.example.net ~all"];
        // a -> b, c, d, e, f; each of those -> two more: 1 (mx) + 1 + 5 + 10 lookups.
        const leaves = "bcdef".split("");
        zone["a.example.net"] = { TXT: [`v=spf1 ${leaves.map((l) => `include:${l}.example.net`).join(" ")} -all`] };
        for (const l of leaves) {
            zone[`${l}.example.net`] = { TXT: [`v=spf1 include:${l}1.example.net include:${l}2.example.net -all`] };
            zone[`${l}1.example.net`] = { TXT: ["v=spf1 ip4:198.51.100.1 -all"] };
            zone[`${l}2.example.net`] = { TXT: ["v=spf1 ip4:198.51.100.2 -all"] };
        }
        const items = await check(zone);
        // The host's own mail passes (`mx` comes first and matches: RFC 7208 4.6), every other sender gets a permerror.
        expect(notPassing(items)).toEqual(["spf record example.com: fail"]);
        const record = find(items, "spf record example.com");
        expect(record.reason).toMatch(/^"v=spf1 mx include:a\.example\.net ~all": permerror \(11 of 10 DNS lookups, 0 of 2 void\)/);
        expect(record.fix).toMatch(/^the record at example\.com needs more than 10 DNS lookups \(RFC 7208 4\.6\.4\)/);
    });

    it("a lookup limit reached before the host's own term: the host's mail fails too", async () => {
        const zone = goodZone();
        zone["example.com"].TXT = ["v=spf1 include:a.example.net include:b.example.net include:c.example.net mx ~all"];
        for (const l of "abc") zone[`${l}.example.net`] = { TXT: ["v=spf1 a:x1.example.net a:x2.example.net a:x3.example.net -all"] };
        for (const x of ["x1", "x2", "x3"]) zone[`${x}.example.net`] = { A: ["198.51.100.7"] };
        const items = await check(zone);
        expect(find(items, `spf mail-from ${IPV4}`)).toMatchObject({ status: "fail" });
        expect(find(items, `spf mail-from ${IPV4}`).reason).toMatch(/^SPF permerror for postmaster@example\.com from 192\.0\.2\.10 \(11 of 10 DNS lookups/);
    });

    it("a missing report authorization: warn with the exact record to publish", async () => {
        const zone = goodZone();
        delete zone["example.com._report._dmarc.example.net"];
        const items = await check(zone);
        expect(notPassing(items)).toEqual(["dmarc report example.net: warn"]);
        expect(find(items, "dmarc report example.net").fix).toBe(
            'the owner of example.net must publish: example.com._report._dmarc.example.net. TXT "v=DMARC1"',
        );
    });

    it("p=none without rua: warn", async () => {
        const zone = goodZone();
        zone["_dmarc.example.com"] = { TXT: ["v=DMARC1; p=none"] };
        const items = await check(zone);
        expect(notPassing(items)).toEqual(["dmarc: warn"]);
        expect(find(items, "dmarc").reason).toMatch(/^p=none with no rua/);
    });

    it("two DMARC records: fail (receivers discard both)", async () => {
        const zone = goodZone();
        zone["_dmarc.example.com"].TXT!.push("v=DMARC1; p=reject");
        const items = await check(zone);
        expect(notPassing(items)).toEqual(["dmarc: fail"]);
    });

    it("no MX host address given: the MX host's addresses are checked", async () => {
        server.zone = goodZone();
        const given = input();
        given.domains[0].addresses = [];
        const items = (await checkPublished({ ...given, resolvers: [server.address] }))["example.com"];
        expect(notPassing(items)).toEqual([]);
        expect(items.filter((i) => i.check.startsWith("fcrdns")).length).toBe(2);
    });
});
