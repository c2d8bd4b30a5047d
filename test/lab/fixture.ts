/**
 * One lab for a test file: the cached root filesystem, the network, the DNS server, and helpers
 * to boot a pristine mail host with a fresh runner state, send mail and check it with tools
 * nobody here wrote (dkimverify, swaks, postfix, opendkim).
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll } from "vitest";
import { exampleConfig, runProgram, scriptOf } from "../harness";
import { commandLine } from "../../components/hostScripts";
import {
    DNS_ADDR,
    ensureRootfs,
    HOST_ADDR,
    inLab,
    LabDns,
    LabHost,
    labHostSpec,
    labIpv6,
    labKeys,
    LabKeys,
    LabPostfixRole,
    PERMITTED_ADDR,
    ptrName,
    setupNetwork,
    teardownNetwork,
    waitFor,
} from "./lab";
import { LabRunner } from "./runner";

export const DOMAINS = ["example.com", "example.org"];

/** The example stack, pointed at the lab: its host, its DNS server, its host key. */
export function labConfig(keys: LabKeys, patch: Record<string, unknown> = {}): Record<string, unknown> {
    const config = exampleConfig();
    config["mailauth:domains"] = DOMAINS.map((name, i) => ({
        name,
        zoneId: `${i}`.repeat(32),
        selector: "s1",
    }));
    config["mailauth:mx"] = { hostname: "mail.example.com", ipv4: HOST_ADDR };
    config["mailauth:spf"] = {};
    config["mailauth:opendkim"] = { nameservers: [DNS_ADDR] };
    config["mailauth:ssh"] = { host: HOST_ADDR, user: "root", hostKey: keys.hostKey };
    config["mailauth:ttl"] = 60;
    config["mailauth:testKey"] = { timeoutSeconds: 30 };
    return { ...config, ...patch };
}

/** How `Lab.freshHosts` boots each host: what its Postfix is before the stack, and a hook on its root. */
export interface LabHostOptions {
    postfix?: LabPostfixRole;
    /** An IPv6 address on the lab's links too (labIpv6: fd00:231::2, ::22, ...), its PTR published. */
    ipv6?: boolean;
    prepare?: (root: string) => void;
}

export class Lab {
    readonly dns = new LabDns();
    keys!: LabKeys;
    private rootfs = "";
    /** The first host (today's single host). */
    host?: LabHost;
    /** Every host booted by the last `fresh`/`freshHosts`, the first one first. */
    hosts: LabHost[] = [];
    runner!: LabRunner;
    private stateDir = "";

