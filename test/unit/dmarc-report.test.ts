/**
 * DMARC report authorization (issue 19.4): a receiver sends a domain's reports to an address at
 * another organizational domain only when `<domain>._report._dmarc.<host>` holds `v=DMARC1`
 * (draft-ietf-dmarc-aggregate-reporting "Verifying External Destinations", RFC 9990; the same for
 * ruf: draft-ietf-dmarc-failure-reporting). The stack publishes it when the host lies in a zone it
 * manages, in that zone; an address elsewhere gets none. A record already at that name is treated
 * as one at `_dmarc` is (refused, adopted, imported). Each case runs the program (index.ts) under
 * Pulumi's mocks with the Cloudflare fake (test/cloudflare.ts).
 */
import { describe, expect, it } from "vitest";
import { exampleConfig, programError, Registered, runProgram, unwrapSecret } from "../harness";
import { FakeCloudflare } from "../cloudflare";
import { unquoteTxt } from "../../components/records/txt";
import { reportAuthorizationName } from "../../components/records/dmarc";
import { SettingsError, validateSettings } from "../../components/settings";

const COM = "0123456789abcdef0123456789abcdef";
const ORG = "fedcba9876543210fedcba9876543210";
const dnsRecords = (rs: Registered[]) => rs.filter((r) => r.type === "cloudflare:index/dnsRecord:DnsRecord");
const reports = (rs: Registered[]) =>
    dnsRecords(rs)
        .filter((r) => String(r.inputs.name).includes("._report._dmarc."))
        .map((r) => [r.name, r.inputs.name, r.inputs.zoneId, unquoteTxt(r.inputs.content)]);
const withDmarc = (dmarc: Record<string, unknown>) => ({ ...exampleConfig(), "mailauth:dmarc": dmarc });
const preview = (config: Record<string, unknown>, cf = FakeCloudflare.forConfig(config)) => runProgram(config, { preview: true, call: cf.call });

