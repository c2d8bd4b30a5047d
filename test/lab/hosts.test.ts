/**
 * Issue 21 on the lab: one stack, several mail hosts (`mailauth:hosts`, HOSTS-SPEC.md). Two lab
 * hosts: mail.example.com (10.231.0.2), the primary MX that signs, and mail2.example.com
 * (10.231.0.22), first a backup MX (`relay: false`) and then a second relay. Mail from each signing
 * host is checked by dkimverify (dkimpy), inbound mail through the backup by both policyd-spf
 * agents; then the second host's sshd is stopped in the middle of a run: the first host converges,
 * the run names the second host's steps, and the next run finishes the second host alone.
 *
 * Written against the settings of branches s6-hosts and s6-roles: without them the program refuses
 * mailauth:hosts and every test here fails (none is skipped).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { DOMAINS, useLab } from "./fixture";
import { DNS_ADDR, LabHost, PERMITTED_ADDR } from "./lab";
import { FailedSteps, LabRunner, opensshExec, RemoteDial, UpReport } from "./runner";

const lab = useLab();
let hosts: LabHost[];
beforeAll(async () => {
    // The second host's Postfix before the stack: a backup MX for both domains (relay_domains).
    hosts = await lab.freshHosts([{}, { postfix: "backup" }]);
});

/** One stack over the lab's hosts: mailauth:hosts in place of mailauth:ssh and mailauth:mx. */
function hostsConfig(entries: Record<string, unknown>[], patch: Record<string, unknown> = {}): Record<string, unknown> {
    const config = lab.config(patch);
    delete config["mailauth:ssh"];
    delete config["mailauth:mx"];
    config["mailauth:hosts"] = entries;
    return config;
}
const primary = () => ({ hostname: hosts[0].hostname, ipv4: hosts[0].addr, mx: 10, sshHostKey: hosts[0].hostKey });
const second = (relay: boolean) => ({ hostname: hosts[1].hostname, ipv4: hosts[1].addr, mx: 20, relay, sshHostKey: hosts[1].hostKey });
/** Rotation to s2, s1 still published and listed as previous: every signing host's keys and OpenDKIM change. */
const ROTATED = {
    "mailauth:domains": DOMAINS.map((name, i) => ({ name, zoneId: `${i}`.repeat(32), selector: "s2", previousSelectors: ["s1"] })),
};

/** A host's MailHost steps (its component is `mailhost-<hostname>`, each step `<component>-<step>`). */
const stepsOf = (names: string[], host: LabHost) => names.filter((n) => n.startsWith(`mailhost-${host.hostname}-`));

function dkimTag(message: string, tag: string): string | undefined {
    const header = message.match(/^DKIM-Signature:[^\n]*(?:\n[ \t][^\n]*)*/m)?.[0].replace(/\s+/g, "");
    return header?.match(new RegExp(`[;:]${tag}=([^;]+)`))?.[1];
}

/** Mail submitted on `host` for its own root, as delivered: its DKIM selector and dkimverify's verdict. */
async function signedOn(host: LabHost, domain: string, subject: string): Promise<{ selector?: string; verdict: string }> {
    const message = await lab.sendLocal(`alice@${domain}`, `${subject}-${Date.now()}`, host);
    return { selector: dkimTag(message, "s"), verdict: lab.dkimverify(message) };
}

