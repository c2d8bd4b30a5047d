/**
 * Names that send no mail (issue 19.2, mailauth:noMail): each gets `v=spf1 -all`, `_dmarc.<name>`
 * `v=DMARC1; p=reject` and, with nullMx, the null MX `MX 0 .` (RFC 7505), as Mail-in-a-Box publishes
 * them. A component of its own per name (`nomail-<name>`), in the zone of the configured domain that
 * holds it or in the zone found by its name; a record already at its names is treated as one at a
 * domain's (refused, adopted, imported). Each program case runs index.ts under Pulumi's mocks with the
 * Cloudflare fake (test/cloudflare.ts).
 */
import { describe, expect, it } from "vitest";
import { exampleConfig, programError, Registered, runProgram, TEST_SSH_PRIVATE_KEY, unwrapSecret } from "../harness";
import { FakeCloudflare } from "../cloudflare";
import { unquoteTxt } from "../../components/records/txt";
import { RawSettings, SettingsError, validateSettings } from "../../components/settings";
import { classifyPrivateKey } from "../../components/validate/sshKeys";
import { runConfigSet, shellWords } from "../cli";
import * as fs from "fs";
import * as path from "path";

const COM = "0123456789abcdef0123456789abcdef";
const dnsRecords = (rs: Registered[]) => rs.filter((r) => r.type === "cloudflare:index/dnsRecord:DnsRecord");
const noMailRecords = (rs: Registered[]) =>
    dnsRecords(rs)
        .filter((r) => r.name.startsWith("nomail-"))
        .map((r) => [
            r.name,
            r.inputs.type,
            r.inputs.name,
            r.inputs.type === "TXT" ? unquoteTxt(r.inputs.content) : r.inputs.content,
            r.inputs.priority,
            r.inputs.zoneId,
        ]);
const withNoMail = (noMail: unknown, extra: Record<string, unknown> = {}) => ({ ...exampleConfig(), "mailauth:noMail": noMail, ...extra });
const preview = (config: Record<string, unknown>, cf = FakeCloudflare.forConfig(config)) => runProgram(config, { preview: true, call: cf.call });

/** The example's settings as validateSettings reads them, with `noMail` (and other sections) replaced. */
function raw(over: Record<string, unknown>): RawSettings {
    const c = exampleConfig();
    const get = (k: string) => c[`mailauth:${k}`];
    return {
        domains: get("domains"),
        mx: get("mx"),
        spf: get("spf"),
        dmarc: get("dmarc"),
        opendkim: get("opendkim"),
        ssh: get("ssh"),
        ttl: get("ttl"),
        sshPrivateKey: classifyPrivateKey(TEST_SSH_PRIVATE_KEY),
        ...over,
    } as RawSettings;
}
function problems(over: Record<string, unknown>): string[] {
    try {
        validateSettings(raw(over));
    } catch (e) {
        if (e instanceof SettingsError) return e.problems;
        throw e;
    }
    return [];
}

describe("names that send no mail: records", () => {
    it("publishes v=spf1 -all, _dmarc p=reject and, with nullMx, MX 0 . in the zone that holds the name", async () => {
        const config = withNoMail([{ name: "Parked.Example.com.", nullMx: true }, "old.example.net"]);
        const cf = FakeCloudflare.forConfig(config);
        const net = cf.addZone("example.net");
        // As pulumi up runs it: the stack outputs are known.
        const run = await runProgram(config, { call: cf.call });
        const byName = (a: unknown[], b: unknown[]) => String(a[0]).localeCompare(String(b[0]));
        expect(noMailRecords(run.resources).sort(byName)).toEqual(
            [
                ["nomail-parked.example.com-spf", "TXT", "parked.example.com", "v=spf1 -all", undefined, COM],
                ["nomail-parked.example.com-dmarc", "TXT", "_dmarc.parked.example.com", "v=DMARC1; p=reject", undefined, COM],
                ["nomail-parked.example.com-mx", "MX", "parked.example.com", ".", 0, COM],
                // Outside every configured domain: its zone found by name, as a domain's is; no null MX unless asked.
                ["nomail-old.example.net-spf", "TXT", "old.example.net", "v=spf1 -all", undefined, net.id],
                ["nomail-old.example.net-dmarc", "TXT", "_dmarc.old.example.net", "v=DMARC1; p=reject", undefined, net.id],
            ].sort(byName),
        );
        // Each name its own component, whatever zone holds it: the records' names do not depend on the zone.
        const parents = run.resources.filter((r) => r.type === "mailauth:dns:NoMail").map((r) => r.name);
        expect(parents).toEqual(["nomail-parked.example.com", "nomail-old.example.net"]);
        const spf = run.resources.find((r) => r.name === "nomail-parked.example.com-spf")!;
        expect(spf.parent).toBe(run.resources.find((r) => r.name === "nomail-parked.example.com")!.urn);
        expect(spf.inputs.proxied).toBe(false);
        // The stack output lists them with the domains' records, and the zone of each name.
        const outputs = run.outputs as { records: { name: string; type: string; value: string }[]; zone: Record<string, { id: string; name: string }> };
        expect(outputs.records).toContainEqual({ name: "parked.example.com", type: "MX", value: "." });
        expect(outputs.zone["old.example.net"]).toEqual({ id: net.id, name: "example.net" });
    });

    it("publishes nothing more for an unset or empty list: the example's records are unchanged", async () => {
        const before = dnsRecords((await preview(exampleConfig())).resources).map((r) => r.name);
        expect(dnsRecords((await preview(withNoMail([]))).resources).map((r) => r.name)).toEqual(before);
        expect(before.some((n) => n.startsWith("nomail-"))).toBe(false);
    });

    it("a name in no zone the API token can read is refused by the zone check, naming it", async () => {
        const msg = await programError(withNoMail(["parked.example.net"]), { preview: true, call: FakeCloudflare.forConfig(exampleConfig()).call });
        expect(msg).toContain("parked.example.net: no zone the API token can read holds parked.example.net");
    });
});

