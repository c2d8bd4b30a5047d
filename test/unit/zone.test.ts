/**
 * The zone as it is (issue 9): each case runs the program (index.ts) under Pulumi's mocks, with a
 * Cloudflare account answering the provider's invokes as the API does (test/cloudflare.ts).
 */
import * as pulumi from "@pulumi/pulumi";
import { execFile } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { exampleConfig, programError, Registered, runLogged, runProgram, unwrapSecret } from "../harness";
import { FakeCloudflare } from "../cloudflare";
import { runStep } from "../adoptScript";
import { apiRefusal, conflictsWith, shown, findConflicts } from "../../components/zone";
import { recordOwner } from "../../components/stackMarker";
import { isDmarcValue } from "../../components/records/dmarc";
import { isSpfValue } from "../../components/records/spf";
import { unquoteTxt as txtValue } from "../../components/records/txt";
import { cnameRefusal } from "../cloudflare";

const COM = "0123456789abcdef0123456789abcdef";
const ORG = "fedcba9876543210fedcba9876543210";
/** This stack's comment before it had an identity: still taken as its own (components/stackMarker.ts). */
const MARK = "managed by Pulumi stack mailauth/test (mailauth)";
/** The comment the stack writes now: its identity's id, then its name (no organization under the mocks). */
const OURS = /^mailauth:[0-9a-f]{16} managed by Pulumi stack mailauth\/test$/;

const dnsRecords = (rs: Registered[]) => rs.filter((r) => r.type === "cloudflare:index/dnsRecord:DnsRecord");
const hostSteps = (rs: Registered[]) => rs.filter((r) => r.type.startsWith("command:remote"));

/** newResource that records what was registered (keys get a real public key, as the provider gives). */
const PUBLIC_KEY = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ type: "spki", format: "pem" }).toString();
function recording(seen: Registered[]) {
    return async (args: any, registered: Registered) => {
        seen.push(registered);
        return { id: `${args.name}-id`, state: { ...args.inputs, publicKeyPem: PUBLIC_KEY, stdout: "" } };
    };
}

function account(): FakeCloudflare {
    return FakeCloudflare.forConfig(exampleConfig());
}

/** newResource as the provider would: DNS records land in the fake zone (their comment too). */
function creating(cf: FakeCloudflare, onOther?: (r: Registered, inputs: Record<string, any>) => Promise<Record<string, any>>) {
    return async (args: any, registered: Registered) => {
        const state: Record<string, any> = { ...args.inputs, publicKeyPem: PUBLIC_KEY, stdout: "" };
        if (args.type === "cloudflare:index/dnsRecord:DnsRecord") {
            const zone = cf.zones.find((z) => z.id === args.inputs.zoneId)!;
            const existing = zone.records.find((r) => r.comment === args.inputs.comment && r.name === args.inputs.name && r.type === args.inputs.type);
            const rec =
                existing ??
                cf.addRecord(zone.name, {
                    name: args.inputs.name,
                    type: args.inputs.type,
                    content: args.inputs.content,
                    priority: args.inputs.priority,
                    comment: args.inputs.comment,
                });
            Object.assign(rec, { content: args.inputs.content, ttl: args.inputs.ttl });
            return { id: rec.id, state };
        }
        if (onOther) Object.assign(state, await onOther(registered, args.inputs));
        return { id: `${args.name}-id`, state };
    };
}