describe("one stack, two hosts: the primary signing MX and a backup MX (relay: false)", () => {
    let report: UpReport;
    it("a fresh up converges both hosts, each over its own SSH connections", async () => {
        report = await lab.runner.up(hostsConfig([primary(), second(false)]));
        const [a, b] = [stepsOf(report.commandsRun, hosts[0]), stepsOf(report.commandsRun, hosts[1])];
        expect(a.length + b.length).toBe(report.commandsRun.length);
        expect(a).toContain(`mailhost-${hosts[0].hostname}-keys`);
        // The backup gets the SPF agent and Postfix's policy service, no key and no OpenDKIM.
        expect(b).toContain(`mailhost-${hosts[1].hostname}-postfix`);
        expect(b.filter((n) => /-(keys|opendkim|testkey|keys-retire)$/.test(n))).toEqual([]);
        expect(Object.keys(lab.runner.sessionsByHost).sort()).toEqual([hosts[0].addr, hosts[1].addr].sort());
        expect(lab.runner.sessionsByHost[hosts[0].addr]).toBe(a.length);
        expect(lab.runner.sessionsByHost[hosts[1].addr]).toBe(b.length);
        // The key test runs on the signing host only, per host then per domain.
        expect(report.outputs.testKey).toEqual({ [hosts[0].hostname]: Object.fromEntries(DOMAINS.map((d) => [d, "key OK"])) });
    });

    it("publishes an MX per host with its priority and the A record of each host in the zone", () => {
        for (const domain of DOMAINS) {
            expect(lab.dns.query(domain, "MX").split("\n").sort(), domain).toEqual([`10 ${hosts[0].hostname}.`, `20 ${hosts[1].hostname}.`]);
        }
        for (const h of hosts) expect(lab.dns.query(h.hostname, "A"), h.hostname).toBe(h.addr);
    });

    it("the backup holds no key and no milter; the primary skips the backup's address in its SPF agent", () => {
        expect(hosts[1].ssh("ls -A /etc/opendkim/keys 2>/dev/null | wc -l").trim()).toBe("0");
        expect(hosts[1].ssh("postconf -h smtpd_milters non_smtpd_milters").trim()).toBe("");
        expect(hosts[1].ssh("postconf -M policyd-spf/unix").trim()).toMatch(/argv=\/usr\/bin\/policyd-spf$/);
        expect(hosts[0].ssh("grep -E '^skip_addresses' /etc/postfix-policyd-spf-python/policyd-spf.conf").trim()).toContain(hosts[1].addr);
        for (const h of hosts) expect(h.ssh("postfix check 2>&1; echo rc=$?").trim(), h.hostname).toBe("rc=0");
    });

    it("mail from the signing host verifies with dkimverify", async () => {
        for (const domain of DOMAINS) expect(await signedOn(hosts[0], domain, `primary-${domain}`)).toEqual({ selector: "s1", verdict: "signature ok" });
    });

    it("inbound mail through the backup reaches the primary: the backup's SPF check counts, the primary lets its forwarded mail through", async () => {
        // hard.example.net permits only 10.231.0.10 (-all): checked again at the primary, the
        // backup's forwarded copy would be refused (550); the primary skips the backup's address.
        const subject = `via-backup-${Date.now()}`;
        const out = lab.swaks("bob@hard.example.net", PERMITTED_ADDR, subject, { server: hosts[1].addr, mailbox: hosts[0] });
        expect(out).toMatch(/250 2\.0\.0 Ok: queued/);
        const message = await lab.delivered(subject, hosts[0]);
        const spf = message.match(/^Received-SPF: .*$/gm) ?? [];
        expect(spf).toHaveLength(1);
        expect(spf[0]).toMatch(/^Received-SPF: Pass \(mailfrom\) identity=mailfrom; client-ip=10\.231\.0\.10;/);
        expect(message).toMatch(/^Received: from mail2\.example\.com \(mail2\.example\.com \[10\.231\.0\.22\]\)\s+by mail\.example\.com/m);
    });
});

describe("the backup becomes a second relay", () => {
    it("gets the same keys and signs; mail from each signing host verifies with dkimverify", async () => {
        const report = await lab.runner.up(hostsConfig([primary(), second(true)]));
        expect(stepsOf(report.commandsRun, hosts[1])).toEqual(
            expect.arrayContaining([`mailhost-${hosts[1].hostname}-keys`, `mailhost-${hosts[1].hostname}-opendkim`]),
        );
        expect(report.outputs.testKey).toEqual(Object.fromEntries(hosts.map((h) => [h.hostname, Object.fromEntries(DOMAINS.map((d) => [d, "key OK"]))])));
        // One key per domain, generated once and installed on each host.
        const digest = (h: LabHost) => h.ssh("md5sum /etc/opendkim/keys/*/s1.private | cut -d' ' -f1").trim();
        expect(digest(hosts[1])).toBe(digest(hosts[0]));
        for (const h of hosts) {
            expect(h.ssh("grep -i '^Nameservers' /etc/opendkim.conf").trim().split(/\s+/), h.hostname).toEqual(["Nameservers", DNS_ADDR]);
            for (const domain of DOMAINS)
                expect(await signedOn(h, domain, `relay-${domain}`), `${h.hostname} ${domain}`).toEqual({ selector: "s1", verdict: "signature ok" });
        }
    });
});

