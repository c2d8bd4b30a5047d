/**
 * Resource names, types and parents are state identity (the URN): a resource whose URN changes is
 * a new resource to the engine. For a key that is a new key under a live selector; for a host step,
 * its old delete runs on the host. A change of URN needs an alias naming the old one.
 * test/unit/urns.example.json holds the URNs of the example stack; regenerate it only for a
 * resource added or removed on purpose: UPDATE_URN_SNAPSHOT=1 npx vitest run --project unit test/unit/identity.test.ts
 */
import * as fs from "fs";
import * as path from "path";
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { DkimKey, keyWarnings, recordKeyBits, rotationSteps, warnKeptKey } from "../../components/dkimKey";
import { dkimRecordValue } from "../../components/records/dkim";
import { quoteTxt } from "../../components/records/txt";
import { exampleConfig, Registered, Run, runProgram } from "../harness";

const SNAPSHOT = path.join(__dirname, "urns.example.json");

/** Snapshot URNs that no resource of this run has, neither as its URN nor as an alias. */
export function lostIdentities(snapshot: string[], resources: Pick<Registered, "urn" | "aliases">[]): string[] {
    const known = new Set(resources.flatMap((r) => [r.urn, ...r.aliases]));
    return snapshot.filter((u) => !known.has(u));
}

let run: Run;
beforeAll(async () => {
    run = await runProgram(exampleConfig());
});

describe("resource identity", () => {
    it("every resource of the example stack keeps its URN, or names the old one as an alias", () => {
        const urns = run.resources.map((r) => r.urn).sort();
        expect(urns.every((u) => u.startsWith("urn:pulumi:test::mailauth::"))).toBe(true);
        if (process.env.UPDATE_URN_SNAPSHOT) fs.writeFileSync(SNAPSHOT, JSON.stringify(urns, null, 1) + "\n");
        const snapshot: string[] = JSON.parse(fs.readFileSync(SNAPSHOT, "utf8"));
        const lost = lostIdentities(snapshot, run.resources);
        expect(lost, "renamed, retyped or re-parented without an alias (add `aliases: [...]` naming the old URN)").toEqual([]);
        // New: neither its URN nor any former one (an alias) is in the snapshot. Every DNS record names its
        // old Cloudflare type as an alias, so an alias alone says nothing (example.com-mx-spf came in unseen so).
        const added = urns.filter((u) => !snapshot.includes(u) && !run.resources.find((r) => r.urn === u)!.aliases.some((a) => snapshot.includes(a)));
        expect(added, "new resources: if added on purpose, regenerate the snapshot (see the top of this file)").toEqual([]);
    });

    it("notices a renamed resource, and accepts it with an alias", () => {
        const snapshot = run.resources.map((r) => r.urn);
        const key = run.resources.find((r) => r.type === "tls:index/privateKey:PrivateKey" && r.name.endsWith("-rsa"))!;
        const renamed = run.resources.map((r) => (r === key ? { urn: r.urn.replace(/-rsa$/, "-key"), aliases: [] } : r));
        expect(lostIdentities(snapshot, renamed)).toEqual([key.urn]);
        const aliased = run.resources.map((r) => (r === key ? { urn: r.urn.replace(/-rsa$/, "-key"), aliases: [key.urn] } : r));
        expect(lostIdentities(snapshot, aliased)).toEqual([]);
    });
});

describe("a live selector keeps its key", () => {
    it("keyBits does not replace an existing key; a DKIM record and a key file keep what they were created with", () => {
        const of = (type: string) => run.resources.filter((r) => r.type === type);
        // The DKIM keys; the stack's identity (mailauth-identity, components/stackMarker.ts) ignores every input it has.
        const tlsKeys = of("tls:index/privateKey:PrivateKey").filter((k) => k.name !== "mailauth-identity");
        expect(tlsKeys.length).toBe(2);
        for (const k of tlsKeys) expect(k.ignoreChanges).toEqual(["rsaBits"]);
        expect(run.resources.find((r) => r.name === "mailauth-identity")!.ignoreChanges.sort()).toEqual(["algorithm", "ecdsaCurve", "rsaBits"]);
        const records = of("cloudflare:index/dnsRecord:DnsRecord");
        for (const r of records) expect(r.ignoreChanges).toEqual(/-dkim-/.test(r.name) ? ["content"] : []);
        const steps = of("command:remote:Command");
        for (const s of steps) expect(s.ignoreChanges).toEqual(/-key-/.test(s.name) ? ["stdin"] : []);
    });

    it("says what happened and how to rotate when keyBits or the held key differ from the live one", () => {
        expect(keyWarnings("example.com", "s1", 2048, 2048, undefined, "v=DKIM1; p=A")).toEqual([]);
        const [bits] = keyWarnings("example.com", "s1", 4096, 2048, undefined, "v=DKIM1; p=A");
        expect(bits).toContain("example.com: selector s1 keeps its 2048-bit key; keyBits 4096 applies to a new selector only");
        expect(bits).toContain(rotationSteps("example.com", "s1"));
        const [held] = keyWarnings("example.com", "s1", 2048, 2048, '"v=DKIM1; p=A"', "v=DKIM1; p=B");
        expect(held).toContain("selector s1 keeps its published and installed key; the stack now holds another key");
        expect(held).toContain("previousSelectors");
    });

    it("reads the held key's size from its record value, as from its PEM", () => {
        for (const bits of [1024, 2048, 3072]) {
            const { publicKey } = crypto.generateKeyPairSync("rsa", { modulusLength: bits });
            expect(recordKeyBits(dkimRecordValue(publicKey.export({ type: "spki", format: "pem" }).toString()))).toBe(bits);
        }
    });

    it("warns once the held key and the published record are known: the size asked for, another key held", async () => {
        const pem = crypto.generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ type: "spki", format: "pem" }).toString();
        const other = crypto.generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ type: "spki", format: "pem" }).toString();
        const warn = vi.spyOn(pulumi.log, "warn").mockImplementation(() => Promise.resolve());
        try {
            const key = { recordValue: pulumi.output(dkimRecordValue(pem)) } as unknown as DkimKey;
            const settle = () => new Promise((r) => setTimeout(r, 50));
            warnKeptKey("example.com", "s1", 1024, key, pulumi.output(quoteTxt(dkimRecordValue(pem))));
            await settle();
            expect(warn).not.toHaveBeenCalled();
            warnKeptKey("example.com", "s1", 2048, key, pulumi.output(quoteTxt(dkimRecordValue(pem))));
            await settle();
            expect(warn.mock.calls.map((c) => c[0])).toEqual([expect.stringContaining("selector s1 keeps its 1024-bit key; keyBits 2048")]);
            warn.mockClear();
            warnKeptKey("example.com", "s1", 1024, key, pulumi.output(quoteTxt(dkimRecordValue(other))));
            await settle();
            expect(warn.mock.calls.map((c) => c[0])).toEqual([expect.stringContaining("keeps its published and installed key")]);
            warn.mockClear();
            // A record not known yet (a preview of a new one): nothing to say.
            warnKeptKey("example.com", "s1", 2048, key, pulumi.output(pulumi.unknown as unknown as string));
            await settle();
            expect(warn).not.toHaveBeenCalled();
        } finally {
            warn.mockRestore();
        }
    });
});
