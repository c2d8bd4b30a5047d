/**
 * The lab's N hosts (issue 21): two pristine hosts boot side by side, each in its own network
 * namespace with its own address, name, PTR, sshd and SSH host key, on the lab's network and no
 * other; the runner reaches each over its own connections; mail from the second host reaches the
 * first Postfix to Postfix on port 25, signed by the second's OpenDKIM and checked by the first's
 * policyd-spf. Two single-host stacks here, one per host (the stack's own `mailauth:hosts` is
 * test/lab/hosts.test.ts): this proves the lab, not the several-hosts program.
 */
import * as path from "path";
import * as os from "os";
import * as fs from "fs";
import { beforeAll, describe, expect, it } from "vitest";
import { useLab } from "./fixture";
import { DNS_ADDR, HOST_ADDR, inLab, LabHost, labHostSpec, NETNS, ptrName } from "./lab";
import { LabRunner } from "./runner";

const lab = useLab();
let hosts: LabHost[];
beforeAll(async () => {
    hosts = await lab.freshHosts([{}, { postfix: "relay" }]);
});

/** The second host's own stack: example.net, its MX mail2.example.com, its SSH at its own address. */
function secondConfig(): Record<string, unknown> {
    const second = hosts[1];
    return lab.config({
        "mailauth:domains": [{ name: "example.net", zoneId: "2".repeat(32), selector: "s1" }],
        // Its name lies outside its domain: its A record is its DNS host's (set by the mail test), not the stack's.
        "mailauth:mx": { hostname: second.hostname },
        "mailauth:ssh": { host: second.addr, user: "root", hostKey: second.hostKey },
    });
}

describe("two lab hosts", () => {
    it("each boots with its own address, name and SSH host key, and answers SSH at its address", () => {
        expect(hosts.map((h) => [h.addr, h.hostname])).toEqual([
            [HOST_ADDR, "mail.example.com"],
            ["10.231.0.22", "mail2.example.com"],
        ]);
        expect(hosts[1].spec.netns).not.toBe(NETNS);
        for (const h of hosts) {
            expect(h.ssh("hostname").trim()).toBe(h.hostname.split(".")[0]);
            expect(h.ssh("postconf -h myhostname").trim()).toBe(h.hostname);
            expect(h.ssh("cut -d' ' -f1,2 /etc/ssh/ssh_host_ed25519_key.pub").trim()).toBe(h.hostKey);
        }
        expect(hosts[1].hostKey).not.toBe(hosts[0].hostKey);
        // The second host holds its own address only (and loopback).
        expect(hosts[1].ssh("ip -4 -o addr show | awk '{print $4}'").trim().split("\n")).toEqual(["127.0.0.1/8", "10.231.0.22/24"]);
    });

    it("nothing routes off the lab; each host and the lab DNS resolve only through knot, which serves each host's PTR", () => {
        for (const h of hosts) {
            expect(h.ssh("ip route show").trim(), h.hostname).not.toMatch(/default/);
            expect(h.ssh("ip route get 192.0.2.1 2>&1 || true").trim(), h.hostname).toMatch(/unreachable/);
            expect(h.ssh("cat /etc/resolv.conf").trim()).toBe(`nameserver ${DNS_ADDR}`);
            expect(lab.dns.query(ptrName(h.addr), "PTR")).toBe(`${h.hostname}.`);
        }
        expect(inLab(["ip", "route", "show"])).not.toMatch(/default/);
        // The hosts reach each other and knot by address, over the lab's links.
        expect(
            hosts[1].ssh(`ping -c1 -W2 ${HOST_ADDR} >/dev/null 2>&1 && echo ok || timeout 3 bash -c 'exec 3<>/dev/tcp/${HOST_ADDR}/25' && echo ok`).trim(),
        ).toBe("ok");
    });

    it("the runner converges each host over its own connections, OpenDKIM on each resolving through the lab DNS", async () => {
        const first = await lab.runner.up(lab.config());
        expect(first.outputs.testKey).toEqual({ "example.com": "key OK", "example.org": "key OK" });
        expect(Object.keys(lab.runner.sessionsByHost)).toEqual([HOST_ADDR]);

        const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "mailauth-lab-second-"));
        const runner2 = new LabRunner(path.join(stateDir, "state.json"), lab.dns.batched, lab.keys);
        const second = await runner2.up(secondConfig());
        expect(second.outputs.testKey).toEqual({ "example.net": "key OK" });
        expect(Object.keys(runner2.sessionsByHost)).toEqual([hosts[1].addr]);
        // pulumi-command holds one client per command: as many as the host's commands ran.
        expect(runner2.sessionsByHost[hosts[1].addr]).toBe(second.commandsRun.length);
        for (const h of hosts) expect(h.ssh("grep -i '^Nameservers' /etc/opendkim.conf").trim().split(/\s+/), h.hostname).toEqual(["Nameservers", DNS_ADDR]);
    });

    it("mail from the second host reaches the first over the lab network, Postfix to Postfix on port 25, signed and SPF-checked", async () => {
        // The second host's name, as its user's DNS holds it (its stack's MX target lies outside its domain).
        lab.dns.set(hosts[1].hostname, "A", 60, hosts[1].addr);
        const subject = `from-second-${Date.now()}`;
        hosts[0].ssh(": > /var/mail/root");
        hosts[1].ssh("/usr/sbin/sendmail -f alice@example.net root@example.com", {
            input: `From: alice@example.net\nTo: root@example.com\nSubject: ${subject}\nDate: ${new Date().toUTCString()}\nMessage-ID: <${subject}@lab>\n\nHello from mail2.\n`,
        });
        const message = await lab.delivered(subject, hosts[0]);
        expect(message).toMatch(/^Received: from mail2\.example\.com \(mail2\.example\.com \[10\.231\.0\.22\]\)\s+by mail\.example\.com/m);
        expect(message).toMatch(/^Received-SPF: Pass \(mailfrom\) identity=mailfrom; client-ip=10\.231\.0\.22;/m);
        expect(message).toMatch(/^DKIM-Signature:[^]*?d=example\.net;/m);
        expect(lab.dkimverify(message)).toBe("signature ok");
        // The second host sent it to the first host's address on port 25, and keeps nothing queued.
        expect(hosts[1].ssh("journalctl -q --no-pager -t postfix/smtp").trim()).toMatch(/relay=mail\.example\.com\[10\.231\.0\.2\]:25, .*status=sent/);
        expect(hosts[1].ssh("postqueue -p").trim()).toBe("Mail queue is empty");
    });

    it("each host's own mail is signed by its own key and verifies", async () => {
        expect(lab.dkimverify(await lab.sendLocal("alice@example.com", `own-1-${Date.now()}`, hosts[0]))).toBe("signature ok");
        expect(lab.dkimverify(await lab.sendLocal("alice@example.net", `own-2-${Date.now()}`, hosts[1]))).toBe("signature ok");
    });
});

it("labHostSpec numbers the hosts and refuses what the lab cannot boot", () => {
    expect(labHostSpec(2)).toEqual({ index: 2, addr: "10.231.0.23", hostname: "mail3.example.com", netns: `${NETNS}-h3` });
    expect(() => labHostSpec(20)).toThrow(/hosts 0 to 19/);
});
