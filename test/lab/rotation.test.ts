/**
 * Rotation on a calendar, on the lab (issue 20): a `pulumi up` on each stage's date (mailauth:now;
 * the runner's Cloudflare dates its records by it, test/lab/runner.ts `clock`),
 * mail sent in each stage, and each message checked by an independent verifier (dkimpy, resolving
 * through the lab DNS only) while its selector is published; once revoked, its record is found with
 * an empty p= (RFC 6376 3.6.1), which the verifier reports as an unusable key, not as a missing one.
 */
import { describe, expect, it } from "vitest";
import { useLab } from "./fixture";
import { DNS_ADDR, inLab } from "./lab";

const lab = useLab({ fresh: true });

/** example.com on the calendar (start 2026-12-01, the defaults: every 180d, publishAhead 3d, retire 7d, revoke 30d) at `now`. */
const onDay = (now: string) =>
    lab.config({
        "mailauth:domains": [
            { name: "example.com", zoneId: "0".repeat(32), selector: "s1", rotation: { start: "2026-12-01" } },
            { name: "example.org", zoneId: "1".repeat(32), selector: "s1" },
        ],
        "mailauth:now": now,
        // The signing gate asks these for the new selector's key (components/signingGate.ts), as the check does.
        "mailauth:check": { resolvers: [DNS_ADDR] },
    });

/** dkimpy's verdict, with its reason when it fails (dkimverify prints none: dkim/dkimverify.py:49-52, dkimpy 1.1.4). */
function verify(message: string): string {
    const py = [
        "import dkim, logging, sys",
        "class H(logging.Handler):",
        "    def emit(self, r): print(r.getMessage())",
        "log = logging.getLogger('verify'); log.addHandler(H()); log.setLevel(logging.INFO)",
        "print('signature ok' if dkim.DKIM(sys.stdin.buffer.read(), logger=log).verify() else 'signature verification failed')",
    ].join("\n");
    return inLab(["/usr/bin/python3", "-c", py], { input: message, allowFail: true }).trim();
}
const selectorOf = (message: string) =>
    message
        .match(/^DKIM-Signature:[^\n]*(?:\n[ \t][^\n]*)*/m)?.[0]
        .replace(/\s+/g, "")
        .match(/;s=([^;]+)/)?.[1];
const record = (selector: string) => inLab(["kdig", "+short", `@${DNS_ADDR}`, `${selector}._domainkey.example.com`, "TXT"]).trim();

describe("rotation on a calendar: mail in every stage verifies while its selector is published", () => {
    let beforeSwitch = "";
    let afterSwitch = "";

    it("2026-11-20: the manual selector signs", async () => {
        await lab.runner.up(onDay("2026-11-20"));
        const m = await lab.sendLocal("alice@example.com", "rot-1");
        expect(selectorOf(m)).toBe("s1");
        expect(verify(m)).toMatch(/signature ok$/);
        expect(record("k20261201")).toBe("");
    });

    it("2026-11-28 (start - publishAhead): the next key is published, the manual one still signs", async () => {
        await lab.runner.up(onDay("2026-11-28"));
        expect(record("k20261201")).toMatch(/p=MII/);
        beforeSwitch = await lab.sendLocal("alice@example.com", "rot-2");
        expect(selectorOf(beforeSwitch)).toBe("s1");
        expect(verify(beforeSwitch)).toMatch(/signature ok$/);
    });

    it("2026-12-01 (start): the new key signs, its record in the zone since the last run (3 days: made more than a day before) and served by the lab DNS; mail signed before still verifies", async () => {
        await lab.runner.up(onDay("2026-12-01"));
        afterSwitch = await lab.sendLocal("alice@example.com", "rot-3");
        expect(selectorOf(afterSwitch)).toBe("k20261201");
        expect(verify(afterSwitch)).toMatch(/signature ok$/);
        expect(verify(beforeSwitch)).toMatch(/signature ok$/);
        // The other domain, not on a calendar, is untouched.
        expect(selectorOf(await lab.sendLocal("alice@example.org", "rot-3-org"))).toBe("s1");
    });

    it("2026-12-08 (start + retire): the old key is still published, the gate could have switched as late as today", async () => {
        await lab.runner.up(onDay("2026-12-08"));
        expect(record("s1")).toMatch(/p=MII/);
        expect(verify(beforeSwitch)).toMatch(/signature ok$/);
    });

    it("2026-12-15 (start + 2 retire): the old record is revoked, empty p=; mail it signed is refused for that key, not for a missing record", async () => {
        await lab.runner.up(onDay("2026-12-15"));
        expect(record("s1")).toBe('"v=DKIM1; p="');
        const verdict = verify(beforeSwitch);
        expect(verdict).toMatch(/signature verification failed$/);
        expect(verdict).toContain("(b'')");
        expect(verdict).not.toContain("missing public key");
        expect(verify(afterSwitch)).toMatch(/signature ok$/);
        // Its key file has left the host.
        expect(lab.host!.ssh("test -e /etc/opendkim/keys/example.com/s1.private && echo present || echo gone").trim()).toBe("gone");
    });

    it("2027-01-07 (start + retire + revoke): the old record is gone; the new key signs on", async () => {
        await lab.runner.up(onDay("2027-01-07"));
        expect(record("s1")).toBe("");
        expect(verify(beforeSwitch)).toContain("missing public key");
        const m = await lab.sendLocal("alice@example.com", "rot-5");
        expect(selectorOf(m)).toBe("k20261201");
        expect(verify(m)).toMatch(/signature ok$/);
    });
});