    async start(): Promise<void> {
        // The stack's own package step, as the program renders it.
        const probe = await runProgram(exampleConfig());
        const packages = probe.resources.find((r) => r.name === "mailhost-packages")!.inputs;
        // Its script travels on stdin (components/hostScripts.ts stdinCommandLine); the image build
        // runs it in a chroot with no stdin, so as the same script in one command line.
        this.rootfs = ensureRootfs(commandLine(scriptOf(packages.create, packages.stdin), "root"));
        this.keys = labKeys(this.rootfs);
        await setupNetwork();
        this.stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "mailauth-lab-state-"));
    }

    /** A pristine host, fresh zones and an empty runner state. */
    async fresh(prepare?: (root: string) => void): Promise<LabHost> {
        return (await this.freshHosts([{ prepare }]))[0];
    }

    /**
     * Pristine hosts, one per entry (labHostSpec: mail.example.com at 10.231.0.2 first, then
     * mail2.example.com at 10.231.0.22, ...), booted side by side, fresh zones and an empty
     * runner state. Each host's PTR is published as its provider would; its A record is the
     * stack's to publish (or the test's), as for the first host.
     */
    async freshHosts(hosts: LabHostOptions[] = [{}]): Promise<LabHost[]> {
        await this.stopHosts();
        await this.dns.start();
        // Sender domains for the inbound SPF checks.
        this.dns.set("soft.example.net", "TXT", 60, `"v=spf1 ip4:${PERMITTED_ADDR} ~all"`);
        this.dns.set("hard.example.net", "TXT", 60, `"v=spf1 ip4:${PERMITTED_ADDR} -all"`);
        // Each host's reverse DNS, as its provider would set it: forward-confirmed with the stack's A record.
        for (let i = 0; i < hosts.length; i++) {
            const spec = labHostSpec(i);
            this.dns.set(ptrName(spec.addr), "PTR", 60, `${spec.hostname}.`);
            if (hosts[i].ipv6) this.dns.set(ptrName(labIpv6(spec)), "PTR", 60, `${spec.hostname}.`);
        }
        this.hosts = hosts.map((h, i) => new LabHost(this.rootfs, this.keys, labHostSpec(i), h.postfix, h.ipv6));
        this.host = this.hosts[0];
        await Promise.all(this.hosts.map((h, i) => h.boot(hosts[i].prepare)));
        const statePath = path.join(this.stateDir, `${this.host.name}.json`);
        this.runner = new LabRunner(statePath, this.dns.batched, this.keys);
        return this.hosts;
    }

    private async stopHosts(): Promise<void> {
        // Before the first freshHosts, `host` may be the only one.
        const hosts = this.hosts.length > 0 ? this.hosts : this.host ? [this.host] : [];
        await Promise.all(hosts.map((h) => h.stop()));
        this.hosts = [];
    }

    async stop(): Promise<void> {
        await this.stopHosts();
        await this.dns.stop();
        teardownNetwork();
        if (this.stateDir) fs.rmSync(this.stateDir, { recursive: true, force: true });
    }

    config(patch: Record<string, unknown> = {}): Record<string, unknown> {
        return labConfig(this.keys, patch);
    }

    /** Submits a message on the host (sendmail) and returns it as delivered to root's mailbox. */
    async sendLocal(from: string, subject: string, host: LabHost = this.host!): Promise<string> {
        host.ssh(": > /var/mail/root");
        host.ssh(`/usr/sbin/sendmail -f ${from} root@localhost`, {
            input: `From: ${from}\nTo: root@localhost\nSubject: ${subject}\nDate: ${new Date().toUTCString()}\nMessage-ID: <${subject}.${Date.now()}@lab>\n\nHello from the lab.\nThis line is signed.\n`,
        });
        return this.delivered(subject, host);
    }

    /**
     * Sends a message from the runner side with swaks, from a given lab address, to root@example.com
     * at `server` (the first host's address by default); `mailbox`: the host whose root mailbox is
     * emptied first, where the message is to arrive (the first host by default).
     */
    swaks(from: string, sourceAddr: string, subject: string, opts: { server?: string; mailbox?: LabHost } = {}): string {
        (opts.mailbox ?? this.host!).ssh(": > /var/mail/root");
        return inLab(
            [
                "swaks",
                "--server",
                opts.server ?? HOST_ADDR,
                "--local-interface",
                sourceAddr,
                "--helo",
                "client.example.net",
                "--from",
                from,
                "--to",
                "root@example.com",
                "--header",
                `Subject: ${subject}`,
                "--timeout",
                "20",
            ],
            { allowFail: true, timeout: 60_000 },
        );
    }

    /** Waits for the message with this subject in root's mailbox and returns it, mbox line removed. */
    async delivered(subject: string, host: LabHost = this.host!): Promise<string> {
        let mbox = "";
        await waitFor(
            `delivery of "${subject}"`,
            () => {
                mbox = host.ssh("cat /var/mail/root 2>/dev/null || true");
                return mbox.includes(`Subject: ${subject}`);
            },
            30_000,
        );
        return mbox.replace(/^From [^\n]*\n/, "");
    }

    /** dkimverify (python3-dkim), resolving through the lab DNS only. */
    dkimverify(message: string): string {
        return inLab(["dkimverify"], { input: message, allowFail: true }).trim();
    }

    scriptOf(name: string, field = "create"): string {
        const inputs = this.runner.resources[name].inputs;
        return scriptOf(inputs[field], field === "create" ? inputs.stdin : undefined);
    }
}

/**
 * One lab for the calling test file: started before its first test (with a pristine host
 * first when `fresh` is set) and stopped after its last. Call it at the file's top level.
 */
export function useLab(options: { fresh?: boolean } = {}): Lab {
    const lab = new Lab();
    beforeAll(async () => {
        await lab.start();
        if (options.fresh) await lab.fresh();
    });
    afterAll(async () => {
        await lab.stop();
    });
    return lab;
}
