/**
 * Several mail hosts in one stack (issue 21, mailauth:hosts): the records per host, the SPF record
 * covering the relays, one MailHost per host with its own connection and role, the identity of a
 * stack moving from mailauth:ssh + mx to the list (aliases, as the engine resolves them:
 * test/harness.ts stateMatches), and every bad entry named at once. Runs the program (index.ts)
 * under Pulumi's mocks, as the other unit tests.
 */
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DnsServer, startDnsServer, Zone } from "../dns-server";
import { checkPublished, ptrName } from "../../components/check";
import { checkInput } from "../../components/check/output";
import { runConfigSet, shellWords, StackConfig } from "../cli";
import { ROOT, exampleConfig, programError, Registered, reveal, Run, runProgram, stateMatches } from "../harness";
import { exampleRawSettings, settingsProblems } from "../settings-problems";
import { validateSettings } from "../../components/settings";
import { hostPlans } from "../../components/hosts";
import { unquoteTxt } from "../../components/records/txt";

const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
const PRIMARY = { hostname: "mail.example.com", ipv4: "192.0.2.25", mx: 10, sshHostKey: HOST_KEY };
const BACKUP = { hostname: "backup.example.org", ipv4: "198.51.100.7", ipv6: "2001:DB8::7", mx: 20, relay: false, sshHostKey: HOST_KEY };

