/**
 * The zone check's way out for an SPF record in the way (issue 23.1): every suggested term must pass
 * the settings check once pasted, with the settings as they are (the self-include rule needs the
 * managed domains, the address-space and lookup limits need the terms together).
 */
import { describe, expect, it } from "vitest";
import { FakeCloudflare, zoneReaderOf } from "../cloudflare";
import { exampleConfig, programError } from "../harness";
import { legacyComment } from "../../components/stackMarker";
import { checkZones, DomainPlan, Target, ZoneError } from "../../components/zone";
import { DomainSettings } from "../../components/settings";

const MARK = legacyComment("mailauth", "test");
const OWN = { comment: MARK, stack: "test", project: "mailauth", adopt: false, log: () => undefined };

function plan(domain: string, spfMechanisms: string[]): DomainPlan {
    const targets: Target[] = [{ kind: "spf", name: domain, type: "TXT", resource: `${domain}-spf`, value: "v=spf1 mx ~all" }];
    return { domain, component: domain, targets, selectors: ["s1"], spfMechanisms, spfAll: "~all", domains: [{ name: domain } as DomainSettings], index: 0 };
}
async function refusal(cf: FakeCloudflare, p: DomainPlan): Promise<string> {
    return checkZones([p], { ...OWN, reader: zoneReaderOf(cf) }).then(
        () => "",
        (e: ZoneError) => e.message,
    );
}

describe("the SPF terms the zone check suggests carrying", () => {
    it("a self-include in the existing record is not suggested (pasted, the settings refuse it); the other terms are", async () => {
        const cf = FakeCloudflare.forConfig(exampleConfig());
        cf.addRecord("example.com", { name: "example.com", type: "TXT", content: '"v=spf1 include:example.com include:_spf.example.net ~all"' });
        const msg = await programError(exampleConfig(), { preview: true, call: cf.call });
        expect(msg).toContain("'mailauth:spf.mechanisms[");
        expect(msg).toMatch(/pulumi config set --path 'mailauth:spf\.mechanisms\[\d+\]' '?include:_spf\.example\.net/);
        expect(msg).not.toMatch(/pulumi config set --path 'mailauth:spf\.mechanisms\[\d+\]' '?include:example\.com/);
        expect(msg).toContain(
            `"include:example.com" is not carried over (it includes the domain's own record: a loop receivers answer with permerror, RFC 7208 5.2)`,
        );
    });

    it("terms that pass one by one but together authorise half the internet: said, next to the commands", async () => {
        const cf = new FakeCloudflare();
        cf.addZone("example.com");
        cf.addRecord("example.com", { name: "example.com", type: "TXT", content: '"v=spf1 ip4:0.0.0.0/1 ip4:128.0.0.0/1 ~all"' });
        const msg = await refusal(cf, plan("example.com", []));
        expect(msg).toMatch(/pulumi config set --path 'mailauth:spf\.mechanisms\[0\]' '?ip4:0\.0\.0\.0\/1/);
        expect(msg).toContain(
            "but carried all together with mailauth:spf.mechanisms they are refused by the settings check: ip4:0.0.0.0/1 ip4:128.0.0.0/1 together authorise",
        );
    });

    it("terms that together pass the 10-lookup limit: said", async () => {
        const cf = new FakeCloudflare();
        cf.addZone("example.com");
        const includes = Array.from({ length: 6 }, (_, i) => `include:_spf${i}.example.net`);
        cf.addRecord("example.com", { name: "example.com", type: "TXT", content: `"v=spf1 ${includes.join(" ")} ~all"` });
        const configured = ["a", "include:_spf.other.net", "include:_spf2.other.net", "include:_spf3.other.net"];
        const msg = await refusal(cf, plan("example.com", configured));
        expect(msg).toContain("they are refused by the settings check: the record would need 11 DNS lookups");
    });

    it("terms that pass together: no such note", async () => {
        const cf = new FakeCloudflare();
        cf.addZone("example.com");
        cf.addRecord("example.com", { name: "example.com", type: "TXT", content: '"v=spf1 ip4:192.0.2.25 include:_spf.example.net ~all"' });
        const msg = await refusal(cf, plan("example.com", []));
        expect(msg).toMatch(/pulumi config set --path 'mailauth:spf\.mechanisms\[1\]' '?include:_spf\.example\.net/);
        expect(msg).not.toContain("refused by the settings check");
    });
});

describe("zone data in the preview's notes", () => {
    it("selectors found in the zone that the stack does not manage are named escaped (a name is anybody's text)", async () => {
        const cf = new FakeCloudflare();
        cf.addZone("example.com");
        cf.zone("example.com").records.push({
            id: cf.newId(),
            name: "old\u001b[2J\u202e._domainkey.example.com",
            type: "TXT",
            content: '"v=DKIM1; p=AAAA"',
            ttl: 1,
            proxied: false,
            comment: null,
            tags: [],
            ...cf.times(),
        });
        const logged: string[] = [];
        await checkZones([plan("example.com", [])], { ...OWN, reader: zoneReaderOf(cf), log: (m) => logged.push(m) });
        const note = logged.find((m) => m.includes("DKIM selector(s)"))!;
        expect(note).toContain("old\\u001b[2j\\u202e"); // names compare lower-cased
        expect(note).not.toMatch(/[\u001b\u202e]/);
    });
});
