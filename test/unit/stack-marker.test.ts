/**
 * Which stack a record is from (issue 15.6): the comment leads with the id of the stack's identity
 * (components/stackMarker.ts), so a stack named like this one in another organization or backend, or
 * this stack's own lost state, is not taken for this stack; a rename or a cut comment still is.
 */
import * as crypto from "crypto";
import { describe, expect, it } from "vitest";
import { exampleConfig, programError, runProgram } from "../harness";
import { FakeCloudflare } from "../cloudflare";
import { runStep } from "../adoptScript";
import { ADOPT_SCRIPT, adoptTargets } from "../../components/adoptRecords";
import { identityId, isOwn, legacyComment, markerComment, ownMarker, recordOwner } from "../../components/stackMarker";
import { Target } from "../../components/zone";

const ID = "0123456789abcdef";
const OTHER_ID = "fedcba9876543210";
const own = ownMarker(ID, "acme", "mailauth", "prod");

describe("the marker, directly", () => {
    it("this stack's: its comment, its comment renamed or cut (the id decides), its comment from before the identity", () => {
        expect(own.comment).toBe("mailauth:0123456789abcdef managed by Pulumi stack acme/mailauth/prod");
        expect(isOwn(own.comment, own)).toBe(true);
        expect(isOwn(markerComment(ID, "acme/mailauth/production"), own)).toBe(true); // pulumi stack rename
        const long = markerComment(ID, `acme/${"p".repeat(60)}/${"s".repeat(60)}`);
        expect(long).toHaveLength(100);
        expect(isOwn(long, own)).toBe(true);
        expect(isOwn(legacyComment("mailauth", "prod"), own)).toBe(true);
        expect(recordOwner(own.comment, own)).toEqual({ own: true });
    });

    it("another stack's: another identity, whatever its name; said when the name is this stack's own", () => {
        expect(recordOwner(markerComment(OTHER_ID, "acme/mailauth/prod"), own)).toEqual({
            own: false,
            other: `acme/mailauth/prod, identity ${OTHER_ID}`,
            sameName: true,
        });
        expect(recordOwner(markerComment(OTHER_ID, "globex/mailauth/prod"), own)).toEqual({
            own: false,
            other: `globex/mailauth/prod, identity ${OTHER_ID}`,
            sameName: false,
        });
        const cut = markerComment(OTHER_ID, `acme/mailauth/prod${"x".repeat(80)}`);
        expect(recordOwner(cut, own)).toMatchObject({ own: false, sameName: false });
        expect(recordOwner(legacyComment("mailauth", "staging"), own)).toEqual({ own: false, other: "mailauth/staging", sameName: false });
        expect(recordOwner("site verification", own)).toBeUndefined();
        expect(recordOwner(null, own)).toBeUndefined();
    });

    it("a stack whose identity is being made (a new stack's preview) owns no record that names an identity", () => {
        const fresh = ownMarker(undefined, "acme", "mailauth", "prod");
        expect(fresh.comment).toBeUndefined();
        expect(isOwn(own.comment, fresh)).toBe(false);
        expect(recordOwner(own.comment, fresh)).toMatchObject({ own: false, sameName: true });
        expect(isOwn(legacyComment("mailauth", "prod"), fresh)).toBe(true);
    });

    it("the id: 16 hex digits of the SHA-256 of the identity's public key", () => {
        const pem = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ type: "spki", format: "pem" }).toString();
        expect(identityId(pem)).toMatch(/^[0-9a-f]{16}$/);
        expect(identityId(pem)).toBe(identityId(pem));
    });
});

/** A record written by a stack of this name from another state: this stack's own state lost, say. */
const LOST = markerComment(OTHER_ID, "mailauth/test");

