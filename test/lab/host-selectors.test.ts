/**
 * Issue 21 on the lab: a key per host (mailauth:hosts[i].selector and previousSelectors; the
 * program's side is test/unit/host-selectors.test.ts). Two relays, mail.example.com (10.231.0.2,
 * the MX) and mail2.example.com (10.231.0.22), each signing both domains with a selector of its
 * own. Mail from each is checked by dkimverify (dkimpy, resolving through the lab DNS): its
 * DKIM-Signature names that host's selector. Then the second host is rotated alone (a new selector,
 * the old one in its previousSelectors): no step of the first host runs and none of its files
 * changes, the second signs with the new selector, the old one stays published (mail signed with it
 * before still verifies); then the old selector is removed: its records leave the zone, its key
 * files leave the second host, and the first host is still untouched.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { DOMAINS, useLab } from "./fixture";
import { LabHost } from "./lab";
import { UpReport } from "./runner";

const lab = useLab();
let hosts: LabHost[];
beforeAll(async () => {
    hosts = await lab.freshHosts([{}, { postfix: "relay" }]);
});

/** One stack over the two hosts: mailauth:hosts in place of mailauth:ssh and mailauth:mx. */
function hostsConfig(second: Record<string, unknown>): Record<string, unknown> {
    const config = lab.config();
    delete config["mailauth:ssh"];
    delete config["mailauth:mx"];
    config["mailauth:hosts"] = [
        { hostname: hosts[0].hostname, ipv4: hosts[0].addr, mx: 10, sshHostKey: hosts[0].hostKey, selector: "h1a" },
        { hostname: hosts[1].hostname, ipv4: hosts[1].addr, sshHostKey: hosts[1].hostKey, ...second },
    ];
    return config;
}

/** A host's MailHost steps (its component is `mailhost-<hostname>`, each step `<component>-<step>`). */
const stepsOf = (names: string[], host: LabHost) => names.filter((n) => n.startsWith(`mailhost-${host.hostname}-`));

function dkimTag(message: string, tag: string): string | undefined {
    const header = message.match(/^DKIM-Signature:[^\n]*(?:\n[ \t][^\n]*)*/m)?.[0].replace(/\s+/g, "");
    return header?.match(new RegExp(`[;:]${tag}=([^;]+)`))?.[1];
}

/** Mail submitted on `host` for its own root, as delivered: its DKIM selector and domain, and dkimverify's verdict. */
async function signedOn(host: LabHost, domain: string, subject: string): Promise<{ message: string; selector?: string; domain?: string; verdict: string }> {
    const message = await lab.sendLocal(`alice@${domain}`, `${subject}-${Date.now()}`, host);
    return { message, selector: dkimTag(message, "s"), domain: dkimTag(message, "d"), verdict: lab.dkimverify(message) };
}

/**
 * Every file the stack writes or edits on a host (and Postfix's and OpenDKIM's own beside them),
 * with its digest, mode, owner and modification time: a step that ran and rewrote a file with the
 * same bytes shows too.
 */
const FILES = "/etc/opendkim /etc/opendkim.conf /etc/default/opendkim /etc/postfix /etc/postfix-policyd-spf-python /var/lib/mailauth";
function filesOf(host: LabHost): string {
    return host.ssh(
        `find ${FILES} -type f 2>/dev/null | sort | while read -r f; do printf '%s %s %s\\n' "$(md5sum <"$f" | cut -d' ' -f1)" "$(stat -c '%a %U:%G %Y' "$f")" "$f"; done`,
    );
}
/** The key files on a host, as `<domain>/<selector>.private`. */
const keyFiles = (host: LabHost) =>
    host
        .ssh("cd /etc/opendkim/keys && find . -name '*.private' | sed 's|^\\./||' | sort")
        .trim()
        .split("\n")
        .filter((l) => l !== "");
/** The TXT record of a selector in a domain, as the lab DNS serves it ("" when there is none). */
const published = (selector: string, domain: string) => lab.dns.query(`${selector}._domainkey.${domain}`, "TXT");

describe("two relays, each with a selector of its own", () => {
    it("a fresh up: each host installs only its own keys, and its key test passes", async () => {
        const report = await lab.runner.up(hostsConfig({ selector: "h2a" }));
        expect(report.outputs.testKey).toEqual(Object.fromEntries(hosts.map((h) => [h.hostname, Object.fromEntries(DOMAINS.map((d) => [d, "key OK"]))])));
        expect(keyFiles(hosts[0])).toEqual(DOMAINS.map((d) => `${d}/h1a.private`));
        expect(keyFiles(hosts[1])).toEqual(DOMAINS.map((d) => `${d}/h2a.private`));
        for (const d of DOMAINS) for (const s of ["h1a", "h2a"]) expect(published(s, d), `${s} ${d}`).toMatch(/v=DKIM1;.*p=MII/);
        // Two keys, not one key under two names.
        const digest = (h: LabHost, s: string) => h.ssh(`md5sum /etc/opendkim/keys/example.com/${s}.private | cut -d' ' -f1`).trim();
        expect(digest(hosts[0], "h1a")).not.toBe(digest(hosts[1], "h2a"));
    });

    it("mail from each host carries its own selector and verifies with dkimverify", async () => {
        for (const [h, selector] of [
            [hosts[0], "h1a"],
            [hosts[1], "h2a"],
        ] as const) {
            for (const domain of DOMAINS) {
                const { selector: s, domain: d, verdict } = await signedOn(h, domain, `own-${h.spec.index}-${domain}`);
                expect({ s, d, verdict }, `${h.hostname} ${domain}`).toEqual({ s: selector, d: domain, verdict: "signature ok" });
            }
        }
    });
});

