/**
 * A published key never changes while its selector is live: mail signed before a change of key
 * size, a `pulumi up --replace` of the key, a `--replace` of the host's key step after that, and a
 * rotation to a bigger key still verifies after each, with the DNS still holding the old selector's record.
 */
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it, vi } from "vitest";
import { DOMAINS, useLab } from "./fixture";

const lab = useLab({ fresh: true });

/** The lab's stack with example.com's selector, previous selectors and key size set. */
function withKeys(selector: string, previousSelectors: string[], keyBits: number): Record<string, unknown> {
    return lab.config({
        "mailauth:domains": DOMAINS.map((name, i) =>
            name === "example.com"
                ? { name, zoneId: `${i}`.repeat(32), selector, previousSelectors, keyBits }
                : { name, zoneId: `${i}`.repeat(32), selector: "s1" },
        ),
    });
}

describe("keys never change under a live selector", () => {
    const keyFile = () => lab.host!.ssh("sha256sum /etc/opendkim/keys/example.com/s1.private").trim();
    const record = () => lab.dns.query("s1._domainkey.example.com", "TXT");
    const bitsOf = (selector: string) => lab.host!.ssh(`openssl pkey -in /etc/opendkim/keys/example.com/${selector}.private -noout -text | head -n 1`).trim();
    let before = "";
    let key0 = "";
    let record0 = "";

    it("mail signed with s1 (2048 bits) verifies", async () => {
        await lab.runner.up(withKeys("s1", [], 2048));
        before = await lab.sendLocal("alice@example.com", "signed-before");
        expect(before).toMatch(/^DKIM-Signature:.* s=s1;/ms);
        expect(lab.dkimverify(before)).toBe("signature ok");
        expect(bitsOf("s1")).toMatch(/2048 bit/);
        key0 = keyFile();
        record0 = record();
        expect(record0).toContain("v=DKIM1");
    });

    it("keyBits 4096 on the live selector changes nothing and says how to rotate", async () => {
        const warn = vi.spyOn(pulumi.log, "warn");
        const report = await lab.runner.up(withKeys("s1", [], 4096));
        expect(report.commandsRun).toEqual([]);
        expect(keyFile()).toBe(key0);
        expect(record()).toBe(record0);
        expect(lab.dkimverify(before)).toBe("signature ok");
        expect(warn.mock.calls.map((c) => c[0]).join("\n")).toContain(
            "example.com: selector s1 keeps its 2048-bit key; keyBits 4096 applies to a new selector only",
        );
        warn.mockRestore();
    });

    it("`pulumi up --replace` on s1's key publishes and installs nothing new", async () => {
        const warn = vi.spyOn(pulumi.log, "warn");
        await lab.runner.up(withKeys("s1", [], 4096), { replace: ["example.com-s1-rsa"] });
        expect(keyFile()).toBe(key0);
        expect(record()).toBe(record0);
        expect(lab.dkimverify(before)).toBe("signature ok");
        const after = await lab.sendLocal("alice@example.com", "signed-after-replace");
        expect(lab.dkimverify(after)).toBe("signature ok");
        expect(warn.mock.calls.map((c) => c[0]).join("\n")).toContain("selector s1 keeps its published and installed key");
        warn.mockRestore();
    });

    it("`pulumi up --replace` on the host's keys step after that: the published key stays in place, old and new mail verify", async () => {
        // The engine sends the program's stdin (the state's new key) to a replaced step
        // (step_generator.go ~1325-1333); the step's delete comes first (deleteBeforeReplace).
        const warn = vi.spyOn(pulumi.log, "warn");
        const report = await lab.runner.up(withKeys("s1", [], 4096), { replace: ["mailhost-keys"] });
        warn.mockRestore();
        expect(report.operations.filter((o) => o.name === "mailhost-keys").map((o) => o.op)).toEqual(["replace"]);
        expect(keyFile()).toBe(key0);
        expect(record()).toBe(record0);
        expect(bitsOf("s1")).toMatch(/2048 bit/);
        expect(lab.dkimverify(before)).toBe("signature ok");
        const after = await lab.sendLocal("alice@example.com", "signed-after-step-replace");
        expect(after).toMatch(/^DKIM-Signature:.* s=s1;/ms);
        expect(lab.dkimverify(after)).toBe("signature ok");
        // The records output shows what DNS publishes, not the key the state now holds.
        const published = (report.outputs.records as { name: string; value: string }[]).find((r) => r.name === "s1._domainkey.example.com")!.value;
        expect(record().replace(/"\s*"/g, "").replace(/"/g, "")).toBe(published);
    });

    it("rotating to s2 with 4096 bits: s1 keeps its key and record, new mail is signed by s2, old mail still verifies", async () => {
        await lab.runner.up(withKeys("s2", ["s1"], 4096));
        expect(keyFile()).toBe(key0);
        expect(record()).toBe(record0);
        expect(bitsOf("s1")).toMatch(/2048 bit/);
        expect(bitsOf("s2")).toMatch(/4096 bit/);
        expect(lab.dkimverify(before)).toBe("signature ok");
        const after = await lab.sendLocal("alice@example.com", "signed-after-rotation");
        expect(after).toMatch(/^DKIM-Signature:.* s=s2;/ms);
        expect(lab.dkimverify(after)).toBe("signature ok");
    });
});
