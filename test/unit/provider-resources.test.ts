/**
 * components/providerResources.ts registers a record and a key as @pulumi/cloudflare's and
 * @pulumi/tls's generated classes do, with fewer tracked properties (issue 15, program time). Each resource option list and property map
 * is taken where the SDK takes it: a resource's `transformations` run in the Resource constructor
 * with the type, name, property map and options the class hands over (@pulumi/pulumi 3.276
 * resource.js 184-200), so both classes are compared at the point the engine's request is built from.
 */
import * as pulumi from "@pulumi/pulumi";
import * as cloudflare from "@pulumi/cloudflare";
import * as tls from "@pulumi/tls";
import { describe, expect, it } from "vitest";
import {
    DNS_RECORD_TYPE,
    DnsRecord,
    DnsRecordArgs,
    knownTopLevel,
    PRE_V6_RECORD_TYPE,
    preV6Alias,
    PRIVATE_KEY_TYPE,
    PrivateKey,
} from "../../components/providerResources";
import { exampleConfig, manyDomainsConfig, runProgram } from "../harness";

type Seen = { type: string; name: string; props: Record<string, unknown>; opts: pulumi.CustomResourceOptions };

function capture(into: Seen[]): pulumi.ResourceTransformation {
    return (a) => {
        into.push({ type: a.type, name: a.name, props: a.props, opts: a.opts });
        return undefined;
    };
}

/** What reaches the engine of a property map: the SDK sends no key whose value is undefined (runtime/rpc.js 131-148). */
const sent = (props: Record<string, unknown>) => Object.fromEntries(Object.entries(props).filter(([, v]) => v !== undefined));
const withoutTransformations = (o: pulumi.CustomResourceOptions) => {
    const { transformations: _t, ...rest } = o;
    return rest;
};

describe("DnsRecord, beside @pulumi/cloudflare's", () => {
    pulumi.runtime.setMocks({ newResource: async (a) => ({ id: `${a.name}-id`, state: a.inputs }), call: async () => ({}) }, "project", "stack", true);

    const cases: { what: string; args: DnsRecordArgs; opts: pulumi.CustomResourceOptions }[] = [
        {
            what: "a TXT record",
            args: { zoneId: "z", name: "example.com", type: "TXT", content: '"v=spf1 mx -all"', ttl: 300, proxied: false, comment: "c" },
            opts: {},
        },
        {
            what: "an MX record with a priority, an alias and options",
            args: { zoneId: pulumi.output("z"), name: "example.com", type: "MX", content: "mail.example.com", ttl: 1, proxied: false, priority: 10 },
            opts: { ignoreChanges: ["content"], aliases: [{ name: "old" }], import: "z/abc", protect: false },
        },
        {
            what: "no comment, no priority",
            args: { zoneId: "z", name: "_dmarc.example.com", type: "TXT", content: '"v=DMARC1"', ttl: 3600 },
            opts: { deleteBeforeReplace: false },
        },
    ];
    for (const c of cases) {
        it(`${c.what}: the same type, name, sent properties and options`, () => {
            const mine: Seen[] = [];
            const theirs: Seen[] = [];
            new DnsRecord(`r-${c.what}`, c.args, { ...c.opts, transformations: [capture(mine)] });
            new cloudflare.DnsRecord(`r-${c.what}`, c.args, { ...c.opts, transformations: [capture(theirs)] });
            expect(mine).toHaveLength(1);
            expect(theirs).toHaveLength(1);
            expect(mine[0].type).toBe(DNS_RECORD_TYPE);
            expect(mine[0].type).toBe(theirs[0].type);
            expect(mine[0].name).toBe(theirs[0].name);
            expect(sent(mine[0].props)).toEqual(sent(theirs[0].props));
            // version (the provider's package version), the pre-v6 alias, and the caller's, in the same order.
            expect(withoutTransformations(mine[0].opts)).toEqual(withoutTransformations(theirs[0].opts));
            expect(mine[0].opts.version).toBe(require("@pulumi/cloudflare/package.json").version);
        });
    }

    it("tracks only the properties the stack sets: at most 8 of the generated class's 19", () => {
        const mine: Seen[] = [];
        const theirs: Seen[] = [];
        new DnsRecord("count", cases[0].args, { transformations: [capture(mine)] });
        new cloudflare.DnsRecord("count", cases[0].args, { transformations: [capture(theirs)] });
        // A TXT record with a comment: no priority (an unset key is left out, not tracked).
        expect(Object.keys(mine[0].props).sort()).toEqual(["comment", "content", "name", "proxied", "ttl", "type", "zoneId"]);
        new DnsRecord("count-mx", { ...cases[0].args, type: "MX", priority: 10 }, { transformations: [capture(mine)] });
        expect(Object.keys(mine[1].props).sort()).toEqual(["comment", "content", "name", "priority", "proxied", "ttl", "type", "zoneId"]);
        expect(Object.keys(theirs[0].props)).toHaveLength(19);
        // Every key the stack may set is one the provider takes.
        for (const k of Object.keys(mine[0].props)) expect(Object.keys(theirs[0].props)).toContain(k);
    });

    it("its pre-v6 alias, under no parent or one that did not say it is top-level: the generated class's spec", () => {
        expect(preV6Alias("r", undefined)).toEqual({ type: PRE_V6_RECORD_TYPE });
        const parent = new pulumi.ComponentResource("test:index:Other", "alias-other");
        expect(preV6Alias("alias-other-r", parent)).toEqual({ type: PRE_V6_RECORD_TYPE });
    });

    it("its pre-v6 alias, under a top-level component: the URN the engine makes of that spec (its type, the record's name and parent)", () => {
        const parent = new pulumi.ComponentResource("mailauth:dns:MailDns", "alias-top");
        knownTopLevel(parent, "mailauth:dns:MailDns");
        // pulumi step_generator.go collapseAliasToUrn 545-584 (1b59498): the spec's unset name and parent are the resource's.
        expect(preV6Alias("alias-top-spf", parent)).toBe(`urn:pulumi:stack::project::mailauth:dns:MailDns$${PRE_V6_RECORD_TYPE}::alias-top-spf`);
    });

    it("its content and id resolve as the generated class's do", async () => {
        const value = <T>(o: pulumi.Output<T>) => new Promise<T>((resolve) => o.apply(resolve));
        const a = new DnsRecord("resolve", cases[0].args);
        const b = new cloudflare.DnsRecord("resolve", cases[0].args);
        expect(await value(a.content)).toBe(await value(b.content));
        expect(await value(a.id)).toBe(await value(b.id));
    });
});