describe("names that send no mail: the README's commands", () => {
    it("run as written with the CLI's --path conversion, publish each name's records, under stable URNs", async () => {
        const section = fs.readFileSync(path.join(__dirname, "..", "..", "docs", "no-mail.md"), "utf8");
        const lines = [...section.matchAll(/```bash\n([\s\S]*?)```/g)].flatMap((m) => m[1].split("\n")).filter((l) => l.startsWith("pulumi config set "));
        expect(lines).toHaveLength(3);
        const stack = { values: structuredClone(exampleConfig()), secret: new Set<string>() };
        for (const line of lines) runConfigSet(stack, shellWords(line, () => "").words, undefined);
        // nullMx arrives as the boolean true (the CLI's --path coercion), the names as strings.
        expect(stack.values["mailauth:noMail"]).toEqual([{ name: "shop.example.com" }, { name: "example-old.com", nullMx: true }]);
        const cf = FakeCloudflare.forConfig(stack.values);
        cf.addZone("example-old.com");
        const run = await preview(stack.values, cf);
        expect(
            noMailRecords(run.resources)
                .map(([name, type, at]) => `${name} ${type} ${at}`)
                .sort(),
        ).toEqual([
            "nomail-example-old.com-dmarc TXT _dmarc.example-old.com",
            "nomail-example-old.com-mx MX example-old.com",
            "nomail-example-old.com-spf TXT example-old.com",
            "nomail-shop.example.com-dmarc TXT _dmarc.shop.example.com",
            "nomail-shop.example.com-spf TXT shop.example.com",
        ]);
        // State identity: the component's type and each record's name (test/unit/identity.test.ts pins the example's).
        expect(run.resources.find((r) => r.name === "nomail-shop.example.com-spf")!.urn).toBe(
            "urn:pulumi:test::mailauth::mailauth:dns:NoMail$cloudflare:index/dnsRecord:DnsRecord::nomail-shop.example.com-spf",
        );
    });
});