describe("zone check at preview", () => {
    it("empty zone: a plan with every record in the configured zone, marked as the stack's", async () => {
        const cf = account();
        // A stack whose state holds its identity (components/stackMarker.ts): the comment is known.
        const run = await runProgram(exampleConfig(), { preview: true, call: cf.call, inState: ["mailauth-identity"] });
        const recs = dnsRecords(run.resources);
        // With example.org's report authorization at example.com (its rua is there).
        expect(recs).toHaveLength(11);
        for (const r of recs) {
            expect(r.inputs.zoneId).toBe(r.inputs.name.endsWith("example.org") ? ORG : COM);
            expect(r.inputs.comment).toMatch(OURS);
        }
        // A new stack: its identity is made by this up, so the comment is not known at preview; the check runs all the same.
        const fresh = await runProgram(exampleConfig(), { preview: true, call: account().call });
        for (const r of dnsRecords(fresh.resources)) expect(pulumi.isUnknown(r.inputs.comment) || r.inputs.comment === pulumi.runtime.unknownValue).toBe(true);
        expect(fresh.outputs.zone).toEqual({ "example.com": { id: COM, name: "example.com" }, "example.org": { id: ORG, name: "example.org" } });
        expect(run.outputs.zone).toEqual({ "example.com": { id: COM, name: "example.com" }, "example.org": { id: ORG, name: "example.org" } });
        expect(cf.calls.filter((c) => c.endsWith("getDnsRecords"))).toHaveLength(2);
        expect(hostSteps(run.resources).length).toBeGreaterThan(0);
    });

    it("existing SPF with an include: refused, with the include to carry and the exact import command", async () => {
        const cf = account();
        const spf = cf.addRecord("example.com", { name: "example.com", type: "TXT", content: '"v=spf1 include:_spf.example.net ~all"' });
        cf.addRecord("example.com", { name: "example.com", type: "TXT", content: '"google-site-verification=abc"' });
        const seen: Registered[] = [];
        const msg = await programError(exampleConfig(), { preview: true, call: cf.call, newResource: recording(seen) });
        expect(msg).toMatch(/^mailauth: Cloudflare: 1 problem\(s\) with the zones as they are; nothing in DNS or on the host was changed:/);
        expect(msg).toContain(`TXT example.com "v=spf1 include:_spf.example.net ~all" (record id ${spf.id}) already exists in zone example.com`);
        expect(msg).toContain("two SPF records at one name make every receiver return permerror (RFC 7208 3.2");
        expect(msg).toContain(`pulumi config set --path 'mailauth:spf.mechanisms[1]' 'include:_spf.example.net'`);
        expect(msg).toContain(`pulumi config set --path 'mailauth:importRecords["example.com-spf"]' ${COM}/${spf.id}`);
        expect(msg).not.toContain("google-site-verification");
        // Nothing was registered that would touch DNS or the host.
        expect(seen.map((r) => r.type)).toContain("tls:index/privateKey:PrivateKey");
        expect(dnsRecords(seen)).toHaveLength(0);
        expect(hostSteps(seen)).toHaveLength(0);
    });

    it("existing SPF whose terms the config carries: adoptRecords takes it over; without carrying them it still refuses", async () => {
        const cf = account();
        cf.addRecord("example.com", { name: "example.com", type: "TXT", content: '"v=spf1 ip4:192.0.2.25 include:_spf.example.net -all"' });
        const config = { ...exampleConfig(), "mailauth:adoptRecords": "true", "cloudflare:apiToken": "test-token" };
        const refused = await programError(config, { preview: true, call: cf.call });
        expect(refused).toContain("first carry its mechanisms");
        expect(refused).toContain("adoptRecords is on: once nothing above is left to do, the stack takes it over");
        expect(refused).toContain(`'mailauth:spf.mechanisms[1]' 'include:_spf.example.net'`);
        const carried = { ...config, "mailauth:spf": { mechanisms: ["ip4:192.0.2.25", "include:_spf.example.net"] } };
        const run = await runProgram(carried, { preview: true, call: cf.call });
        const adopt = run.resources.filter((r) => r.type === "command:local:Command");
        expect(adopt.map((r) => r.name).sort()).toEqual(["example.com-adopt", "example.org-adopt"]);
        for (const r of dnsRecords(run.resources)) {
            // Known at preview: records already in state do not show as changing because of the adopt step.
            expect(r.inputs.zoneId).toBe(r.inputs.name.endsWith("example.org") ? ORG : COM);
            expect(r.dependencies).toContain(
                adopt.find((a) => a.name === `${r.inputs.name.endsWith("example.org") ? "example.org" : "example.com"}-adopt`)!.urn,
            );
        }
    });

    it("a zone whose apex is CNAME site.pages.dev: the preview passes, and the records land beside it at up", async () => {
        const cf = account();
        const site = cf.addRecord("example.com", { name: "example.com", type: "CNAME", content: "site.pages.dev", proxied: true });
        for (const adopt of ["false", "true"]) {
            const config = { ...exampleConfig(), "mailauth:adoptRecords": adopt, "cloudflare:apiToken": "test-token" };
            const run = await runProgram(config, { preview: true, call: cf.call });
            expect(dnsRecords(run.resources).length).toBeGreaterThan(0);
        }
        const up = await runProgram(exampleConfig(), { call: cf.call, newResource: creating(cf) });
        expect(dnsRecords(up.resources).map((r) => `${r.inputs.type} ${r.inputs.name}`)).toEqual(expect.arrayContaining(["MX example.com", "TXT example.com"]));
        expect(cf.zone("example.com").records).toContainEqual(site);
    });

    it("existing MX to another host: refused, saying where mail would go", async () => {
        const cf = account();
        const mx = cf.addRecord("example.org", { name: "example.org", type: "MX", content: "aspmx.l.example.net", priority: 1 });
        const msg = await programError(exampleConfig(), { preview: true, call: cf.call });
        expect(msg).toContain(`MX example.org aspmx.l.example.net priority 1 (record id ${mx.id})`);
        expect(msg).toContain("changes where mail for example.org goes: senders would split it between aspmx.l.example.net and the stack's host");
        expect(msg).toContain(`pulumi config set --path 'mailauth:importRecords["example.org-mx"]' ${ORG}/${mx.id}`);
    });

    it("the MX already pointing at the mail host, made by hand: refused as a record the stack does not manage", async () => {
        const cf = account();
        cf.addRecord("example.com", { name: "example.com", type: "MX", content: "mail.example.com", priority: 10 });
        cf.addRecord("example.com", { name: "mail.example.com", type: "A", content: "192.0.2.25" });
        const msg = await programError(exampleConfig(), { preview: true, call: cf.call });
        expect(msg).toMatch(/2 problem\(s\)/);
        expect(msg).toContain("it already holds the value the stack publishes, but the stack does not manage it");
        expect(msg).toContain("example.com-mx-a");
    });

    it("existing DMARC: refused (two DMARC records disable DMARC)", async () => {
        const cf = account();
        cf.addRecord("example.com", { name: "_dmarc.example.com", type: "TXT", content: '"v=DMARC1; p=reject; rua=mailto:d@example.net"' });
        const msg = await programError(exampleConfig(), { preview: true, call: cf.call });
        expect(msg).toContain('TXT _dmarc.example.com "v=DMARC1; p=reject; rua=mailto:d@example.net"');
        expect(msg).toContain("RFC 7489 6.6.3");
        expect(msg).toContain("example.com-dmarc");
    });

    it("an old selector stays as it is; a key already under the stack's selector is refused, even with adoptRecords", async () => {
        const cf = account();
        cf.addRecord("example.com", { name: "default._domainkey.example.com", type: "TXT", content: '"v=DKIM1; k=rsa; p=MIIBold"' });
        const logs = (await runLogged(exampleConfig(), { preview: true, call: cf.call })).info;
        expect(logs.join("\n")).toContain("example.com: DKIM selector(s) default found in zone example.com are not managed by this stack and stay as they are");

        const config = exampleConfig();
        (config["mailauth:domains"] as any[])[0].selector = "default";
        const adopting = { ...config, "mailauth:adoptRecords": true, "cloudflare:apiToken": "test-token" };
        const msg = await programError(adopting, { preview: true, call: cf.call });
        expect(msg).toContain('TXT default._domainkey.example.com "v=DKIM1; k=rsa; p=MIIBold"');
        expect(msg).toMatch(/pick another selector for the stack, e\.g\. today's date: pulumi config set --path 'mailauth:domains\[0\]\.selector' \d{8};/);
        expect(msg).not.toContain("importRecords");
    });

    it("a selector of the stack's own no longer configured: its record is said to go with the state, not to stay (the lab's removal of a host's old selector)", async () => {
        const cf = account();
        cf.addRecord("example.com", { name: "old1._domainkey.example.com", type: "TXT", content: '"v=DKIM1; k=rsa; p=MIIBold"', comment: MARK });
        cf.addRecord("example.com", { name: "default._domainkey.example.com", type: "TXT", content: '"v=DKIM1; k=rsa; p=MIIBother"' });
        const logs = (await runLogged(exampleConfig(), { preview: true, call: cf.call })).info;
        const text = logs.join("\n");
        expect(text).toContain("example.com: DKIM selector(s) default found in zone example.com are not managed by this stack and stay as they are");
        expect(text).toContain(
            "example.com: DKIM selector(s) old1 in zone example.com carry this stack's comment and are no longer configured: if the stack's state holds them (a selector dropped from previousSelectors), this run deletes their records; if not (a lost state, another backend, a copied comment), they stay: delete them in Cloudflare once no mail signed with them is in transit",
        );
        expect(text).not.toMatch(/old1[^\n]*not managed by this stack/);
    });

    it("a zone id of another zone: refused before the records land at example.com.example.org", async () => {
        const config = exampleConfig();
        (config["mailauth:domains"] as any[])[0].zoneId = ORG;
        const cf = account();
        const msg = await programError(config, { preview: true, call: cf.call });
        expect(msg).toContain(
            `example.com: zoneId ${ORG} is the zone example.org, which does not hold example.com: the records would be published as example.com.example.org`,
        );
    });

    it("an unknown zone id: Cloudflare's refusal, said plainly", async () => {
        const config = exampleConfig();
        (config["mailauth:domains"] as any[])[1].zoneId = "f".repeat(32);
        const msg = await programError(config, { preview: true, call: account().call });
        expect(msg).toContain(`example.org: Cloudflare refused to read zone ${"f".repeat(32)} (404: 7003 Could not route to`);
    });

    it("without zoneId, the nearest enclosing zone is found by name (a subdomain in its parent's zone)", async () => {
        const config = exampleConfig();
        config["mailauth:domains"] = [
            { name: "lists.example.com", selector: "s1" },
            { name: "example.org", selector: "s1" },
        ];
        config["mailauth:mx"] = { hostname: "mail.example.org", ipv4: "192.0.2.25" };
        const cf = new FakeCloudflare();
        const com = cf.addZone("example.com");
        const org = cf.addZone("example.org");
        cf.addZone("other.example.org"); // not enclosing example.org: ignored
        const run = await runProgram(config, { preview: true, call: cf.call });
        expect(run.outputs.zone).toEqual({ "lists.example.com": { id: com.id, name: "example.com" }, "example.org": { id: org.id, name: "example.org" } });
        const lists = dnsRecords(run.resources).filter((r) => r.name.startsWith("lists.example.com-"));
        expect(lists.map((r) => r.inputs.name).sort()).toEqual([
            "_dmarc.lists.example.com",
            "lists.example.com",
            "lists.example.com",
            "s1._domainkey.lists.example.com",
        ]);
        for (const r of lists) expect(r.inputs.zoneId).toBe(com.id);
        // The nearest zone wins when the subdomain has its own.
        const sub = cf.addZone("lists.example.com");
        const again = await runProgram(config, { preview: true, call: cf.call });
        expect((again.outputs.zone as any)["lists.example.com"]).toEqual({ id: sub.id, name: "lists.example.com" });
    });

    it("a token that cannot read DNS records or zones: the missing permission and the zone, not the raw error", async () => {
        const cf = account();
        cf.token.dnsRead = false;
        const msg = await programError(exampleConfig(), { preview: true, call: cf.call });
        expect(msg).toMatch(/2 problem\(s\)/);
        expect(msg).toContain(
            `example.com: Cloudflare refused to list the DNS records of zone example.com (${COM}) (403: 10000 Authentication error): the API token needs Zone → DNS → Read to check the zone and Zone → DNS → Edit to publish`,
        );
        const byName = exampleConfig();
        for (const d of byName["mailauth:domains"] as any[]) delete d.zoneId;
        const blind = account();
        blind.token.zoneRead = false;
        const msg2 = await programError(byName, { preview: true, call: blind.call });
        expect(msg2).toContain(
            "example.com: no zone the API token can read holds example.com (looked for example.com): add the domain to your Cloudflare account, give the token Zone → Zone → Read",
        );
    });

    it("a token that can read but not edit the zone: refused naming the permission", async () => {
        const cf = account();
        cf.zone("example.org").permissions = ["#zone:read", "#dns_records:read"];
        const msg = await programError(exampleConfig(), { preview: true, call: cf.call });
        expect(msg).toContain(`example.org: the API token cannot edit DNS records of zone example.org (${ORG}): give it Zone → DNS → Edit on that zone`);
    });

    it("the second pulumi up: the stack's own records are not conflicts, and nothing changes", async () => {
        const cf = account();
        const first = await runProgram(exampleConfig(), { call: cf.call, newResource: creating(cf) });
        // MX, A, HELO SPF, SPF, DKIM, DMARC, and example.org's report authorization.
        expect(cf.zone("example.com").records.length).toBe(7);
        const second = await runProgram(exampleConfig(), { call: cf.call, newResource: creating(cf) });
        const inputs = (run: typeof first) =>
            dnsRecords(run.resources)
                .map((r) => [r.name, r.inputs])
                .sort();
        expect(inputs(second)).toEqual(inputs(first));
        // Another stack's record at the same name is not ours.
        cf.zone("example.com").records.find((r) => r.name === "_dmarc.example.com")!.comment = "managed by Pulumi stack mailauth/staging (mailauth)";
        const msg = await programError(exampleConfig(), { preview: true, call: cf.call });
        expect(msg).toContain("it is managed by another Pulumi stack (mailauth/staging)");
    });
});

describe("adoptRecords", () => {
    it("takes over SPF, MX and DMARC in one pulumi up, changes nothing on the next, and destroy gives them back", async () => {
        const cf = account();
        const api = await cf.serve();
        try {
            const theirs = [
                cf.addRecord("example.com", { name: "example.com", type: "TXT", content: '"v=spf1 include:_spf.example.net ~all"', comment: "ESP" }),
                cf.addRecord("example.com", { name: "example.com", type: "MX", content: "mx1.example.net", priority: 5 }),
                cf.addRecord("example.com", { name: "example.com", type: "MX", content: "mx2.example.net", priority: 10 }),
                cf.addRecord("example.com", { name: "_dmarc.example.com", type: "TXT", content: '"v=DMARC1; p=none"' }),
            ];
            const keep = cf.addRecord("example.com", { name: "example.com", type: "TXT", content: '"google-site-verification=abc"' });
            const config = {
                ...exampleConfig(),
                "mailauth:adoptRecords": "true",
                "cloudflare:apiToken": "test-token",
                "mailauth:spf": { mechanisms: ["ip4:192.0.2.25", "include:_spf.example.net"] },
            };
            const stdout = new Map<string, string>();
            const adoptRun = (reg: Registered, inputs: Record<string, any>) => async () => {
                if (reg.type !== "command:local:Command") return {};
                // The token makes the whole environment secret in state; it is never in the command text.
                expect(unwrapSecret(inputs.environment).secret).toBe(true);
                expect(JSON.stringify([inputs.interpreter, inputs.create, inputs.update, inputs.delete])).not.toContain("test-token");
                const env = unwrapSecret(inputs.environment).value as Record<string, string>;
                // create on the first run; an unchanged command is not run again (the engine's "same").
                if (!stdout.has(reg.name)) {
                    const out = await runStep(inputs, "create", env, api.url);
                    expect(out.code, out.stderr).toBe(0);
                    stdout.set(reg.name, out.stdout);
                }
                return { stdout: stdout.get(reg.name) };
            };
            const first = await runProgram(config, { call: cf.call, newResource: creating(cf, (r, i) => adoptRun(r, i)()) });
            const com = cf.zone("example.com").records;
            expect(com.filter((r) => r.name === "example.com" && r.type === "MX").map((r) => r.content)).toEqual(["mail.example.com"]);
            const spfs = com.filter((r) => r.name === "example.com" && r.type === "TXT" && r.content.includes("v=spf1"));
            expect(spfs.map((r) => r.content)).toEqual(['"v=spf1 mx ip4:192.0.2.25 include:_spf.example.net ~all"']);
            expect(com).toContainEqual(keep);
            const kept = JSON.parse(stdout.get("example.com-adopt")!);
            expect(kept.map((k: any) => k.content).sort()).toEqual(theirs.map((t) => t.content).sort());

            // Second run: no conflicts, the same inputs everywhere (the adopt step too).
            const second = await runProgram(config, { call: cf.call, newResource: creating(cf, (r, i) => adoptRun(r, i)()) });
            const shape = (run: typeof first) =>
                run.resources
                    .filter((r) => r.type.startsWith("cloudflare:") || r.type === "command:local:Command")
                    .map((r) => [r.name, JSON.stringify(r.inputs)])
                    .sort();
            expect(shape(second)).toEqual(shape(first));

            // A record added by hand after the adoption: the unchanged adopt step does not run again, so it is refused.
            cf.addRecord("example.com", { name: "example.com", type: "TXT", content: '"v=spf1 ip4:192.0.2.25 ~all"' });
            const late = await programError(config, { call: cf.call, newResource: creating(cf, (r, i) => adoptRun(r, i)()) });
            expect(late).toContain('TXT example.com "v=spf1 ip4:192.0.2.25 ~all"');
            expect(late).toContain("was added at a name the stack adopted earlier (adoptRecords), and the adoption does not run again");
            cf.zone("example.com").records = cf.zone("example.com").records.filter((r) => r.content !== '"v=spf1 ip4:192.0.2.25 ~all"');

            const adopt = first.resources.find((r) => r.name === "example.com-adopt")!;
            const env = unwrapSecret(adopt.inputs.environment).value as Record<string, string>;
            // Turning adoptRecords off while the stack's records stand: the give-back refuses, nothing doubles.
            const early = await runStep(adopt.inputs, "delete", { ...env, PULUMI_COMMAND_STDOUT: stdout.get("example.com-adopt")! }, api.url);
            expect(early.code).not.toBe(0);
            expect(early.stderr).toContain("mailauth: the stack still publishes");
            // Destroy: the stack's records go first (they depend on the adopt step), then its delete.
            cf.zone("example.com").records = cf.zone("example.com").records.filter((r) => r.comment !== MARK && !OURS.test(r.comment ?? ""));
            const back = await runStep(adopt.inputs, "delete", { ...env, PULUMI_COMMAND_STDOUT: stdout.get("example.com-adopt")! }, api.url);
            expect(back.code, back.stderr).toBe(0);
            const after = cf
                .zone("example.com")
                .records.map((r) => ({ name: r.name, type: r.type, content: r.content, priority: r.priority, comment: r.comment }));
            for (const t of theirs) expect(after).toContainEqual({ name: t.name, type: t.type, content: t.content, priority: t.priority, comment: t.comment });
        } finally {
            await api.close();
        }
    });

    it("is refused without the Cloudflare token, and must be a boolean", async () => {
        const config = { ...exampleConfig(), "mailauth:adoptRecords": "true" };
        const saved = process.env.CLOUDFLARE_API_TOKEN;
        delete process.env.CLOUDFLARE_API_TOKEN;
        try {
            expect(await programError(config)).toContain("mailauth:adoptRecords: needs the Cloudflare API token as cloudflare:apiToken");
        } finally {
            if (saved !== undefined) process.env.CLOUDFLARE_API_TOKEN = saved;
        }
        // Declared `type: boolean` in Pulumi.yaml: the CLI itself refuses other values (test/cli.ts).
        expect(await programError({ ...config, "mailauth:adoptRecords": "yes" })).toContain(
            "configuration key 'mailauth:adoptRecords' must be of type 'boolean'",
        );
        // As `pulumi config set --path` stores it (a boolean), and as typed (a string): both taken.
        for (const v of [false, "false"])
            expect((await runProgram({ ...exampleConfig(), "mailauth:adoptRecords": v })).resources.some((r) => r.type === "command:local:Command")).toBe(
                false,
            );
    });
});

describe("conflict messages, directly", () => {
    const zone = { id: COM, name: "example.com" };
    const own = { comment: MARK, stack: "test", project: "mailauth" };
    const plan = {
        domain: "example.com",
        component: "example.com",
        selectors: ["s1"],
        spfMechanisms: ["ip4:192.0.2.25"],
        index: 0,
        targets: [
            { kind: "spf" as const, name: "example.com", type: "TXT" as const, resource: "example.com-spf", value: "v=spf1 mx ip4:192.0.2.25 ~all" },
            { kind: "dmarc" as const, name: "_dmarc.example.com", type: "TXT" as const, resource: "example.com-dmarc", value: "v=DMARC1; p=none" },
        ],
    };
    const rec = (name: string, type: string, content: string) => ({ id: "1".repeat(32), name, type, content, ttl: 1, proxied: false, comment: null, tags: [] });

    it("SPF terms: + dropped, redirect= carried as include:, ptr named, mx and the all term not repeated", () => {
        const [c] = findConflicts(plan, zone, [rec("example.com", "TXT", "v=spf1 mx +include:_spf.a.example ptr redirect=_spf.b.example -all")], own);
        expect(c.adoptable).toBe(false);
        expect(c.message).toContain(`pulumi config set --path 'mailauth:spf.mechanisms[1]' 'include:_spf.a.example'`);
        expect(c.message).not.toContain("'mx'");
        expect(c.message).toContain(`"redirect=_spf.b.example" cannot sit next to an all term: carry it as 'include:_spf.b.example'`);
        expect(c.message).toContain(`"ptr" is not carried over (ptr is deprecated, RFC 7208 5.5`);
    });

    it("a CNAME at _dmarc (a DMARC service) is in the way; other TXT at the domain are not", () => {
        const cs = findConflicts(
            plan,
            zone,
            [rec("_dmarc.example.com", "CNAME", "example.com._dmarc.dmarc.example.net"), rec("example.com", "TXT", '"v=verify1 abc"')],
            own,
        );
        expect(cs).toHaveLength(1);
        expect(cs[0].message).toContain("a CNAME excludes every other record at _dmarc.example.com (RFC 1034 3.6.2)");
        expect(cs[0].adoptable).toBe(true);
        // Not offered for import: the import would turn the CNAME into the stack's TXT record.
        expect(cs[0].message).not.toContain("importRecords");
    });

    it("a CNAME at the zone apex (a site on Pages): Cloudflare flattens it, so the stack's SPF and MX beside it are no conflict, and it is not adopted", () => {
        const apex = rec("example.com", "CNAME", "site.pages.dev");
        const withMx = {
            ...plan,
            targets: [
                ...plan.targets,
                { kind: "mx" as const, name: "example.com", type: "MX" as const, resource: "example.com-mx", value: "mail.example.com", priority: 10 },
            ],
        };
        expect(findConflicts(withMx, zone, [apex], { ...own, adopt: true })).toEqual([]);
        for (const t of withMx.targets) expect(conflictsWith(t, apex, "example.com")).toBe(false);
        // An A or AAAA at the apex meets it (Cloudflare refuses it); a CNAME below the apex excludes everything.
        expect(conflictsWith({ kind: "a", name: "example.com", type: "A", resource: "example.com-mx-a", value: "192.0.2.25" }, apex, "example.com")).toBe(true);
        expect(conflictsWith(plan.targets[0], rec("example.com", "CNAME", "site.pages.dev"), "com")).toBe(true);
    });

    it("the fake Cloudflare takes MX and TXT beside an apex CNAME and refuses an A beside any CNAME, as Cloudflare does", () => {
        const z = { records: [{ name: "example.com", type: "CNAME" }] };
        expect(cnameRefusal(z, { name: "example.com", type: "TXT" })).toBeUndefined();
        expect(cnameRefusal(z, { name: "example.com", type: "MX" })).toBeUndefined();
        expect(cnameRefusal(z, { name: "Example.com", type: "A" })?.code).toBe(81054);
        expect(cnameRefusal({ records: [{ name: "mail.example.com", type: "A" }] }, { name: "mail.example.com", type: "CNAME" })?.code).toBe(81053);
    });

    it("one predicate says what is SPF and DMARC: v=spf10 and v=DMARC1x are neither", () => {
        expect(isSpfValue("v=spf1 mx -all")).toBe(true);
        expect(isSpfValue("V=SPF1")).toBe(true);
        expect(isSpfValue("v=spf10 mx -all")).toBe(false);
        expect(isDmarcValue("v=DMARC1; p=none")).toBe(true);
        expect(isDmarcValue("v=DMARC1")).toBe(true);
        expect(isDmarcValue("v=DMARC1x; p=none")).toBe(false);
        const spf = plan.targets[0];
        expect(conflictsWith(spf, rec("example.com", "TXT", '"v=spf10 mx -all"'), "example.com")).toBe(false);
        expect(conflictsWith(plan.targets[1], rec("_dmarc.example.com", "TXT", '"v=DMARC1x; p=none"'), "example.com")).toBe(false);
    });

    it("a hostile SPF record: pasting every suggested command into bash runs nothing, and only valid terms are suggested (issue 23.1)", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mailauth-paste-"));
        const pwned = path.join(dir, "pwned");
        const evil = `v=spf1 include:_spf.x.net';touch\${IFS}${pwned};' include:_spf.ok.example redirect=x';touch\${IFS}${pwned};'.net a:'$(touch\${IFS}${pwned})' ~all`;
        const [c] = findConflicts(plan, zone, [rec("example.com", "TXT", `"${evil}"`)], own);
        const commands = c.message
            .split("\n")
            .map((l) => l.trim())
            .filter((l) => /^pulumi /.test(l) || l.includes("carry it as"));
        expect(commands.length).toBeGreaterThan(0);
        const pasted = commands.map((l) => l.replace(/^.*carry it as (.*) in mailauth:spf.mechanisms$/, "pulumi config set --path x $1")).join("\n");
        // `pulumi` here prints its arguments, one per line: what the real CLI would be given.
        const out = await new Promise<string>((resolve, reject) =>
            execFile("bash", ["-c", `pulumi() { printf '%s\\n' "$@"; }\n${pasted}`], { cwd: dir }, (e, stdout) => (e ? reject(e) : resolve(stdout))),
        );
        expect(fs.existsSync(pwned)).toBe(false);
        expect(out.split("\n")).toContain("include:_spf.ok.example");
        expect(c.message).not.toMatch(/mechanisms\[\d+\]' '?include:_spf\.x\.net'?;/);
        expect(c.message).toContain("is not carried over (it is not a mechanism the settings accept)");
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("record names, contents and comments reach the message escaped: escape codes, BEL, bidi, zero-width, soft hyphen (issue 23.2)", () => {
        const hostile = ["\u001b[31m", "\u0007", "\u202e", "\u200b", "\u00ad", "\u2028"];
        const cs = findConflicts(
            {
                ...plan,
                targets: [
                    ...plan.targets,
                    { kind: "mx" as const, name: "example.com", type: "MX" as const, resource: "example.com-mx", value: "mail.example.com", priority: 10 },
                ],
            },
            zone,
            [
                { ...rec("example.com", "MX", `mx${hostile.join("")}.example.net`), priority: 5 },
                {
                    ...rec("_dmarc.example.com", "TXT", `"v=DMARC1; p=none; x=${hostile.join("")}"`),
                    comment: `managed by Pulumi stack other/${hostile.join("")} (mailauth)`,
                },
            ],
            own,
        );
        expect(cs).toHaveLength(2);
        for (const c of cs) {
            for (const h of hostile) expect(c.message).not.toContain(h);
            expect(c.message).toContain("\\u001b[31m\\u0007\\u202e\\u200b\\u00ad\\u2028");
        }
        expect(shown("a\\b")).toBe("a\\\\b");
    });

    it("another stack's record is recognised however its comment was cut (Cloudflare keeps 100 characters on Free), and is never adoptable", () => {
        const long = `managed by Pulumi stack ${"p".repeat(60)}/${"s".repeat(40)} (mailauth)`.slice(0, 100);
        expect(recordOwner(long, MARK)).toMatchObject({ own: false });
        expect(recordOwner("managed by Pulumi stack other/prod (mailauth)", MARK)).toEqual({ own: false, other: "other/prod", sameName: false });
        expect(recordOwner(MARK, MARK)).toEqual({ own: true });
        expect(recordOwner("site verification", MARK)).toBeUndefined();
        const [c] = findConflicts(plan, zone, [{ ...rec("_dmarc.example.com", "TXT", '"v=DMARC1; p=none"'), comment: long }], { ...own, adopt: true });
        expect(c.adoptable).toBe(false);
        expect(c.message).toContain("it is managed by another Pulumi stack");
    });

    it("TXT values as Cloudflare stores them: quoted chunks joined, bare values as they are", () => {
        expect(txtValue('"v=spf1 " "mx ~all"')).toBe("v=spf1 mx ~all");
        expect(txtValue("v=spf1 mx ~all")).toBe("v=spf1 mx ~all");
        expect(txtValue('"a \\"quoted\\" b"')).toBe('a "quoted" b');
    });

    it("Cloudflare's refusals are read from the provider's error text; other errors are not", () => {
        const e = new Error(
            `invocation of cloudflare:index/getZone:getZone returned an error: failed to make http request: GET "https://api.cloudflare.com/client/v4/zones/x": 403 Forbidden {"success":false,"errors":[{"code":9109,"message":"Unauthorized to access requested resource"}]}`,
        );
        expect(apiRefusal(e)).toEqual({ status: 403, detail: "9109 Unauthorized to access requested resource" });
        expect(apiRefusal(new Error(`GET "https://api.cloudflare.com/client/v4/zones": 500 Internal Server Error {}`))).toBeUndefined();
        expect(apiRefusal(new Error("connection reset"))).toBeUndefined();
    });
});