describe("PrivateKey, beside @pulumi/tls's", () => {
    pulumi.runtime.setMocks(
        { newResource: async (a) => ({ id: `${a.name}-id`, state: { ...a.inputs, publicKeyPem: "pub", privateKeyPem: "priv" } }), call: async () => ({}) },
        "project",
        "stack",
        true,
    );

    it("the same type, name, sent properties and options (version, additionalSecretOutputs, the caller's)", () => {
        for (const opts of [
            {},
            { ignoreChanges: ["rsaBits"] },
            { ignoreChanges: ["algorithm", "rsaBits", "ecdsaCurve"], additionalSecretOutputs: ["publicKeyPem"] },
        ]) {
            const mine: Seen[] = [];
            const theirs: Seen[] = [];
            new PrivateKey("k", { algorithm: "RSA", rsaBits: 2048 }, { ...opts, transformations: [capture(mine)] });
            new tls.PrivateKey("k", { algorithm: "RSA", rsaBits: 2048 }, { ...opts, transformations: [capture(theirs)] });
            expect(mine[0].type).toBe(PRIVATE_KEY_TYPE);
            expect(mine[0].type).toBe(theirs[0].type);
            expect(sent(mine[0].props)).toEqual(sent(theirs[0].props));
            expect(withoutTransformations(mine[0].opts)).toEqual(withoutTransformations(theirs[0].opts));
            expect(mine[0].opts.additionalSecretOutputs).toEqual(expect.arrayContaining(["privateKeyPem", "privateKeyOpenssh", "privateKeyPemPkcs8"]));
            expect(Object.keys(mine[0].props).sort()).toEqual(["algorithm", "privateKeyPem", "publicKeyPem", "rsaBits"]);
            expect(Object.keys(theirs[0].props)).toHaveLength(10);
            for (const k of Object.keys(mine[0].props)) expect(Object.keys(theirs[0].props)).toContain(k);
        }
    });

    it("its PEM outputs resolve as the generated class's do, the private one secret", async () => {
        const value = <T>(o: pulumi.Output<T>) => new Promise<T>((resolve) => o.apply(resolve));
        const secret = (o: pulumi.Output<unknown>) => (o as unknown as { isSecret: Promise<boolean> }).isSecret;
        const a = new PrivateKey("pem", { algorithm: "RSA", rsaBits: 2048 });
        const b = new tls.PrivateKey("pem", { algorithm: "RSA", rsaBits: 2048 });
        expect(await value(a.publicKeyPem)).toBe(await value(b.publicKeyPem));
        expect(await value(a.privateKeyPem)).toBe(await value(b.privateKeyPem));
        expect(await secret(a.privateKeyPem)).toBe(await secret(b.privateKeyPem));
    });
});

describe("the program's tracked properties per domain (issue 15: program time)", () => {
    it("every record of the program names, as its alias, its own URN with the pre-v6 type (what the engine makes of the generated class's spec)", async () => {
        const run = await runProgram(
            { ...exampleConfig(), "mailauth:noMail": [{ name: "static.example.com", nullMx: true }] },
            { preview: true, shareKeys: true },
        );
        const records = run.resources.filter((r) => r.type === DNS_RECORD_TYPE);
        expect(records.length).toBeGreaterThan(5);
        expect(records.some((r) => r.urn.includes("mailauth:dns:NoMail$"))).toBe(true);
        for (const r of records) expect(r.aliases).toContain(r.urn.replace(`$${DNS_RECORD_TYPE}::`, `$${PRE_V6_RECORD_TYPE}::`));
    });

    it("at 40 domains, at most 36 output properties per domain (88.9 with the generated classes, 38.3 with every key of the stack's, 35.25 without unset ones)", async () => {
        // The SDK makes four tracked promises for every output property, `transferProperty` first
        // (@pulumi/pulumi 3.276 runtime/rpc.js transferProperties ~60-100): counted where it tracks them.
        const debuggable = require("@pulumi/pulumi/runtime/debuggable");
        const original = debuggable.debuggablePromise;
        let properties = 0;
        debuggable.debuggablePromise = (p: Promise<unknown>, ctx: unknown) => {
            if (String(ctx).startsWith("transferProperty(")) properties++;
            return original(p, ctx);
        };
        const n = 40;
        try {
            await runProgram(manyDomainsConfig(n), { preview: true, shareKeys: true });
        } finally {
            debuggable.debuggablePromise = original;
        }
        expect(properties).toBeGreaterThan(0);
        expect(properties / n).toBeLessThanOrEqual(36);
    });
});
