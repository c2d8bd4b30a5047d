/**
 * A key per host (issue 21, mailauth:hosts[i].selector and previousSelectors): a relay with its own
 * selector signs every domain's mail with its own key, so that it can be rotated or removed alone.
 * Its keys are DkimKeys of the domain like any selector's (`<domain>-<selector>`), published as
 * `<domain>-dkim-<selector>`; that host installs only its own, its SigningTable and key test name
 * its selector; the other relays are byte-identical to a stack without it. Runs the program
 * (index.ts) under Pulumi's mocks, as test/unit/hosts.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDnsServer } from "../dns-server";
import { checkPublished } from "../../components/check";
import { exampleConfig, Registered, reveal, Run, runProgram, stagedFile, stateMatches } from "../harness";
import { exampleRawSettings, settingsProblems } from "../settings-problems";
import { splitStdinStep } from "../../components/hostScripts";
import { checkInput } from "../../components/check/output";
import { validateSettings } from "../../components/settings";

const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
const PRIMARY = { hostname: "mail.example.com", ipv4: "192.0.2.25", mx: 10, sshHostKey: HOST_KEY };
const OUT = { hostname: "out.example.com", ipv4: "203.0.113.5", sshHostKey: HOST_KEY };

function withHosts(hosts: unknown[]): Record<string, unknown> {
    const c = exampleConfig();
    delete c["mailauth:ssh"];
    delete c["mailauth:mx"];
    return { ...c, "mailauth:hosts": hosts };
}

const byName = (run: Run, name: string) => run.resources.find((r) => r.name === name);
const host = (run: Run, hostname: string) => byName(run, `mailhost-${hostname}`)!;
const stepsOf = (run: Run, h: Registered) => run.resources.filter((r) => r.type === "command:remote:Command" && r.parent === h.urn);
/** Every input and dependency of a host's steps, secrets opened. */
const stepText = (run: Run, hostname: string) => JSON.stringify(stepsOf(run, host(run, hostname)).map((s) => [s.name, reveal(s.inputs), s.dependencies]));
const step = (run: Run, hostname: string, id: string) => byName(run, `mailhost-${hostname}-${id}`)!;
/** A step's own stdin, after its script. */
const ownStdin = (s: Registered) => splitStdinStep(s.inputs.create, reveal(s.inputs.stdin))!.stdin;
const keyFiles = (run: Run, hostname: string) =>
    ownStdin(step(run, hostname, "keys"))
        .split("\n")
        .filter((l) => l.startsWith("#mailauth-key "))
        .map((l) => l.split(" ")[1]);