/** The example stack with `hosts` in place of ssh and mx's host fields (mx.publish, heloSpf stay global). */
function withHosts(hosts: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> {
    const c = exampleConfig();
    delete c["mailauth:ssh"];
    delete c["mailauth:mx"];
    return { ...c, "mailauth:hosts": hosts, ...extra };
}

const records = (run: Run) => run.resources.filter((r) => r.type === "cloudflare:index/dnsRecord:DnsRecord");
const record = (run: Run, name: string) => records(run).find((r) => r.name === name);
const components = (run: Run) => run.resources.filter((r) => r.type === "mailauth:host:MailHost");
const stepsOf = (run: Run, host: Registered) => run.resources.filter((r) => r.type === "command:remote:Command" && r.parent === host.urn);
/** Every input of a host's steps but the connection (which holds the SSH key), secrets opened. */
const stepText = (run: Run, host: Registered) =>
    JSON.stringify(stepsOf(run, host).map(({ inputs: { connection, ...rest } }) => (void connection, reveal(rest))));
const spfOf = (run: Run, domain: string) => unquoteTxt(record(run, `${domain}-spf`)!.inputs.content);

describe("two hosts: a primary signing MX and a backup MX (relay false)", () => {
    let run: Run;
    beforeAll(async () => {
        run = await runProgram(withHosts([PRIMARY, BACKUP]));
    });

    it("publishes MX for each MX host in every domain, with its priority; A/AAAA and HELO SPF in the zone that holds each name", () => {
        const shown = records(run)
            .map(
                (r) =>
                    `${r.name} ${r.inputs.type} ${r.inputs.name} ${unquoteTxt(String(r.inputs.content))}${r.inputs.priority !== undefined ? ` ${r.inputs.priority}` : ""}`,
            )
            .filter((l) => / (MX|A|AAAA) /.test(l) || /-mx-spf/.test(l))
            .sort();
        expect(shown).toEqual(
            [
                "example.com-mx-mail.example.com MX example.com mail.example.com 10",
                "example.com-mx-backup.example.org MX example.com backup.example.org 20",
                "example.org-mx-mail.example.com MX example.org mail.example.com 10",
                "example.org-mx-backup.example.org MX example.org backup.example.org 20",
                "example.com-mx-a-mail.example.com A mail.example.com 192.0.2.25",
                "example.com-mx-spf-mail.example.com TXT mail.example.com v=spf1 a -all",
                "example.org-mx-a-backup.example.org A backup.example.org 198.51.100.7",
                "example.org-mx-aaaa-backup.example.org AAAA backup.example.org 2001:db8::7",
                "example.org-mx-spf-backup.example.org TXT backup.example.org v=spf1 a -all",
            ].sort(),
        );
        // Each in its own zone.
        expect(record(run, "example.org-mx-a-backup.example.org")!.inputs.zoneId).toBe("fedcba9876543210fedcba9876543210");
        expect(record(run, "example.com-mx-a-mail.example.com")!.inputs.zoneId).toBe("0123456789abcdef0123456789abcdef");
    });

    it("SPF: both are MX hosts, covered by mx; no term is added", () => {
        expect(spfOf(run, "example.com")).toBe("v=spf1 mx ip4:192.0.2.25 ~all");
        expect(spfOf(run, "example.org")).toBe("v=spf1 mx ip4:192.0.2.25 ~all");
    });

    it("makes one MailHost per host, each step connecting to its own host; the backup gets no private key", () => {
        // Registered in parallel: in no fixed order.
        expect(
            components(run)
                .map((c) => c.name)
                .sort(),
        ).toEqual(["mailhost-backup.example.org", "mailhost-mail.example.com"]);
        const primary = components(run).find((c) => c.name === "mailhost-mail.example.com")!;
        const backup = components(run).find((c) => c.name === "mailhost-backup.example.org")!;
        for (const [host, address] of [
            [primary, "192.0.2.25"],
            [backup, "198.51.100.7"],
        ] as const) {
            const steps = stepsOf(run, host);
            // The backup signs nothing: packages (the SPF agent alone), its skip_addresses (the primary's
            // address) and Postfix's policy service (test/unit/host-roles.test.ts).
            if (host === backup) expect(steps.map((s) => s.name.slice(host.name.length + 1)).sort()).toEqual(["packages", "policyd-spf", "postfix"]);
            else expect(steps.length).toBeGreaterThan(3);
            for (const s of steps) {
                expect(s.name.startsWith(`${host.name}-`), s.name).toBe(true);
                expect(reveal(s.inputs.connection)).toMatchObject({ host: address, port: 22, user: "root", hostKey: HOST_KEY });
            }
        }
        // The DKIM keys (PEM) reach the primary's steps only.
        expect(stepText(run, primary).includes("-----BEGIN RSA PRIVATE KEY-----")).toBe(true);
        expect(stepText(run, backup).includes("-----BEGIN RSA PRIVATE KEY-----")).toBe(false);
        // In parallel: no host step waits on another host's.
        for (const s of stepsOf(run, backup)) for (const d of s.dependencies) expect(d.includes("mailhost-mail.example.com"), `${s.name} -> ${d}`).toBe(false);
        for (const s of stepsOf(run, primary))
            for (const d of s.dependencies) expect(d.includes("mailhost-backup.example.org"), `${s.name} -> ${d}`).toBe(false);
    });

    it("gives MailHost sign per relay and the other MX hosts' addresses as skipAddresses", () => {
        const settings = validateSettings(exampleRawSettings({ ssh: undefined, mx: undefined, hosts: [PRIMARY, BACKUP] }));
        const plans = hostPlans(settings);
        expect(plans.map((p) => [p.host.id, p.sign, p.skipAddresses])).toEqual([
            ["mailhost-mail.example.com", true, ["198.51.100.7", "2001:db8::7"]],
            ["mailhost-backup.example.org", false, ["192.0.2.25"]],
        ]);
        expect(plans.map((p) => p.aliases)).toEqual([[{ name: "mailhost" }], []]);
        // The one host of ssh+mx: no alias, no skipAddresses of its own.
        const legacy = hostPlans(validateSettings(exampleRawSettings()));
        expect(legacy.map((p) => [p.host.id, p.sign, p.skipAddresses, p.aliases])).toEqual([["mailhost", true, [], []]]);
    });

    it("exports the key test per signing host, then per domain", () => {
        expect(run.outputs.testKey).toEqual({ "mail.example.com": { "example.com": "key OK", "example.org": "key OK" } });
    });
});

describe("five hosts: two MX (one a backup) and three relays that are no MX", () => {
    const RELAYS = [
        { hostname: "out1.example.com", ipv4: "203.0.113.5" },
        { hostname: "out2.example.net", ipv6: "2001:db8:5::5" },
        { hostname: "out3.example.net" },
    ];
    let run: Run;
    beforeAll(async () => {
        run = await runProgram(withHosts([PRIMARY, BACKUP, ...RELAYS]));
    });

    it("SPF: mx, then each relay by its addresses (no lookup) or by a: when it has none, then the mechanisms", () => {
        expect(spfOf(run, "example.com")).toBe("v=spf1 mx ip4:203.0.113.5 ip6:2001:db8:5::5 a:out3.example.net ip4:192.0.2.25 ~all");
        expect(spfOf(run, "example.org")).toBe(spfOf(run, "example.com"));
    });

    it("MX only for the MX hosts; A and HELO SPF for a relay in a domain's zone; nothing for names in no zone", () => {
        const mx = records(run).filter((r) => r.inputs.type === "MX" && r.inputs.name === "example.com");
        expect(mx.map((r) => `${r.inputs.content} ${r.inputs.priority}`).sort()).toEqual(["backup.example.org 20", "mail.example.com 10"]);
        expect(record(run, "example.com-mx-a-out1.example.com")!.inputs).toMatchObject({ name: "out1.example.com", type: "A", content: "203.0.113.5" });
        expect(unquoteTxt(record(run, "example.com-mx-spf-out1.example.com")!.inputs.content)).toBe("v=spf1 a -all");
        expect(records(run).filter((r) => String(r.inputs.name).endsWith("example.net"))).toEqual([]);
    });

    it("makes five MailHosts; the four relays get the keys, the backup none", () => {
        const names = [
            "mailhost-mail.example.com",
            "mailhost-backup.example.org",
            "mailhost-out1.example.com",
            "mailhost-out2.example.net",
            "mailhost-out3.example.net",
        ];
        expect(
            components(run)
                .map((c) => c.name)
                .sort(),
        ).toEqual([...names].sort());
        const keyed = names.map((n) =>
            JSON.stringify(
                stepsOf(
                    run,
                    components(run).find((c) => c.name === n)!,
                ).map((s) => reveal(s.inputs)),
            ).includes("-----BEGIN RSA PRIVATE KEY-----"),
        );
        expect(keyed).toEqual([true, false, true, true, true]);
        // sshHost defaults to ipv4, else the host name (an IPv6 address alone is not taken).
        const hostOf = (name: string) =>
            reveal(
                stepsOf(
                    run,
                    components(run).find((c) => c.name === name)!,
                )[0].inputs.connection,
            ).host;
        expect(["mailhost-out1.example.com", "mailhost-out2.example.net", "mailhost-out3.example.net"].map(hostOf)).toEqual([
            "203.0.113.5",
            "out2.example.net",
            "out3.example.net",
        ]);
        expect(Object.keys(run.outputs.testKey as object).sort()).toEqual(["mail.example.com", "out1.example.com", "out2.example.net", "out3.example.net"]);
    });

    it("refuses a record over 10 DNS lookups that the relays' a: terms cause, naming mailauth:hosts and the fix", async () => {
        const includes = ["include:_spf.a.example", "include:_spf.b.example", "include:_spf.c.example", "include:_spf.d.example"];
        const many = [1, 2, 3, 4, 5, 6].map((i) => ({ hostname: `out${i}.example.net` }));
        const hosts = [PRIMARY, ...many];
        const problems = settingsProblems(exampleRawSettings({ ssh: undefined, mx: undefined, hosts, spf: { mechanisms: includes } }));
        expect(problems).toEqual([
            "mailauth:hosts: with the relay hosts that are no MX (a:out1.example.net a:out2.example.net a:out3.example.net a:out4.example.net a:out5.example.net a:out6.example.net, one DNS lookup each, having no ipv4/ipv6), the SPF record would need 11 DNS lookups (mx, a, include, exists each count); SPF allows at most 10, receivers return permerror above that. Give those hosts their addresses (ipv4/ipv6: ip4:/ip6: terms cost none), or drop lookup terms from mailauth:spf.mechanisms",
        ]);
        // One fewer: 10 lookups, accepted; with addresses, none for the relays.
        expect(settingsProblems(exampleRawSettings({ ssh: undefined, mx: undefined, hosts: hosts.slice(0, -1), spf: { mechanisms: includes } }))).toEqual([]);
        const addressed = hosts.map((h, i) => (i === 0 ? h : { ...h, ipv4: `203.0.113.${i}` }));
        expect(settingsProblems(exampleRawSettings({ ssh: undefined, mx: undefined, hosts: addressed, spf: { mechanisms: includes } }))).toEqual([]);
        // Through the program: nothing is made.
        expect(await programError(withHosts(hosts, { "mailauth:spf": { mechanisms: includes } }))).toContain("the SPF record would need 11 DNS lookups");
    });
});

describe("moving a stack from mailauth:ssh + mx to mailauth:hosts", () => {
    let legacy: Run;
    beforeAll(async () => {
        legacy = await runProgram(exampleConfig());
    });

    it("the first host of the list takes over every resource of the one host: its steps by the inherited alias, its records by theirs", async () => {
        const moved = await runProgram(withHosts([PRIMARY, BACKUP]));
        const state = legacy.resources.map((r) => r.urn);
        const matches = stateMatches(state, moved.resources);
        const taken = new Set(matches.values());
        // Nothing of the old state is left to delete: no host step's delete runs on the host, no record is made again.
        expect(state.filter((u) => !taken.has(u))).toEqual([]);
        const urnOf = (name: string) => moved.resources.find((r) => r.name === name)!.urn;
        const legacyUrn = (name: string) => legacy.resources.find((r) => r.name === name)!.urn;
        expect(matches.get(urnOf("mailhost-mail.example.com"))).toBe(legacyUrn("mailhost"));
        for (const step of stepsOf(
            legacy,
            legacy.resources.find((r) => r.name === "mailhost")!,
        )) {
            const now = `mailhost-mail.example.com${step.name.slice("mailhost".length)}`;
            expect(matches.get(urnOf(now)), now).toBe(step.urn);
        }
        for (const id of ["mx", "mx-a", "mx-spf"]) expect(matches.get(urnOf(`example.com-${id}-mail.example.com`))).toBe(legacyUrn(`example.com-${id}`));
        expect(matches.get(urnOf("example.org-mx-mail.example.com"))).toBe(legacyUrn("example.org-mx"));
        // The backup is new: nothing of the state is its.
        for (const s of stepsOf(
            moved,
            moved.resources.find((r) => r.name === "mailhost-backup.example.org")!,
        ))
            expect(matches.has(s.urn)).toBe(false);
    });

    it("the alias goes with the first host: with the old host second, the backup's steps would take over the old host's state", async () => {
        const moved = await runProgram(withHosts([BACKUP, PRIMARY]));
        const state = legacy.resources.map((r) => r.urn);
        const matches = stateMatches(state, moved.resources);
        const urnOf = (name: string) => moved.resources.find((r) => r.name === name)!.urn;
        const legacyUrn = (name: string) => legacy.resources.find((r) => r.name === name)!.urn;
        // What docs/several-hosts.md warns of: the old host's steps become the backup's (their deletes never run on the old host).
        expect(matches.get(urnOf("mailhost-backup.example.org-packages"))).toBe(legacyUrn("mailhost-packages"));
        expect(matches.has(urnOf("mailhost-mail.example.com-packages"))).toBe(false);
        // The old host's A record is not the backup's: deleted, and made again under its new name.
        const taken = new Set(matches.values());
        expect(taken.has(legacyUrn("example.com-mx-a"))).toBe(false);
    });

    it("the stack without hosts keeps its names: mailhost and its steps, <domain>-mx, no alias", () => {
        expect(components(legacy).map((c) => [c.name, c.aliases])).toEqual([["mailhost", []]]);
        expect(record(legacy, "example.com-mx")!.inputs).toMatchObject({ content: "mail.example.com", priority: 10 });
        expect(spfOf(legacy, "example.com")).toBe("v=spf1 mx ip4:192.0.2.25 ~all");
    });
});

describe("mailauth:hosts, refused", () => {
    const raw = (hosts: unknown, patch: Record<string, unknown> = {}) => exampleRawSettings({ ssh: undefined, mx: undefined, hosts, ...patch });

    it("names every bad entry at once, each field as mailauth:hosts[i].field, with what is allowed", () => {
        const problems = settingsProblems(
            raw(
                [
                    { ipv4: "192.0.2.30", mx: 10 },
                    { hostname: "mx2.example.com", ipv4: "300.1.1.1", mx: 70000 },
                    { hostname: "mx3.example.com", relay: "yes", sshHostKey: "", sshUser: "Root!" },
                    { hostname: "mx4.example.com", bogus: 1, ipv6: "fe80::1" },
                    "mx5.example.com",
                ],
                { ssh: { host: "192.0.2.25" }, mx: { hostname: "mail.example.com", publish: true } },
            ),
        );
        expect(problems).toEqual([
            "mailauth:hosts[0].hostname: required, not set",
            "mailauth:hosts[1].mx: must be a whole number from 0 to 65535, got 70000",
            'mailauth:hosts[1].ipv4: "300.1.1.1" is not an IPv4 address',
            'mailauth:hosts[2].relay: must be true or false, got "yes"',
            "mailauth:hosts[2].sshHostKey: is empty (did ssh-keyscan find nothing? check its -p PORT and -t ed25519,ecdsa); set the server's key, or remove the setting to connect without checking it: pulumi config rm --path 'mailauth:hosts[2].sshHostKey'",
            'mailauth:hosts[2].sshUser: "Root!" is not a Unix user name',
            "mailauth:hosts[3].bogus: unknown setting; allowed here: hostname, ipv4, ipv6, mx, relay, selector, previousSelectors, sshHost, sshPort, sshUser, sshHostKey",
            'mailauth:hosts[3].ipv6: "fe80::1" is an interface-local (link-local or zoned) address, useless in DNS; give the server\'s global IPv6 address',
            "mailauth:hosts[4]: must be an object with hostname, ipv4, ipv6, mx, relay, selector, previousSelectors, sshHost, sshPort, sshUser, sshHostKey, got \"mx5.example.com\"; set its fields with pulumi config set --path 'mailauth:hosts[4].hostname' VALUE",
            "mailauth:mx.hostname: set together with mailauth:hosts, which replaces it (each host has its own hostname, mx priority and ipv4/ipv6; mx.publish and mx.heloSpf stay); remove it: pulumi config rm --path 'mailauth:mx.hostname'",
            "mailauth:ssh: set together with mailauth:hosts, which replaces it (each host's sshHost, sshPort, sshUser, sshHostKey); remove it: pulumi config rm mailauth:ssh",
        ]);
    });

    it("needs an MX host and a relay; a host listed once; not a list", () => {
        expect(settingsProblems(raw([{ hostname: "out.example.com" }]))).toEqual([
            "mailauth:hosts: no host receives mail: give at least one its MX priority, e.g. pulumi config set --path 'mailauth:hosts[0].mx' 10",
        ]);
        expect(settingsProblems(raw([{ hostname: "mx.example.com", mx: 10, relay: false }]))).toEqual([
            "mailauth:hosts: no host sends the domains' mail (every one has relay false): at least one must sign and send, e.g. pulumi config set --path 'mailauth:hosts[0].relay' true",
        ]);
        expect(settingsProblems(raw([PRIMARY, { ...BACKUP, hostname: "Mail.Example.com." }]))).toEqual([
            'mailauth:hosts: "mail.example.com" is listed twice (mailauth:hosts[0].hostname, mailauth:hosts[1].hostname; names are compared without case and trailing dot): one entry per host',
        ]);
        expect(settingsProblems(raw([PRIMARY, { hostname: "a-mail.example.com" }]))).toEqual([
            "mailauth:hosts[1].hostname: a-mail.example.com and mail.example.com (mailauth:hosts[0]) would give two records one resource name (mx-a-mail.example.com); rename one of the hosts",
        ]);
        expect(settingsProblems(raw("mail.example.com"))[0]).toMatch(
            /^mailauth:hosts: must be a list of \{hostname, ipv4, ipv6, mx, relay, selector, previousSelectors, sshHost, sshPort, sshUser, sshHostKey\}, got \"mail.example.com\"/,
        );
    });

    it("a name of mailauth:noMail that is a host is refused naming the host's entry", () => {
        expect(settingsProblems(raw([PRIMARY, BACKUP], { noMail: ["backup.example.org"] }))).toEqual([
            "mailauth:noMail[0]: backup.example.org is a mail host (mailauth:hosts[1].hostname): it sends mail or bounces under that name (the HELO check, RFC 7208 2.3); remove it from mailauth:noMail (pulumi config rm --path 'mailauth:noMail[0]')",
        ]);
    });

    it("through the program: stops before any resource, with the CLI's Pulumi.yaml defaults (mx and ssh {})", async () => {
        const message = await programError(withHosts([{ hostname: "mail.example.com" }], { "mailauth:ssh": { host: "192.0.2.25" } }));
        expect(message).toContain("- mailauth:hosts: no host receives mail");
        expect(message).toContain("- mailauth:ssh: set together with mailauth:hosts");
    });
});

describe("docs/several-hosts.md, as written", () => {
    const doc = fs.readFileSync(path.join(ROOT, "docs/several-hosts.md"), "utf8");
    const block = (lang: string) => doc.match(new RegExp("```" + lang + "\\n([\\s\\S]*?)```"))![1];

    it("its stack file example, in place of ssh and mx, publishes what the text says", async () => {
        const config = withHosts((yaml.load(block("yaml")) as Record<string, unknown[]>)["mailauth:hosts"]);
        const run = await runProgram(config);
        const shown = (r: Registered) =>
            `${r.inputs.type} ${r.inputs.name} ${r.inputs.priority ?? ""} ${unquoteTxt(String(r.inputs.content))}`.replace(/ +/g, " ");
        for (const domain of ["example.com", "example.org"]) {
            const at = records(run).filter((r) => r.inputs.name === domain);
            expect(at.map(shown).sort()).toEqual(
                [
                    `MX ${domain} 10 mail.example.com`,
                    `MX ${domain} 20 backup.example.org`,
                    `TXT ${domain} v=spf1 mx ip4:203.0.113.5 ip4:192.0.2.25 ~all`,
                ].sort(),
            );
            expect(doc).toContain("`v=spf1 mx ip4:203.0.113.5 ip4:192.0.2.25 ~all`");
        }
        const hostRecords = (zone: string) =>
            records(run)
                .filter((r) => r.inputs.zoneId === zone && /^(mail|out|backup)\./.test(r.inputs.name))
                .map(shown)
                .sort();
        expect(hostRecords("0123456789abcdef0123456789abcdef")).toEqual(
            [
                "A mail.example.com 192.0.2.25",
                "TXT mail.example.com v=spf1 a -all",
                "A out.example.com 203.0.113.5",
                "TXT out.example.com v=spf1 a -all",
            ].sort(),
        );
        expect(hostRecords("fedcba9876543210fedcba9876543210")).toEqual(["A backup.example.org 198.51.100.7", "TXT backup.example.org v=spf1 a -all"]);
        expect(
            components(run)
                .map((c) => c.name)
                .sort(),
        ).toEqual(["mailhost-backup.example.org", "mailhost-mail.example.com", "mailhost-out.example.com"]);
        expect(Object.keys(run.outputs.testKey as object).sort()).toEqual(["mail.example.com", "out.example.com"]);
    });

    it("its commands, run on the example stack, give the first two hosts of the example", async () => {
        const stack: StackConfig = { values: structuredClone(exampleConfig()), secret: new Set() };
        for (const raw of block("bash").split("\n")) {
            const line = raw.replace(/\s+#.*$/, "").trim();
            if (!line) continue;
            const { words } = shellWords(line, () => "");
            if (words[2] === "rm") {
                const key = words[words.length - 1];
                if (words.includes("--path")) {
                    const [section, field] = key.split(".");
                    const v = { ...(stack.values[section] as Record<string, unknown>) };
                    delete v[field];
                    stack.values[section] = v;
                } else delete stack.values[key];
                continue;
            }
            runConfigSet(stack, words, undefined);
        }
        // The comment's "and mx.priority, mx.ipv4 where set": the example sets both.
        const mx = { ...(stack.values["mailauth:mx"] as Record<string, unknown>) };
        expect(await programError(stack.values)).toContain("mailauth:mx.priority: set together with mailauth:hosts");
        delete mx.priority;
        delete mx.ipv4;
        stack.values["mailauth:mx"] = mx;
        const run = await runProgram(stack.values);
        expect(
            components(run)
                .map((c) => c.name)
                .sort(),
        ).toEqual(["mailhost-backup.example.org", "mailhost-mail.example.com"]);
        expect(record(run, "example.com-mx-backup.example.org")!.inputs).toMatchObject({ content: "backup.example.org", priority: 20 });
    });
});

describe("the check with several hosts (components/check CheckDomain.hosts)", () => {
    const MAIL = "mail.example.com";
    const BACKUP_HOST = "backup.example.org";
    const OUT = "out.example.com";
    // A DKIM public key as the record carries it (base64); the check compares it as text.
    const KEY = Buffer.from("not a real key, compared as text").toString("base64");
    const zone = (): Zone => ({
        "example.com": {
            MX: [
                { priority: 10, exchange: MAIL },
                { priority: 20, exchange: BACKUP_HOST },
            ],
            TXT: ["v=spf1 mx ip4:203.0.113.5 ~all"],
        },
        [MAIL]: { A: ["192.0.2.25"], TXT: ["v=spf1 a -all"] },
        [BACKUP_HOST]: { A: ["198.51.100.7"], TXT: ["v=spf1 a -all"] },
        [OUT]: { A: ["203.0.113.5"], TXT: ["v=spf1 a -all"] },
        "_dmarc.example.com": { TXT: ["v=DMARC1; p=none; rua=mailto:dmarc@example.com"] },
        // The selector the relays sign with (the check's "dkim signing" item asks for it).
        "s1._domainkey.example.com": { TXT: [`v=DKIM1; k=rsa; p=${KEY}`] },
        [ptrName("192.0.2.25")]: { PTR: [MAIL] },
        [ptrName("198.51.100.7")]: { PTR: [BACKUP_HOST] },
        [ptrName("203.0.113.5")]: { PTR: [OUT] },
    });
    let server: DnsServer;
    beforeAll(async () => {
        server = await startDnsServer();
    });
    afterAll(() => server.close());
    const check = async (z: Zone) => {
        server.zone = z;
        const settings = validateSettings(
            exampleRawSettings({
                domains: [{ name: "example.com", selector: "s1" }],
                ssh: undefined,
                mx: undefined,
                spf: undefined,
                hosts: [
                    { hostname: MAIL, ipv4: "192.0.2.25", mx: 10 },
                    { hostname: BACKUP_HOST, ipv4: "198.51.100.7", mx: 20, relay: false },
                    { hostname: OUT, ipv4: "203.0.113.5" },
                ],
                check: { resolvers: [server.address] },
            }),
        );
        const input = checkInput(settings, { "example.com": [{ selector: "s1", publicKey: KEY }] });
        return (await checkPublished({ ...input, timeoutMs: 1000 }))["example.com"];
    };

    it("checks SPF (MAIL FROM and HELO) and reverse DNS from every host's address, the MX per MX host", async () => {
        const items = await check(zone());
        expect(items.filter((i) => i.status !== "pass").map((i) => `${i.check}: ${i.reason}`)).toEqual([]);
        expect(items.map((i) => i.check)).toEqual([
            "spf record example.com",
            "dkim s1",
            "dkim signing s1",
            "dmarc",
            `spf record ${MAIL}`,
            "spf mail-from 192.0.2.25",
            "spf helo 192.0.2.25",
            `mx ${MAIL}`,
            "fcrdns 192.0.2.25",
            `spf record ${BACKUP_HOST}`,
            "spf mail-from 198.51.100.7",
            "spf helo 198.51.100.7",
            `mx ${BACKUP_HOST}`,
            "fcrdns 198.51.100.7",
            `spf record ${OUT}`,
            "spf mail-from 203.0.113.5",
            "spf helo 203.0.113.5",
            "fcrdns 203.0.113.5",
        ]);
    });

    it("names the host that fails: a backup missing from MX (and so from SPF's mx), a relay's wrong PTR", async () => {
        const z = zone();
        z["example.com"].MX = [{ priority: 10, exchange: MAIL }];
        z[ptrName("203.0.113.5")] = { PTR: ["host.provider.example"] };
        const failing = (await check(z)).filter((i) => i.status === "fail").map((i) => `${i.check}: ${i.reason}`);
        expect(failing).toEqual([
            // No longer an MX, the backup is no longer covered by the record's mx either.
            "spf mail-from 198.51.100.7: SPF softfail for postmaster@example.com from 198.51.100.7 (1 of 10 DNS lookups, 0 of 2 void): domain of transitioning postmaster@example.com does not designate 198.51.100.7 as permitted sender",
            `mx ${BACKUP_HOST}: MX of example.com is ${MAIL}, not ${BACKUP_HOST}`,
            "fcrdns 203.0.113.5: PTR of 203.0.113.5 is host.provider.example, not out.example.com: receivers such as Gmail and Outlook reject or junk such mail",
        ]);
    });
});