describe("names that send no mail: settings", () => {
    it("takes {name, nullMx?} or the name alone, normalized; none by default", () => {
        expect(validateSettings(raw({})).noMail).toEqual([]);
        expect(validateSettings(raw({ noMail: ["A.example.com.", { name: "b.example.com", nullMx: "true" }] })).noMail).toEqual([
            { name: "a.example.com", nullMx: false },
            { name: "b.example.com", nullMx: true },
        ]);
    });

    it("refuses a mail domain, the MX host, a report address's domain, OpenDKIM's report domain, each naming the setting", () => {
        expect(problems({ noMail: [{ name: "example.org" }] })).toEqual([
            expect.stringMatching(
                /^mailauth:noMail\[0\]\.name: example\.org is a mail domain \(mailauth:domains\[1\]\).*pulumi config rm --path 'mailauth:noMail\[0\]'/,
            ),
        ]);
        expect(problems({ noMail: ["mail.example.com"] })).toEqual([
            expect.stringMatching(/^mailauth:noMail\[0\]: mail\.example\.com is the MX host \(mailauth:mx\.hostname\)/),
        ]);
        const dmarc = { policy: "none", rua: ["dmarc-reports@example.com", "agg@reports.example.com"] };
        expect(problems({ dmarc, noMail: ["reports.example.com"] })).toEqual([
            expect.stringMatching(/^mailauth:noMail\[0\]: reports\.example\.com receives your DMARC reports \(mailauth:dmarc\.rua\)/),
        ]);
        const opendkim = { reportAddress: "postmaster@bounces.example.com" };
        expect(problems({ opendkim, noMail: ["bounces.example.com"] })).toEqual([
            expect.stringMatching(/^mailauth:noMail\[0\]: bounces\.example\.com is the domain of mailauth:opendkim\.reportAddress/),
        ]);
    });

    it("refuses a parent of a mail domain only while DMARC is off (its p=reject would be that domain's policy)", () => {
        const domains = [{ name: "mail.example.net", selector: "20261127" }];
        const off = { domains, mx: { hostname: "mx.example.net" }, dmarc: { enabled: false }, opendkim: {} };
        expect(problems({ ...off, noMail: ["example.net"] })).toEqual([
            expect.stringMatching(/^mailauth:noMail\[0\]: example\.net holds the mail domain mail\.example\.net, .*mailauth:dmarc\.enabled is false/),
        ]);
        expect(problems({ ...off, dmarc: { policy: "none" }, noMail: ["example.net"] })).toEqual([]);
    });

    it("refuses a bad name, a name listed twice, a bad nullMx, an unknown field, a value that is not a list", () => {
        expect(problems({ noMail: ["not a name"] })).toEqual([expect.stringMatching(/^mailauth:noMail\[0\]: "not a name" is not a domain name/)]);
        expect(problems({ noMail: ["a.example.com", { name: "A.example.com." }] })).toEqual([
            'mailauth:noMail: "a.example.com" is listed twice (names are compared without case and trailing dot)',
        ]);
        expect(problems({ noMail: [{ name: "a.example.com", nullMx: "yes" }] })).toEqual(['mailauth:noMail[0].nullMx: must be true or false, got "yes"']);
        expect(problems({ noMail: [{ name: "a.example.com", nullmx: true }] })).toEqual([
            "mailauth:noMail[0].nullmx: unknown setting; allowed here: name, nullMx",
        ]);
        expect(problems({ noMail: [{ nullMx: true }] })).toEqual(["mailauth:noMail[0].name: required, not set"]);
        // The name alone: messages name the entry as it was set.
        expect(problems({ noMail: ["a.example.com", "x\u200by.example.com"] })).toEqual([
            expect.stringMatching(/^mailauth:noMail\[1\]: .* contains a control character/),
        ]);
        expect(problems({ noMail: [""] })).toEqual(["mailauth:noMail[0]: empty entry"]);
        expect(problems({ noMail: "parked.example.com" })[0]).toMatch(/^mailauth:noMail: must be a list of \{name, nullMx\?\} \(or of names\)/);
        const long = `${"a".repeat(60)}.${"b".repeat(60)}.${"c".repeat(60)}.${"d".repeat(60)}.com`;
        expect(problems({ noMail: [long] })).toEqual([expect.stringMatching(/with _dmarc\. in front the record name would be 254, over DNS's 253/)]);
    });
});

describe("names that send no mail: records already in the zone", () => {
    const config = withNoMail([{ name: "parked.example.com", nullMx: true }]);

    it("a foreign SPF record at the name is refused as the no-mail SPF, with import, adopt and the way to drop the name", async () => {
        const cf = FakeCloudflare.forConfig(config);
        const r = cf.addRecord("example.com", { name: "parked.example.com", type: "TXT", content: '"v=spf1 include:_spf.example.net ~all"' });
        // A TXT that is not SPF stands in nobody's way.
        cf.addRecord("example.com", { name: "parked.example.com", type: "TXT", content: '"google-site-verification=abc"' });
        const msg = await programError(config, { preview: true, call: cf.call });
        expect(msg).toContain('parked.example.com: TXT parked.example.com "v=spf1 include:_spf.example.net ~all"');
        expect(msg).toContain("at a name the stack publishes (no-mail SPF)");
        expect(msg).toContain("parked.example.com is listed in mailauth:noMail: the stack publishes v=spf1 -all here");
        expect(msg).toContain(`pulumi config set --path 'mailauth:importRecords["nomail-parked.example.com-spf"]' ${COM}/${r.id}`);
        expect(msg).toContain("pulumi config rm --path 'mailauth:noMail[0]'");
        // The domain's own SPF advice (carry mechanisms into mailauth:spf.mechanisms) is not for this name.
        expect(msg).not.toContain("mailauth:spf.mechanisms[");
        expect(msg).not.toContain("google-site-verification");
    });

    it("a foreign MX at a name with nullMx, and a foreign DMARC at its _dmarc, are refused with their own labels", async () => {
        const cf = FakeCloudflare.forConfig(config);
        cf.addRecord("example.com", { name: "parked.example.com", type: "MX", content: "mx.example.net", priority: 10 });
        cf.addRecord("example.com", { name: "_dmarc.parked.example.com", type: "TXT", content: '"v=DMARC1; p=none"' });
        const msg = await programError(config, { preview: true, call: cf.call });
        expect(msg).toContain("parked.example.com: MX parked.example.com mx.example.net priority 10");
        expect(msg).toContain("(null MX)");
        expect(msg).toContain("a null MX must be the only MX at its name (RFC 7505 3.3)");
        expect(msg).toContain("pulumi config set --path 'mailauth:noMail[0].nullMx' false");
        expect(msg).toContain('TXT _dmarc.parked.example.com "v=DMARC1; p=none"');
        expect(msg).toContain("(no-mail DMARC)");
        // Without nullMx the MX stays: the name may receive mail and still send none.
        const run = await runProgram(withNoMail(["parked.example.com"]), { preview: false, call: withoutDmarc(cf).call });
        expect(
            noMailRecords(run.resources)
                .map(([name]) => name)
                .sort(),
        ).toEqual(["nomail-parked.example.com-dmarc", "nomail-parked.example.com-spf"]);
    });

    it("an alias (CNAME) at the name is refused, never adopted: the way out keeps it and drops the name", async () => {
        const cf = FakeCloudflare.forConfig(config);
        cf.addRecord("example.com", { name: "parked.example.com", type: "CNAME", content: "example.com" });
        const adopting = { ...config, "mailauth:adoptRecords": "true", "cloudflare:apiToken": "test-token" };
        const msg = await programError(adopting, { preview: true, call: cf.call });
        expect(msg).toContain("parked.example.com: CNAME parked.example.com example.com");
        expect(msg).toContain("Receivers follow the alias: they read the SPF of its target, example.com, for parked.example.com");
        expect(msg).toContain("keep the alias and take parked.example.com out of the list");
        expect(msg).toContain("pulumi config rm --path 'mailauth:noMail[0]'");
        expect(msg).not.toContain("adoptRecords is on");
        expect(msg).not.toContain("import it");
    });

    it("with adoptRecords, the name's records are taken over by its own adopt step, SPF and DMARC by prefix, every MX", async () => {
        const cf = FakeCloudflare.forConfig(config);
        cf.addRecord("example.com", { name: "parked.example.com", type: "TXT", content: '"v=spf1 ~all"' });
        const run = await runProgram({ ...config, "mailauth:adoptRecords": "true", "cloudflare:apiToken": "test-token" }, { preview: true, call: cf.call });
        const adopt = run.resources.find((r) => r.name === "nomail-parked.example.com-adopt")!;
        expect(adopt).toBeDefined();
        const env = unwrapSecret(adopt.inputs.environment).value;
        expect(JSON.parse(unwrapSecret(env.MAILAUTH_TARGETS).value)).toEqual([
            { name: "parked.example.com", types: ["TXT", "CNAME"], prefix: "v=spf1" },
            { name: "_dmarc.parked.example.com", types: ["TXT", "CNAME"], prefix: "v=dmarc1" },
            { name: "parked.example.com", types: ["MX", "CNAME"] },
        ]);
        expect(dnsRecords(run.resources).find((r) => r.name === "nomail-parked.example.com-spf")!.dependencies).toContain(adopt.urn);
    });

    it("a record in the way may be imported by the name's record resource, as the message says", async () => {
        const cf = FakeCloudflare.forConfig(config);
        const r = cf.addRecord("example.com", { name: "parked.example.com", type: "TXT", content: '"v=spf1 ~all"' });
        const importing = { ...config, "mailauth:importRecords": { "nomail-parked.example.com-spf": `${COM}/${r.id}` } };
        const run = await runProgram(importing, { preview: true, call: cf.call });
        expect(noMailRecords(run.resources).map(([name]) => name)).toContain("nomail-parked.example.com-spf");
        // A name the stack does not publish is refused, listing the no-mail records among those it can import.
        const wrong = { ...config, "mailauth:importRecords": { "nomail-other.example.com-spf": `${COM}/${r.id}` } };
        expect(await programError(wrong, { preview: true, call: cf.call })).toContain(
            "nomail-parked.example.com-spf, nomail-parked.example.com-dmarc, nomail-parked.example.com-mx",
        );
    });
});

/** The fake with its _dmarc.parked.example.com record removed. */
function withoutDmarc(cf: FakeCloudflare): FakeCloudflare {
    const z = cf.zone("example.com");
    z.records = z.records.filter((r) => r.name !== "_dmarc.parked.example.com");
    return cf;
}