describe("DMARC report authorization", () => {
    it("names the record as the receiver looks it up: the policy's domain, _report._dmarc, the address's host", () => {
        expect(reportAuthorizationName("example.org", "example.com")).toBe("example.org._report._dmarc.example.com");
    });

    it("is published for each other domain whose reports go to a managed domain, in the zone of the address", async () => {
        // The example: both domains send rua to dmarc-reports@example.com; only example.org's needs it.
        expect(reports((await preview(exampleConfig())).resources)).toEqual([
            ["example.com-dmarc-report-example.org", "example.org._report._dmarc.example.com", COM, "v=DMARC1"],
        ]);
        // rua at example.org, ruf at example.com (same address twice: one record each way).
        const both = withDmarc({ rua: ["mailto:agg@Example.ORG!10m"], ruf: ["fail@example.com", "fail2@example.com"], fo: "1" });
        expect(reports((await preview(both)).resources).sort()).toEqual(
            [
                ["example.org-dmarc-report-example.com", "example.com._report._dmarc.example.org", ORG, "v=DMARC1"],
                ["example.com-dmarc-report-example.org", "example.org._report._dmarc.example.com", COM, "v=DMARC1"],
            ].sort(),
        );
    });

    it("at a subdomain of a managed domain: in that domain's zone, named with the host; none for that domain itself", async () => {
        const run = await preview(withDmarc({ rua: ["reports@dmarc.example.org"] }));
        // example.org and dmarc.example.org share example.org's _dmarc record: one organizational domain, no question asked.
        expect(reports(run.resources)).toEqual([
            ["example.org-dmarc-report-example.com-dmarc.example.org", "example.com._report._dmarc.dmarc.example.org", ORG, "v=DMARC1"],
        ]);
    });

    it("none between a domain and its subdomain, both configured: they share one organizational domain", async () => {
        const config = {
            ...exampleConfig(),
            "mailauth:domains": [...(exampleConfig()["mailauth:domains"] as object[]), { name: "lists.example.com", selector: "20261127" }],
        };
        const cf = FakeCloudflare.forConfig(exampleConfig());
        // lists.example.com lies in the example.com zone.
        const run = await preview(config, cf);
        expect(reports(run.resources).map(([name]) => name)).toEqual(["example.com-dmarc-report-example.org"]);
    });

    it("is not published for an address in the domain itself, in a domain the stack does not manage, or with DMARC off", async () => {
        const one = { ...exampleConfig(), "mailauth:domains": [(exampleConfig()["mailauth:domains"] as object[])[0]] };
        expect(reports((await preview(one)).resources)).toEqual([]);
        expect(reports((await preview(withDmarc({ rua: ["reports@dmarc.example.net"], ruf: ["f@example.net"] }))).resources)).toEqual([]);
        expect(reports((await preview(withDmarc({ enabled: false, rua: ["dmarc-reports@example.com"] }))).resources)).toEqual([]);
    });

    it("takes Cloudflare's DMARC Management address as is, and publishes no authorization for a domain it does not manage", async () => {
        const cloudflare = "mailto:0a1b2c3d4e5f67890a1b2c3d4e5f6789@dmarc-reports.cloudflare.net";
        const config = withDmarc({ rua: ["dmarc-reports@example.com", cloudflare] });
        const run = await preview(config);
        const dmarc = dnsRecords(run.resources).find((r) => r.name === "example.com-dmarc")!;
        expect(unquoteTxt(dmarc.inputs.content)).toBe(`v=DMARC1; p=none; rua=mailto:dmarc-reports@example.com,${cloudflare}`);
        expect(reports(run.resources).map(([, name]) => name)).toEqual(["example.org._report._dmarc.example.com"]);
    });

    it("a DMARC record already at the name is refused as the authorization's, with its ways out; another TXT there is left alone", async () => {
        const cf = FakeCloudflare.forConfig(exampleConfig());
        cf.addRecord("example.com", { name: "example.org._report._dmarc.example.com", type: "TXT", content: '"v=DMARC1; rua=mailto:other@example.net"' });
        cf.addRecord("example.com", { name: "example.org._report._dmarc.example.com", type: "TXT", content: '"some-verification=abc"' });
        const msg = await programError(exampleConfig(), { preview: true, call: cf.call });
        expect(msg).toContain('example.com: TXT example.org._report._dmarc.example.com "v=DMARC1; rua=mailto:other@example.net"');
        expect(msg).toContain("at a name the stack publishes (DMARC report authorization)");
        expect(msg).toContain("so that receivers send DMARC reports for example.org to the addresses at example.com");
        expect(msg).toContain(`pulumi config set --path 'mailauth:importRecords["example.com-dmarc-report-example.org"]'`);
        expect(msg).not.toContain("some-verification");
    });

    it("with adoptRecords, the record at the name is adopted by its DMARC prefix only", async () => {
        const cf = FakeCloudflare.forConfig(exampleConfig());
        cf.addRecord("example.com", { name: "example.org._report._dmarc.example.com", type: "TXT", content: '"v=DMARC1"' });
        const config = { ...exampleConfig(), "mailauth:adoptRecords": "true", "cloudflare:apiToken": "test-token" };
        const run = await runProgram(config, { preview: true, call: cf.call });
        const adopt = run.resources.find((r) => r.name === "example.com-adopt")!;
        expect(adopt).toBeDefined();
        const env = unwrapSecret(adopt.inputs.environment).value;
        expect(JSON.parse(unwrapSecret(env.MAILAUTH_TARGETS).value)).toContainEqual({
            name: "example.org._report._dmarc.example.com",
            types: ["TXT", "CNAME"],
            prefix: "v=dmarc1",
        });
        expect(reports(run.resources).map(([name]) => name)).toEqual(["example.com-dmarc-report-example.org"]);
    });

    it("refuses a report address whose authorization name would not fit DNS's 253 characters", () => {
        const long = `${"a".repeat(60)}.${"b".repeat(60)}.${"c".repeat(60)}.${"d".repeat(45)}.com`;
        const c = exampleConfig();
        const raw = {
            domains: [
                { name: long, selector: "20261127" },
                { name: "example.com", selector: "20261127" },
            ],
            mx: { hostname: "mail.example.com" },
            dmarc: { rua: ["dmarc-reports@example.com"] },
            ssh: c["mailauth:ssh"],
            sshPrivateKey: "ok",
        } as Parameters<typeof validateSettings>[0];
        let problems: string[] = [];
        try {
            validateSettings(raw);
        } catch (e) {
            problems = (e as SettingsError).problems;
        }
        expect(problems).toEqual([
            `mailauth:dmarc.rua: reports for ${long} go to an address at example.com, whose authorization record ${long}._report._dmarc.example.com would be 259 characters, over DNS's 253: receivers could not check it and would send no reports there; use a report address at a shorter domain`,
        ]);
    });
});
