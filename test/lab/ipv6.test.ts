/**
 * IPv6 on the lab (issue 21: A/AAAA per host, SPF covering every sending host). Two hosts with an
 * IPv6 address each on the lab's own links (a unique local /64, LAB6_PREFIX: fd00:231::2 and
 * fd00:231::22; nothing routes it off the lab): mail.example.com, the MX, and mail2.example.com, a
 * relay that is no MX, each given mailauth:hosts[i].ipv6. The stack publishes their AAAA records
 * and the relay's `ip6:` in the domains' SPF; the relay sends a message to the MX, over IPv6 (its
 * Postfix told to prefer it: `smtp_address_preference = ipv6`, Postfix's default `any` picks either
 * family, `postconf -d` on both releases' images), and the MX's policyd-spf passes it from the
 * relay's IPv6 address, dkimverify verifies it. Then the relay becomes a second MX: its `ip6:`
 * leaves the SPF record, `mx` covers it through its AAAA (pyspf, an independent checker, says
 * pass for its IPv6 address), and the MX's policyd-spf skips its IPv6 address as it does the IPv4 one.
 */
import * as fs from "fs";
import { beforeAll, describe, expect, it } from "vitest";
import { DOMAINS, useLab } from "./fixture";
import { DNS_ADDR, inLab, LabHost, labIpv6, ptrName } from "./lab";
import type { CheckItem } from "../../components/check";

const lab = useLab();
let hosts: LabHost[];
const v6 = (h: LabHost) => labIpv6(h.spec);
beforeAll(async () => {
    hosts = await lab.freshHosts([
        { ipv6: true },
        {
            postfix: "relay",
            ipv6: true,
            // The relay's own choice, before the stack: to the MX over IPv6 when it has an AAAA.
            prepare: (root) => fs.appendFileSync(`${root}/etc/postfix/main.cf`, "smtp_address_preference = ipv6\n"),
        },
    ]);
});

/** The two hosts in mailauth:hosts; `secondIpv6: false` leaves the relay's ipv6 out of the stack. */
function hostsConfig(opts: { secondMx?: number; secondIpv6?: boolean } = {}): Record<string, unknown> {
    const config = lab.config();
    delete config["mailauth:ssh"];
    delete config["mailauth:mx"];
    config["mailauth:hosts"] = [
        { hostname: hosts[0].hostname, ipv4: hosts[0].addr, ipv6: v6(hosts[0]), mx: 10, sshHostKey: hosts[0].hostKey },
        {
            hostname: hosts[1].hostname,
            ipv4: hosts[1].addr,
            ...(opts.secondIpv6 === false ? {} : { ipv6: v6(hosts[1]) }),
            sshHostKey: hosts[1].hostKey,
            ...(opts.secondMx === undefined ? {} : { mx: opts.secondMx }),
        },
    ];
    return config;
}

/** pyspf's (python3-spf) verdict on a client address and sender, resolving through the lab DNS only. */
const pyspf = (ip: string, sender: string, helo: string) =>
    inLab(["/usr/bin/python3", "-c", "import spf,sys; print(spf.check2(i=sys.argv[1], s=sys.argv[2], h=sys.argv[3])[0])", ip, sender, helo], {
        allowFail: true,
    }).trim();