const signingTable = (run: Run, hostname: string) => stagedFile(step(run, hostname, "opendkim").inputs.stdin, "SigningTable").replace(/^#.*\n/gm, "");
const names = (run: Run, type: string) =>
    run.resources
        .filter((r) => r.type === type)
        .map((r) => r.name)
        .sort();

describe("a relay with its own selector", () => {
    let shared: Run;
    let own: Run;
    beforeAll(async () => {
        shared = await runProgram(withHosts([PRIMARY, OUT]));
        own = await runProgram(withHosts([PRIMARY, { ...OUT, selector: "out1" }]));
    });

    it("gets a DkimKey per domain named <domain>-<selector>, published at <domain>-dkim-<selector>", () => {
        expect(names(own, "mailauth:dkim:DkimKey")).toEqual(["example.com-20261127", "example.com-out1", "example.org-20261127", "example.org-out1"]);
        const rec = byName(own, "example.com-dkim-out1")!;
        expect(rec.inputs).toMatchObject({ type: "TXT", name: "out1._domainkey.example.com" });
        expect(byName(own, "example.org-dkim-out1")!.inputs.name).toBe("out1._domainkey.example.org");
        // Its own key, not the shared one.
        expect(rec.inputs.content).not.toBe(byName(own, "example.com-dkim-20261127")!.inputs.content);
        expect((own.outputs.records as { name: string }[]).map((r) => r.name)).toContain("out1._domainkey.example.com");
    });

    it("installs only its own keys, names its selector in the SigningTable, tests it and keeps only its key files", () => {
        expect(keyFiles(own, "out.example.com")).toEqual(["/etc/opendkim/keys/example.com/out1.private", "/etc/opendkim/keys/example.org/out1.private"]);
        expect(signingTable(own, "out.example.com")).toBe("*@example.com out1._domainkey.example.com\n*@example.org out1._domainkey.example.org\n");
        expect(stagedFile(step(own, "out.example.com", "opendkim").inputs.stdin, "KeyTable")).not.toContain("20261127");
        expect(ownStdin(step(own, "out.example.com", "testkey"))).toMatch(/^example\.com out1 [0-9a-f]{16}\nexample\.org out1 [0-9a-f]{16}\n$/);
        expect(ownStdin(step(own, "out.example.com", "keys-retire"))).toBe(
            "/etc/opendkim/keys/example.com/out1.private\n/etc/opendkim/keys/example.org/out1.private\n",
        );
        // Its keys step waits for its own records, not the shared ones.
        const deps = step(own, "out.example.com", "keys").dependencies;
        expect(deps).toContain(byName(own, "example.com-dkim-out1")!.urn);
        expect(deps).not.toContain(byName(own, "example.com-dkim-20261127")!.urn);
    });

    it("leaves the other relay byte-identical, with the shared keys only", () => {
        expect(stepText(own, "mail.example.com")).toBe(stepText(shared, "mail.example.com"));
        expect(keyFiles(own, "mail.example.com")).toEqual([
            "/etc/opendkim/keys/example.com/20261127.private",
            "/etc/opendkim/keys/example.org/20261127.private",
        ]);
        expect(signingTable(own, "mail.example.com")).toBe("*@example.com 20261127._domainkey.example.com\n*@example.org 20261127._domainkey.example.org\n");
    });

    it("the check: a dkim item per published selector, a dkim signing item per selector that signs", () => {
        const settings = validateSettings(exampleRawSettings({ ssh: undefined, mx: undefined, hosts: [PRIMARY, { ...OUT, selector: "out1" }] }));
        const input = checkInput(settings, {});
        expect(input.domains.map((d) => [d.name, d.signing])).toEqual([
            ["example.com", ["20261127", "out1"]],
            ["example.org", ["20261127", "out1"]],
        ]);
        // Every relay on its own selector: the shared one signs nowhere.
        const alone = validateSettings(exampleRawSettings({ ssh: undefined, mx: undefined, hosts: [{ ...PRIMARY, selector: "p1" }] }));
        expect(checkInput(alone, {}).domains[0].signing).toEqual(["p1"]);
        // The one host of ssh and mx: as before.
        expect(checkInput(validateSettings(exampleRawSettings()), {}).domains[0].signing).toEqual(["20261127"]);
    });
});

describe("the check's dkim signing items with a relay's own selector", () => {
    const KEY_SHARED = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAshared";
    const KEY_OWN = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAown1";
    let server: Awaited<ReturnType<typeof startDnsServer>>;
    beforeAll(async () => {
        server = await startDnsServer();
    });
    afterAll(() => server.close());

    it("one item per selector that signs: a missing record of the host's own selector fails its item alone", async () => {
        const settings = validateSettings(exampleRawSettings({ ssh: undefined, mx: undefined, hosts: [PRIMARY, { ...OUT, selector: "out1" }] }));
        const dkim = Object.fromEntries(
            settings.domains.map((d) => [
                d.name,
                [
                    { selector: "20261127", publicKey: KEY_SHARED },
                    { selector: "out1", publicKey: KEY_OWN },
                ],
            ]),
        );
        const input = checkInput(settings, dkim);
        const signingOf = async (zone: Record<string, { TXT: string[] }>) => {
            server.zone = zone;
            const result = await checkPublished({ domains: input.domains.slice(0, 1), resolvers: [server.address], timeoutMs: 1000 });
            return result["example.com"].filter((i) => i.check.startsWith("dkim signing")).map((i) => [i.check, i.status]);
        };
        const shared = { "20261127._domainkey.example.com": { TXT: [`v=DKIM1; k=rsa; p=${KEY_SHARED}`] } };
        expect(await signingOf({ ...shared, "out1._domainkey.example.com": { TXT: [`v=DKIM1; k=rsa; p=${KEY_OWN}`] } })).toEqual([
            ["dkim signing 20261127", "pass"],
            ["dkim signing out1", "pass"],
        ]);
        expect(await signingOf(shared)).toEqual([
            ["dkim signing 20261127", "pass"],
            ["dkim signing out1", "fail"],
        ]);
    });
});

describe("rotating or removing one host alone", () => {
    let before: Run;
    beforeAll(async () => {
        before = await runProgram(withHosts([PRIMARY, { ...OUT, selector: "out1" }]));
    });

    it("a new selector with the old one in its previousSelectors: a new key for that host only, the old one kept", async () => {
        const after = await runProgram(withHosts([PRIMARY, { ...OUT, selector: "out2", previousSelectors: ["out1"] }]));
        expect(names(after, "mailauth:dkim:DkimKey")).toEqual([
            "example.com-20261127",
            "example.com-out1",
            "example.com-out2",
            "example.org-20261127",
            "example.org-out1",
            "example.org-out2",
        ]);
        // The old key is the same key: its record does not change.
        expect(byName(after, "example.com-dkim-out1")!.inputs.content).toBe(byName(before, "example.com-dkim-out1")!.inputs.content);
        expect(keyFiles(after, "out.example.com")).toEqual([
            "/etc/opendkim/keys/example.com/out2.private",
            "/etc/opendkim/keys/example.com/out1.private",
            "/etc/opendkim/keys/example.org/out2.private",
            "/etc/opendkim/keys/example.org/out1.private",
        ]);
        expect(signingTable(after, "out.example.com")).toBe("*@example.com out2._domainkey.example.com\n*@example.org out2._domainkey.example.org\n");
        // The other host, every shared record: unchanged.
        expect(stepText(after, "mail.example.com")).toBe(stepText(before, "mail.example.com"));
        for (const r of before.resources.filter((r) => r.type === "cloudflare:index/dnsRecord:DnsRecord"))
            expect(byName(after, r.name)?.inputs, r.name).toEqual(r.inputs);
    });

    it("removing the host deletes its steps, its keys and their records; the other host and its records stay", async () => {
        const after = await runProgram(withHosts([PRIMARY]));
        const matches = stateMatches(
            before.resources.map((r) => r.urn),
            after.resources,
        );
        const kept = new Set(matches.values());
        // What the engine deletes: whatever of the state no resource of the run takes over.
        const deleted = before.resources.filter((r) => !kept.has(r.urn)).map((r) => r.name);
        const hostSteps = stepsOf(before, host(before, "out.example.com")).map((s) => s.name);
        expect(deleted.sort()).toEqual(
            [
                "mailhost-out.example.com",
                ...hostSteps,
                "example.com-out1",
                "example.com-out1-rsa",
                "example.org-out1",
                "example.org-out1-rsa",
                "example.com-dkim-out1",
                "example.org-dkim-out1",
                // The host's own records in example.com's zone (test/unit/hosts.test.ts).
                "example.com-mx-a-out.example.com",
                "example.com-mx-spf-out.example.com",
            ].sort(),
        );
        expect(stepText(after, "mail.example.com")).toBe(stepText(before, "mail.example.com"));
        // The shared keys' records stay as they were (SPF changes: the relay's ip4: leaves it).
        for (const name of ["example.com-dkim-20261127", "example.org-dkim-20261127", "example.com-dmarc", "example.com-mx-mail.example.com"])
            expect(byName(after, name)!.inputs, name).toEqual(byName(before, name)!.inputs);
    });
});

describe("mailauth:hosts[i].selector, refused", () => {
    const raw = (hosts: unknown, patch: Record<string, unknown> = {}) => exampleRawSettings({ ssh: undefined, mx: undefined, hosts, ...patch });

    it("names every bad entry's selectors at once, each field as mailauth:hosts[i].field", () => {
        expect(
            settingsProblems(
                raw([
                    PRIMARY,
                    { ...OUT, selector: "bad_one", previousSelectors: ["o1", "O1"] },
                    { hostname: "backup.example.org", mx: 20, relay: false, selector: "b1" },
                    { hostname: "out2.example.com", previousSelectors: ["x1"] },
                    { hostname: "out3.example.com", selector: "o3", previousSelectors: ["o3"] },
                ]),
            ),
        ).toEqual([
            'mailauth:hosts[1].selector: "bad_one" is not a valid selector (a DNS label: letters, digits, hyphens, at most 63)',
            'mailauth:hosts[1]: selectors "o1" and "O1" differ only in case; DNS ignores case, so both keys would be published at one name (o1._domainkey); pick a selector with another name',
            "mailauth:hosts[2].selector: set on a host with relay false: a host that does not sign has no key; remove it: pulumi config rm --path 'mailauth:hosts[2].selector'",
            "mailauth:hosts[3].previousSelectors: set without mailauth:hosts[3].selector: a host's old selectors are kept only beside its own; to go back to the shared key, move them to the domains' previousSelectors (mailauth:domains[i].previousSelectors: the same keys, now on every relay)",
            'mailauth:hosts[4].previousSelectors: must not contain the host\'s selector "o3"',
        ]);
    });

    it("a host selector must be no domain's selector and no other host's (one DNS name, one record)", () => {
        expect(
            settingsProblems(
                raw([
                    { ...PRIMARY, selector: "20261127" },
                    { ...OUT, selector: "o1" },
                    { hostname: "out3.example.com", selector: "o2", previousSelectors: ["O1"] },
                ]),
            ),
        ).toEqual([
            'mailauth:hosts[0].selector: "20261127" is also a selector of example.com (mailauth:domains[].selector or previousSelectors); give the host a selector of its own',
            'mailauth:hosts[2].previousSelectors: "O1" is also a selector of mailauth:hosts[1] (DNS ignores case: one name, one record); give each host its own',
        ]);
    });

    it("a host selector whose record name would be over DNS's 253 characters in one of the domains", () => {
        const long = `${"a".repeat(47)}.${"b".repeat(47)}.${"c".repeat(47)}.${"d".repeat(47)}.example.com`;
        const sel = "s".repeat(63);
        const domains = [
            { name: "example.com", selector: "20261127" },
            { name: long, selector: "20261127" },
        ];
        expect(settingsProblems(raw([{ ...PRIMARY, selector: sel }], { domains, opendkim: { reportAddress: "postmaster@example.com" } }))).toEqual([
            `mailauth:hosts[0].selector: "${sel}" would give the record name ${sel}._domainkey.${long}, ${sel.length + 12 + long.length} characters, over DNS's 253`,
        ]);
        // At 253 characters exactly, it fits.
        expect(settingsProblems(raw([{ ...PRIMARY, selector: sel.slice(25) }], { domains, opendkim: { reportAddress: "postmaster@example.com" } }))).toEqual(
            [],
        );
    });

    it("refuses a host selector with a domain on a rotation calendar, naming both settings", () => {
        const problems = settingsProblems(raw([{ ...PRIMARY, selector: "p1" }], { rotation: { start: "2026-12-01", every: "90d" } }));
        expect(problems).toEqual([
            "mailauth:hosts[0].selector: set together with a rotation calendar (mailauth:rotation or mailauth:domains[i].rotation; example.com, example.org rotate on one): the calendar rotates the key every relay shares, and a host's own selector is rotated by hand; remove one of them",
        ]);
    });
});