describe("one host down in the middle of a run", () => {
    const down = () => hosts[1];
    let failure: FailedSteps;
    it("its sshd stopped mid-run: the other host converges, and the run names the down host's steps", async () => {
        // The lab's SSH, with the second host's sshd stopped once its first command of the run is
        // done: its held client stays (as the provider's would), every later dial is refused.
        const base = opensshExec(lab.keys);
        let stopped = false;
        const dial: RemoteDial = async (connection) => {
            const client = await base.dial(connection);
            if (connection.host !== down().addr) return client;
            return {
                exec: async (script, stdin) => {
                    const result = await client.exec(script, stdin);
                    if (!stopped) {
                        stopped = true;
                        down().enter("systemctl stop ssh.socket ssh.service 2>/dev/null; systemctl stop ssh");
                    }
                    return result;
                },
                close: () => client.close(),
            };
        };
        const runner = new LabRunner(lab.runner.statePath, lab.dns.batched, lab.keys, { dial });
        // `pulumi up --continue-on-error`: without it the engine stops every step at the first
        // failure, the other host's too (see test/lab/runner.ts).
        const error = await runner.up(hostsConfig([primary(), second(true)], ROTATED), { continueOnError: true }).catch((e) => e);
        expect(stopped).toBe(true);
        expect(error).toBeInstanceOf(FailedSteps);
        failure = error as FailedSteps;
        const failedNames = failure.failed.map((f) => f.name);
        expect(failedNames.length).toBeGreaterThan(0);
        expect(stepsOf(failedNames, down())).toEqual(failedNames);
        expect(failure.message).toContain(down().addr);
        // The first host's steps all ran: it signs with s2, its key test passes.
        const ran = stepsOf(failure.report.commandsRun, hosts[0]);
        expect(ran).toEqual(expect.arrayContaining([`mailhost-${hosts[0].hostname}-opendkim`, `mailhost-${hosts[0].hostname}-testkey`]));
        expect(runner.resources[`mailhost-${hosts[0].hostname}-testkey`].outputs.stdout).toMatch(/s2 key OK/);
        for (const domain of DOMAINS) expect(await signedOn(hosts[0], domain, `converged-${domain}`)).toEqual({ selector: "s2", verdict: "signature ok" });
        // The down host still signs with s1 (its OpenDKIM step did not run), which is still published.
        expect(down().enter("grep -v '^#' /etc/opendkim/SigningTable")).toMatch(/s1\._domainkey/);
    });

    it("the next run, its sshd back, finishes the down host alone", async () => {
        down().enter("systemctl start ssh");
        await new Promise((r) => setTimeout(r, 500));
        // A new runner from the state the interrupted run left (lab.runner's copy in memory is older).
        const runner = new LabRunner(lab.runner.statePath, lab.dns.batched, lab.keys);
        const report = await runner.up(hostsConfig([primary(), second(true)], ROTATED));
        expect(report.commandsRun.length).toBeGreaterThan(0);
        expect(stepsOf(report.commandsRun, down())).toEqual(report.commandsRun);
        expect(report.outputs.testKey).toEqual(Object.fromEntries(hosts.map((h) => [h.hostname, Object.fromEntries(DOMAINS.map((d) => [d, "key OK"]))])));
        for (const domain of DOMAINS) expect(await signedOn(down(), domain, `finished-${domain}`)).toEqual({ selector: "s2", verdict: "signature ok" });
    });
});
