/**
 * The mail host's own SPF record (issue 19.1): bounces, DSNs and reports go out with an empty MAIL
 * FROM, and a receiver then checks the SPF record of the HELO name (RFC 7208 2.3, 2.4). The stack
 * publishes `v=spf1 a -all` at the MX host name when it publishes that name's address; it treats a
 * record already there as it treats one at the domain (refused, adopted, imported), and can leave it
 * alone (`mailauth:mx.heloSpf false`). Each case runs the program (index.ts) under Pulumi's mocks with
 * the Cloudflare fake (test/cloudflare.ts).
 */
import { describe, expect, it } from "vitest";
import { exampleConfig, programError, Registered, runProgram, unwrapSecret } from "../harness";
import { FakeCloudflare } from "../cloudflare";
import { unquoteTxt } from "../../components/records/txt";

const dnsRecords = (rs: Registered[]) => rs.filter((r) => r.type === "cloudflare:index/dnsRecord:DnsRecord");
const txtAt = (rs: Registered[], name: string) => dnsRecords(rs).filter((r) => r.inputs.name === name && r.inputs.type === "TXT");
const preview = (config: Record<string, unknown>, cf = FakeCloudflare.forConfig(config)) => runProgram(config, { preview: true, call: cf.call });

describe("SPF for the HELO name (the MX host)", () => {
    it("is published in the zone that holds the host, once, whatever the number of domains", async () => {
        const run = await preview(exampleConfig());
        const helo = txtAt(run.resources, "mail.example.com");
        expect(helo.map((r) => [r.name, unquoteTxt(r.inputs.content)])).toEqual([["example.com-mx-spf", "v=spf1 a -all"]]);
    });

    it("is not published with mx.heloSpf false, nor where the stack does not publish the host's address", async () => {
        const off = { ...exampleConfig(), "mailauth:mx": { ...(exampleConfig()["mailauth:mx"] as object), heloSpf: false } };
        expect(txtAt((await preview(off)).resources, "mail.example.com")).toEqual([]);
        // MX managed elsewhere: the stack publishes neither the MX nor the host's records.
        const elsewhere = { ...exampleConfig(), "mailauth:mx": { hostname: "mail.example.com", publish: false } };
        expect(txtAt((await preview(elsewhere)).resources, "mail.example.com")).toEqual([]);
        // A host outside every managed zone: no zone to publish it in.
        const outside = { ...exampleConfig(), "mailauth:mx": { hostname: "mx.provider.example.net" } };
        expect(dnsRecords((await preview(outside)).resources).filter((r) => r.inputs.name === "mx.provider.example.net")).toEqual([]);
    });

    it("is not published when the MX host is a domain itself: that name holds the domain's record, and two SPF records fail", async () => {
        const config = { ...exampleConfig(), "mailauth:mx": { hostname: "example.com", ipv4: "192.0.2.25" } };
        const run = await preview(config);
        const spf = txtAt(run.resources, "example.com").filter((r) => unquoteTxt(r.inputs.content).startsWith("v=spf1"));
        expect(spf.map((r) => r.name)).toEqual(["example.com-spf"]);
        expect(dnsRecords(run.resources).map((r) => r.name)).not.toContain("example.com-mx-spf");
    });

    it("an SPF record already at the host name is refused as the HELO record's, with its own way out; no mechanism is suggested for the domain", async () => {
        const cf = FakeCloudflare.forConfig(exampleConfig());
        cf.addRecord("example.com", { name: "mail.example.com", type: "TXT", content: '"v=spf1 ip4:192.0.2.25 -all"' });
        // A TXT that is not SPF stands in nobody's way.
        cf.addRecord("example.com", { name: "mail.example.com", type: "TXT", content: '"google-site-verification=abc"' });
        const msg = await programError(exampleConfig(), { preview: true, call: cf.call });
        expect(msg).toContain('example.com: TXT mail.example.com "v=spf1 ip4:192.0.2.25 -all"');
        expect(msg).toContain("at a name the stack publishes (HELO SPF)");
        expect(msg).toContain("receivers check the HELO name of bounces and reports, RFC 7208 2.3");
        expect(msg).toContain("pulumi config set --path mailauth:mx.heloSpf false");
        expect(msg).toContain(`pulumi config set --path 'mailauth:importRecords["example.com-mx-spf"]'`);
        expect(msg).not.toContain("mailauth:spf.mechanisms[");
        expect(msg).not.toContain("google-site-verification");

        // Kept by the user: the stack publishes none there, and the run passes.
        const kept = { ...exampleConfig(), "mailauth:mx": { ...(exampleConfig()["mailauth:mx"] as object), heloSpf: false } };
        const run = await runProgram(kept, { preview: true, call: cf.call });
        expect(txtAt(run.resources, "mail.example.com")).toEqual([]);
    });

    it("with adoptRecords, the record at the host name is adopted like the domain's, by its SPF prefix only", async () => {
        const cf = FakeCloudflare.forConfig(exampleConfig());
        cf.addRecord("example.com", { name: "mail.example.com", type: "TXT", content: '"v=spf1 ip4:192.0.2.25 -all"' });
        const config = { ...exampleConfig(), "mailauth:adoptRecords": "true", "cloudflare:apiToken": "test-token" };
        const run = await runProgram(config, { preview: true, call: cf.call });
        const adopt = run.resources.find((r) => r.name === "example.com-adopt")!;
        expect(adopt).toBeDefined();
        const env = unwrapSecret(adopt.inputs.environment).value;
        expect(JSON.parse(unwrapSecret(env.MAILAUTH_TARGETS).value)).toContainEqual({ name: "mail.example.com", types: ["TXT", "CNAME"], prefix: "v=spf1" });
        expect(txtAt(run.resources, "mail.example.com").map((r) => r.name)).toEqual(["example.com-mx-spf"]);
    });
});