describe("records of a stack named like this one, from another state", () => {
    it("are not adopted (before: an unmarked record, taken over and given back on destroy); the way out imports them", async () => {
        const cf = FakeCloudflare.forConfig(exampleConfig());
        cf.addRecord("example.com", { name: "example.com", type: "TXT", content: '"v=spf1 mx ip4:192.0.2.25 ~all"', comment: LOST });
        const msg = await programError({ ...exampleConfig(), "mailauth:adoptRecords": "true", "cloudflare:apiToken": "t" }, { preview: true, call: cf.call });
        expect(msg).toContain(`it carries this stack's name (mailauth/test, identity ${OTHER_ID}) but not this stack's identity`);
        expect(msg).toContain("if it is this stack's from a lost state, import it");
        expect(msg).toContain(`pulumi config set --path 'mailauth:importRecords["example.com-spf"]'`);
        expect(msg).not.toContain("is taken over by the stack's adopt step");
    });

    it("a DKIM record at a live selector: refused, with a new selector as the way out (a second key there would fail signatures)", async () => {
        const cf = FakeCloudflare.forConfig(exampleConfig());
        cf.addRecord("example.com", { name: "20261127._domainkey.example.com", type: "TXT", content: '"v=DKIM1; k=rsa; p=AAAA"', comment: LOST });
        const msg = await programError(exampleConfig(), { call: cf.call });
        expect(msg).toContain("20261127._domainkey.example.com");
        expect(msg).toContain("but not this stack's identity");
        expect(msg).toContain("its key is not in this state: sign with a new selector");
    });

    it("a record with this stack's identity under an old name (pulumi stack rename) is the stack's own", async () => {
        const cf = FakeCloudflare.forConfig(exampleConfig());
        const first = await runProgram(exampleConfig(), { call: cf.call });
        const id = identityId(first.keys.get("mailauth-identity")!.publicKeyPem);
        cf.addRecord("example.com", {
            name: "example.com",
            type: "TXT",
            content: '"v=spf1 mx ip4:192.0.2.25 ~all"',
            comment: markerComment(id, "mailauth/old-name"),
        });
        const run = await runProgram(exampleConfig(), { call: cf.call });
        expect(run.resources.find((r) => r.name === "example.com-spf")!.inputs.comment).toBe(markerComment(id, "mailauth/test"));
    });
});

describe("upgrading a stack whose records carry the comment from before the identity", () => {
    it("its records are its own: no conflict, and they get the new comment in that up", async () => {
        const cf = FakeCloudflare.forConfig(exampleConfig());
        cf.addRecord("example.com", {
            name: "example.com",
            type: "TXT",
            content: '"v=spf1 mx ip4:192.0.2.25 ~all"',
            comment: legacyComment("mailauth", "test"),
        });
        const run = await runProgram(exampleConfig(), { call: cf.call });
        expect(run.resources.find((r) => r.name === "example.com-spf")!.inputs.comment).toMatch(
            /^mailauth:[0-9a-f]{16} managed by Pulumi stack mailauth\/test$/,
        );
    });

    it("the adopt step run again by the upgrade (its environment changed) leaves the stack's records alone, old comment or new", async () => {
        const cf = FakeCloudflare.forConfig(exampleConfig());
        const zone = cf.zone("example.com");
        const legacy = cf.addRecord("example.com", {
            name: "example.com",
            type: "TXT",
            content: '"v=spf1 mx ~all"',
            comment: legacyComment("mailauth", "test"),
        });
        const renamed = cf.addRecord("example.com", {
            name: "_dmarc.example.com",
            type: "TXT",
            content: '"v=DMARC1; p=none"',
            comment: markerComment(ID, "mailauth/old"),
        });
        const theirs = cf.addRecord("example.com", { name: "example.com", type: "MX", content: "mx1.example.net", priority: 5 });
        const targets: Target[] = [
            { kind: "mx", name: "example.com", type: "MX", resource: "example.com-mx" },
            { kind: "spf", name: "example.com", type: "TXT", resource: "example.com-spf" },
            { kind: "dmarc", name: "_dmarc.example.com", type: "TXT", resource: "example.com-dmarc" },
        ];
        const api = await cf.serve();
        try {
            const out = await runStep(
                { interpreter: ["node", "-e", ADOPT_SCRIPT], create: "take" },
                "create",
                {
                    MAILAUTH_ZONE_ID: zone.id,
                    MAILAUTH_ZONE_NAME: "example.com",
                    MAILAUTH_MARKER: markerComment(ID, "mailauth/test"),
                    MAILAUTH_LEGACY_MARKER: legacyComment("mailauth", "test"),
                    MAILAUTH_MARKER_ID: ID,
                    MAILAUTH_TARGETS: JSON.stringify(adoptTargets(targets)),
                    MAILAUTH_CLOUDFLARE_TOKEN: "test-token",
                },
                api.url,
            );
            expect(out.code, out.stderr).toBe(0);
            const left = zone.records.map((r) => r.id);
            expect(left).toContain(legacy.id);
            expect(left).toContain(renamed.id);
            expect(left).not.toContain(theirs.id);
        } finally {
            await api.close();
        }
    });
});