describe("the second host rotated alone, then its old selector removed", () => {
    let firstFiles: string;
    let firstSteps: Record<string, unknown>;
    /** A message the second host signed with h2a, before its rotation. */
    let signedBefore: string;
    const firstStepInputs = () =>
        Object.fromEntries(
            Object.entries(lab.runner.resources)
                .filter(([name]) => stepsOf([name], hosts[0]).length > 0)
                .map(([name, r]) => [name, r.inputs]),
        );
    beforeAll(async () => {
        firstFiles = filesOf(hosts[0]);
        firstSteps = firstStepInputs();
        signedBefore = (await signedOn(hosts[1], "example.com", "before-rotation")).message;
        expect(dkimTag(signedBefore, "s")).toBe("h2a");
    });

    let rotation: UpReport;
    it("a new selector with the old one in previousSelectors: only the second host's steps run, and the first host's files stay as they were", async () => {
        rotation = await lab.runner.up(hostsConfig({ selector: "h2b", previousSelectors: ["h2a"] }));
        expect(stepsOf(rotation.commandsRun, hosts[1]).length).toBeGreaterThan(0);
        expect(stepsOf(rotation.commandsRun, hosts[0])).toEqual([]);
        expect(firstStepInputs()).toEqual(firstSteps);
        expect(filesOf(hosts[0])).toBe(firstFiles);
        expect(keyFiles(hosts[0])).toEqual(DOMAINS.map((d) => `${d}/h1a.private`));
        expect(rotation.outputs.testKey).toEqual(Object.fromEntries(hosts.map((h) => [h.hostname, Object.fromEntries(DOMAINS.map((d) => [d, "key OK"]))])));
    });

    it("the second host signs with the new selector; the old one stays published and installed, and mail signed with it still verifies", async () => {
        for (const domain of DOMAINS) {
            const { selector, verdict } = await signedOn(hosts[1], domain, `rotated-${domain}`);
            expect({ selector, verdict }, domain).toEqual({ selector: "h2b", verdict: "signature ok" });
            expect(published("h2a", domain), domain).toMatch(/v=DKIM1;.*p=MII/);
            expect(published("h2b", domain), domain).toMatch(/v=DKIM1;.*p=MII/);
        }
        expect(keyFiles(hosts[1])).toEqual(DOMAINS.flatMap((d) => [`${d}/h2a.private`, `${d}/h2b.private`]));
        expect(lab.dkimverify(signedBefore)).toBe("signature ok");
        // And the first host as before.
        for (const domain of DOMAINS) expect((await signedOn(hosts[0], domain, `first-${domain}`)).selector).toBe("h1a");
    });

    it("the old selector removed: its records leave the zone and its key files the second host; the first host is still untouched", async () => {
        const report = await lab.runner.up(hostsConfig({ selector: "h2b" }));
        expect(stepsOf(report.commandsRun, hosts[0])).toEqual([]);
        expect(firstStepInputs()).toEqual(firstSteps);
        expect(filesOf(hosts[0])).toBe(firstFiles);
        for (const domain of DOMAINS) {
            expect(published("h2a", domain), domain).toBe("");
            expect(published("h2b", domain), domain).toMatch(/v=DKIM1;.*p=MII/);
            expect(published("h1a", domain), domain).toMatch(/v=DKIM1;.*p=MII/);
        }
        expect(keyFiles(hosts[1])).toEqual(DOMAINS.map((d) => `${d}/h2b.private`));
        expect(hosts[1].ssh("grep -rc h2a /etc/opendkim/KeyTable /etc/opendkim/SigningTable || true").trim()).toMatch(/:0\n.*:0$/);
        for (const domain of DOMAINS) {
            const { selector, verdict } = await signedOn(hosts[1], domain, `removed-${domain}`);
            expect({ selector, verdict }, domain).toEqual({ selector: "h2b", verdict: "signature ok" });
            const first = await signedOn(hosts[0], domain, `first-after-${domain}`);
            expect({ selector: first.selector, verdict: first.verdict }, domain).toEqual({ selector: "h1a", verdict: "signature ok" });
        }
        // What was signed with the removed key no longer verifies: its key is gone from DNS.
        expect(lab.dkimverify(signedBefore)).not.toBe("signature ok");
    });
});