/** The SPF record of a domain as the lab DNS serves it, quotes removed. */
const spfOf = (domain: string) =>
    lab.dns
        .query(domain, "TXT")
        .split("\n")
        .map((l) => l.replace(/"/g, ""))
        .find((l) => l.startsWith("v=spf1")) ?? "";

/** Mail from the relay (sendmail on it) to root@example.com, as the MX delivered it. */
async function fromRelay(subject: string): Promise<string> {
    hosts[0].ssh(": > /var/mail/root");
    hosts[1].ssh("/usr/sbin/sendmail -f alice@example.com root@example.com", {
        input: `From: alice@example.com\nTo: root@example.com\nSubject: ${subject}\nDate: ${new Date().toUTCString()}\nMessage-ID: <${subject}@lab>\n\nHello over IPv6.\n`,
    });
    return lab.delivered(subject, hosts[0]);
}

describe("the lab's IPv6 links", () => {
    it("each host holds its unique local address; no IPv6 route leaves the lab; the relay reaches the MX's port 25 over IPv6", () => {
        expect(hosts.map(v6)).toEqual(["fd00:231::2", "fd00:231::22"]);
        expect(hosts[1].ssh("ip -6 -o addr show scope global | awk '{print $4}'").trim()).toBe("fd00:231::22/128");
        for (const h of hosts) {
            expect(h.ssh("ip -6 route show").trim(), h.hostname).not.toMatch(/default/);
            expect(h.ssh("ip -6 route get 2001:db8::1 2>&1 || true").trim(), h.hostname).toMatch(/unreachable/);
            expect(lab.dns.query(ptrName(v6(h)), "PTR"), h.hostname).toBe(`${h.hostname}.`);
        }
        expect(inLab(["ip", "-6", "route", "show"])).not.toMatch(/default/);
        expect(hosts[1].ssh(`timeout 5 bash -c 'exec 3<>/dev/tcp/${v6(hosts[0])}/25; head -c 3 <&3'`).trim()).toBe("220");
    });
});

describe("a relay with an IPv6 address, no MX", () => {
    it("without its ipv6 in the stack, SPF does not cover its IPv6 address (pyspf), only its IPv4 one", async () => {
        await lab.runner.up(hostsConfig({ secondIpv6: false }));
        expect(spfOf("example.com")).not.toContain("ip6:");
        expect(pyspf(hosts[1].addr, "alice@example.com", hosts[1].hostname)).toBe("pass");
        expect(pyspf(v6(hosts[1]), "alice@example.com", hosts[1].hostname)).not.toBe("pass");
    });

    it("the stack publishes each host's AAAA and the relay's ip6: in the SPF record; its check, against the lab DNS, passes from every address", async () => {
        const report = await lab.runner.up({ ...hostsConfig(), "mailauth:check": { enabled: true, resolvers: [DNS_ADDR] } });
        const check = report.outputs.check as Record<string, CheckItem[]>;
        for (const domain of DOMAINS) {
            expect(
                check[domain].filter((i) => i.status !== "pass").map((i) => `${i.check}: ${i.status}: ${i.reason}`),
                domain,
            ).toEqual([]);
        }
        // Reverse DNS and SPF from each host's IPv6 address too (the PTRs in the lab's ip6.arpa zone).
        const checks = Object.values(check)
            .flat()
            .map((i) => i.check);
        for (const h of hosts) expect(checks, h.hostname).toEqual(expect.arrayContaining([`spf mail-from ${v6(h)}`, `spf helo ${v6(h)}`, `fcrdns ${v6(h)}`]));
        expect(report.outputs.testKey).toEqual(Object.fromEntries(hosts.map((h) => [h.hostname, Object.fromEntries(DOMAINS.map((d) => [d, "key OK"]))])));
        for (const h of hosts) expect(lab.dns.query(h.hostname, "AAAA"), h.hostname).toBe(v6(h));
        for (const domain of DOMAINS)
            expect(spfOf(domain).split(" "), domain).toEqual(expect.arrayContaining(["mx", `ip4:${hosts[1].addr}`, `ip6:${v6(hosts[1])}`]));
    });

    it("its mail reaches the MX over IPv6 and passes SPF from its IPv6 address (ip6:); dkimverify verifies it", async () => {
        const message = await fromRelay(`over-ipv6-${Date.now()}`);
        expect(message).toMatch(/^Received: from mail2\.example\.com \(mail2\.example\.com \[(IPv6:)?fd00:231::22\]\)\s+by mail\.example\.com/m);
        const spf = message.match(/^Received-SPF: .*$/gm) ?? [];
        expect(spf).toHaveLength(1);
        expect(spf[0]).toMatch(/^Received-SPF: Pass \(mailfrom\) identity=mailfrom; client-ip=fd00:231::22;/);
        expect(message).toMatch(/^DKIM-Signature:[^]*?d=example\.com;/m);
        expect(lab.dkimverify(message)).toBe("signature ok");
        expect(hosts[1].ssh("journalctl -q --no-pager -t postfix/smtp").trim()).toMatch(/relay=mail\.example\.com\[fd00:231::2\]:25, .*status=sent/);
    });
});

describe("the relay becomes a second MX", () => {
    it("its ip6: leaves the SPF record, mx covers its IPv6 address through its AAAA, and the MX's policyd-spf skips it", async () => {
        await lab.runner.up(hostsConfig({ secondMx: 20 }));
        for (const domain of DOMAINS) {
            expect(lab.dns.query(domain, "MX").split("\n").sort(), domain).toEqual([`10 ${hosts[0].hostname}.`, `20 ${hosts[1].hostname}.`]);
            expect(spfOf(domain), domain).not.toMatch(/ip[46]:/);
            // pyspf (python3-spf), resolving through the lab DNS: RFC 7208 5.4 mx, the MX names' AAAA for an IPv6 client.
            expect(pyspf(v6(hosts[1]), `alice@${domain}`, hosts[1].hostname), domain).toBe("pass");
        }
        const skip = hosts[0].ssh("grep -E '^skip_addresses' /etc/postfix-policyd-spf-python/policyd-spf.conf").trim();
        expect(skip).toContain(hosts[1].addr);
        expect(skip).toContain(v6(hosts[1]));
        // Its mail still arrives over IPv6, signed, with no SPF verdict of the MX (the relay is skipped).
        const message = await fromRelay(`as-mx-${Date.now()}`);
        expect(message).toMatch(/\[(IPv6:)?fd00:231::22\]\)\s+by mail\.example\.com/);
        expect(message).not.toMatch(/^Received-SPF: (?!None)/m);
        expect(lab.dkimverify(message)).toBe("signature ok");
    });
});
