/**
 * A server already set up by hand, in part or whole (issue 8): the user followed the guide, a
 * distribution's README or another tutorial before running the stack. Each host is prepared
 * before boot, as that user left it; then `pulumi up`, mail counted (one SPF check, one DKIM
 * signature per message), `pulumi destroy`, and the host compared with what it was.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import { beforeAll, describe, expect, it } from "vitest";
import { useLab } from "./fixture";
import { DNS_ADDR, FORBIDDEN_ADDR, PERMITTED_ADDR, sh } from "./lab";

const lab = useLab();

const count = (message: string, header: string) => (message.match(new RegExp(`^${header}:`, "gim")) ?? []).length;

function dkimTag(message: string, tag: string): string | undefined {
    const header = message.match(/^DKIM-Signature:[^\n]*(?:\n[ \t][^\n]*)*/m)?.[0].replace(/\s+/g, "");
    return header?.match(new RegExp(`[;:]${tag}=([^;]+)`))?.[1];
}

/** What destroy must give back. */
function hostState(extraFiles: string[] = []): Record<string, string> {
    const h = lab.host!;
    return {
        postconf: h.ssh("postconf -n"),
        master: h.ssh("postconf -M"),
        files: h.ssh(`md5sum /etc/opendkim.conf ${extraFiles.join(" ")}`),
        groups: h.ssh("id -nG postfix"),
        opendkim: h.ssh("systemctl is-active opendkim; systemctl is-enabled opendkim", { allowFail: true }),
    };
}

/** The user installed the packages by hand: nothing on the host says the stack did. */
function installedByHand(root: string): void {
    fs.rmSync(`${root}/var/lib/mailauth`, { recursive: true, force: true });
}

function appendMainCf(root: string, lines: string[]): void {
    fs.appendFileSync(`${root}/etc/postfix/main.cf`, `${lines.join("\n")}\n`);
}

function appendMasterCf(root: string, entry: string): void {
    fs.appendFileSync(`${root}/etc/postfix/master.cf`, `${entry}\n`);
}

/** A user's DKIM key (1024 bits, as opendkim-genkey and Debian's README default to) and its record. */
function userKey(): { pem: string; record: string } {
    const { privateKey, publicKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 1024 });
    const pem = privateKey.export({ type: "pkcs1", format: "pem" }).toString();
    const p = publicKey.export({ type: "spki", format: "der" }).toString("base64");
    return { pem, record: `"v=DKIM1; k=rsa; p=${p}"` };
}

/** An opendkim.conf as a user writes it: the package's settings plus the user's lines. */
function userOpenDkimConf(lines: string[]): string {
    return [
        "Syslog yes",
        "SyslogSuccess yes",
        "UserID opendkim",
        "UMask 007",
        "PidFile /run/opendkim/opendkim.pid",
        // The lab's resolver (the user's host resolves through it, like the stack's config does).
        `Nameservers ${DNS_ADDR}`,
        ...lines,
        "",
    ].join("\n");
}

describe("an SPF policy service of the user's under another name, checked in smtpd_recipient_restrictions", () => {
    const RESTRICTIONS = "permit_mynetworks, reject_unauth_destination, check_policy_service unix:private/spfcheck";
    let before: Record<string, string>;
    beforeAll(async () => {
        await lab.fresh((root) => {
            installedByHand(root);
            appendMasterCf(root, "spfcheck  unix  -       n       n       -       0       spawn\n    user=policyd-spf argv=/usr/bin/policyd-spf");
            appendMainCf(root, [`smtpd_recipient_restrictions = ${RESTRICTIONS}`, "spfcheck_time_limit = 3600"]);
        });
        before = hostState();
        // The user's check works before the stack runs.
        lab.swaks("bob@soft.example.net", PERMITTED_ADDR, "spf-before");
        expect(count(await lab.delivered("spf-before"), "Received-SPF")).toBe(1);
    });

    it("after up, inbound mail is SPF-checked once, through the user's service, and outbound mail is signed once", async () => {
        await lab.runner.up(lab.config());
        lab.swaks("bob@soft.example.net", PERMITTED_ADDR, "spf-after-up");
        const inbound = await lab.delivered("spf-after-up");
        expect(count(inbound, "Received-SPF")).toBe(1);
        expect(inbound).toMatch(/^Received-SPF: Pass/m);
        expect(lab.swaks("bob@hard.example.net", FORBIDDEN_ADDR, "spf-fail")).toMatch(/^<\*\* 550 5\.7\.23 .*SPF fail/m);
        expect(lab.host!.ssh("postconf -h smtpd_recipient_restrictions").trim()).toBe(RESTRICTIONS);
        expect(lab.host!.ssh("postconf -M policyd-spf/unix 2>/dev/null | wc -l").trim()).toBe("0");
        const outbound = await lab.sendLocal("alice@example.com", "spf-case-out");
        expect(count(outbound, "DKIM-Signature")).toBe(1);
        expect(lab.dkimverify(outbound)).toBe("signature ok");
        expect((await lab.runner.up(lab.config())).commandsRun).toEqual([]);
    });

    it("destroy gives back postconf -n and postconf -M as they were", async () => {
        await lab.runner.destroy();
        expect(hostState()).toEqual(before);
    });
});

/** The OpenDKIM milter as tutorials spell it; each is the same OpenDKIM the stack takes over. */
const MILTER_SPELLINGS = [
    {
        name: "local:opendkim/opendkim.sock (a socket in Postfix's queue directory, as Ubuntu tutorials write it)",
        socket: "local:/var/spool/postfix/opendkim/opendkim.sock",
        socketDir: "/var/spool/postfix/opendkim",
        milter: "local:opendkim/opendkim.sock",
        stack: {},
        want: "unix:opendkim/opendkim.sock",
    },
    {
        name: "inet:localhost:8891 (the TCP socket of Debian's README), the stack on inet as on EL",
        socket: "inet:8891@localhost",
        socketDir: "",
        milter: "inet:localhost:8891",
        stack: { milterTransport: "inet" },
        want: "inet:127.0.0.1:8891",
    },
    {
        name: "unix:/run/opendkim/opendkim.sock (an absolute path inside smtpd's chroot)",
        socket: "local:/var/spool/postfix/run/opendkim/opendkim.sock",
        socketDir: "/var/spool/postfix/run/opendkim",
        milter: "unix:/run/opendkim/opendkim.sock",
        stack: {},
        want: "unix:opendkim/opendkim.sock",
    },
];

describe.each(MILTER_SPELLINGS)("an OpenDKIM milter already in smtpd_milters as $name", (c) => {
    const OTHER_MILTER = "inet:127.0.0.1:11332";
    let before: Record<string, string>;
    beforeAll(async () => {
        await lab.fresh((root) => {
            installedByHand(root);
            if (c.socketDir) {
                sh("chroot", [root, "install", "-d", "-o", "opendkim", "-g", "opendkim", "-m", "0750", c.socketDir]);
                sh("chroot", [root, "usermod", "-a", "-G", "opendkim", "postfix"]);
            }
            // Verify-only, with a header on every message: shows that Postfix reaches it.
            fs.writeFileSync(`${root}/etc/opendkim.conf`, userOpenDkimConf([`Socket ${c.socket}`, "AlwaysAddARHeader yes"]));
            // The user's other milter comes after OpenDKIM and must stay there.
            appendMainCf(root, [
                "milter_default_action = accept",
                "milter_protocol = 6",
                `smtpd_milters = ${c.milter}, ${OTHER_MILTER}`,
                "non_smtpd_milters = $smtpd_milters",
            ]);
        });
        before = hostState();
        expect(count(await lab.sendLocal("alice@example.com", "milter-before"), "Authentication-Results")).toBe(1);
    });

    it("after up, each message passes OpenDKIM once and is signed once; the user's other milter keeps its place", async () => {
        await lab.runner.up(lab.config({ "mailauth:opendkim": { nameservers: [DNS_ADDR], ...c.stack } }));
        const message = await lab.sendLocal("alice@example.com", "milter-spelling");
        expect({
            milters: lab.host!.ssh("postconf -h smtpd_milters").trim(),
            signatures: count(message, "DKIM-Signature"),
            verified: lab.dkimverify(message),
        }).toEqual({ milters: `${c.want}, ${OTHER_MILTER}`, signatures: 1, verified: "signature ok" });
    });

    it("destroy gives back the user's milter spelling, opendkim.conf and service state", async () => {
        await lab.runner.destroy();
        expect(hostState()).toEqual(before);
        // Postfix reaches the user's OpenDKIM again: it adds its header to every message.
        const message = await lab.sendLocal("alice@example.com", "milter-after-destroy");
        expect(count(message, "Authentication-Results")).toBe(1);
        expect(count(message, "DKIM-Signature")).toBe(0);
    });
});

describe("OpenDKIM set per service in master.cf (-o smtpd_milters=inet:localhost:12301, as Debian's README.Debian shows)", () => {
    let before: Record<string, string>;
    beforeAll(async () => {
        await lab.fresh((root) => {
            installedByHand(root);
            fs.writeFileSync(`${root}/etc/opendkim.conf`, userOpenDkimConf(["Socket inet:12301@localhost", "AlwaysAddARHeader yes"]));
            const master = fs.readFileSync(`${root}/etc/postfix/master.cf`, "utf8");
            const smtpd = /^smtp +inet .* smtpd$/m;
            expect(master).toMatch(smtpd);
            fs.writeFileSync(
                `${root}/etc/postfix/master.cf`,
                master.replace(smtpd, (line) => `${line}\n  -o smtpd_milters=inet:localhost:12301`),
            );
        });
        before = { ...hostState(), overrides: lab.host!.ssh("postconf -P") };
        lab.swaks("bob@soft.example.net", PERMITTED_ADDR, "override-before");
        expect(count(await lab.delivered("override-before"), "Authentication-Results")).toBe(1);
    });

    it("after up, mail through that service is signed once", async () => {
        await lab.runner.up(lab.config({ "mailauth:opendkim": { nameservers: [DNS_ADDR], trustedHosts: [PERMITTED_ADDR] } }));
        lab.swaks("alice@example.com", PERMITTED_ADDR, "override-signed");
        const message = await lab.delivered("override-signed");
        expect({
            override: lab.host!.ssh("postconf -P smtp/inet/smtpd_milters").trim(),
            signatures: count(message, "DKIM-Signature"),
            verified: lab.dkimverify(message),
        }).toEqual({ override: "smtp/inet/smtpd_milters = unix:opendkim/opendkim.sock", signatures: 1, verified: "signature ok" });
        expect((await lab.runner.up(lab.config({ "mailauth:opendkim": { nameservers: [DNS_ADDR], trustedHosts: [PERMITTED_ADDR] } }))).commandsRun).toEqual([]);
    });

    it("destroy gives back the service's own milter list", async () => {
        await lab.runner.destroy();
        expect({ ...hostState(), overrides: lab.host!.ssh("postconf -P") }).toEqual(before);
        lab.swaks("bob@soft.example.net", PERMITTED_ADDR, "override-after-destroy");
        expect(count(await lab.delivered("override-after-destroy"), "Authentication-Results")).toBe(1);
    });
});

describe("the whole guide done by hand, with a key for a domain the stack does not manage", () => {
    const net = userKey();
    const com = userKey();
    const TABLES = [
        "/etc/opendkim/KeyTable",
        "/etc/opendkim/SigningTable",
        "/etc/opendkim/TrustedHosts",
        "/etc/opendkim/keys/example.net/mail.private",
        "/etc/opendkim/keys/example.com/mail.private",
    ];
    let before: Record<string, string>;
    beforeAll(async () => {
        await lab.fresh((root) => {
            installedByHand(root);
            for (const [domain, key] of [
                ["example.net", net],
                ["example.com", com],
            ] as const) {
                fs.mkdirSync(`${root}/etc/opendkim/keys/${domain}`, { recursive: true });
                fs.writeFileSync(`${root}/etc/opendkim/keys/${domain}/mail.private`, key.pem, { mode: 0o600 });
            }
            sh("chroot", [root, "chown", "-R", "opendkim:opendkim", "/etc/opendkim/keys"]);
            // The guide's opendkim.conf (Mode sv, the four tables, OpenDKIM on 127.0.0.1:8891).
            fs.writeFileSync(
                `${root}/etc/opendkim.conf`,
                userOpenDkimConf([
                    "Mode sv",
                    "Canonicalization relaxed/simple",
                    "Socket inet:8891@localhost",
                    "ReportAddress postmaster@example.com",
                    "KeyTable /etc/opendkim/KeyTable",
                    "SigningTable refile:/etc/opendkim/SigningTable",
                    "ExternalIgnoreList refile:/etc/opendkim/TrustedHosts",
                    "InternalHosts refile:/etc/opendkim/TrustedHosts",
                ]),
            );
            fs.writeFileSync(
                `${root}/etc/opendkim/KeyTable`,
                "mail._domainkey.example.net example.net:mail:/etc/opendkim/keys/example.net/mail.private\n" +
                    "mail._domainkey.example.com example.com:mail:/etc/opendkim/keys/example.com/mail.private\n",
            );
            fs.writeFileSync(`${root}/etc/opendkim/SigningTable`, "*@example.net mail._domainkey.example.net\n*@example.com mail._domainkey.example.com\n");
            // A host on the user's LAN whose mail OpenDKIM signs.
            fs.writeFileSync(`${root}/etc/opendkim/TrustedHosts`, `127.0.0.1\n::1\n*.example.com\n${PERMITTED_ADDR}\n`);
            // Guide, step 2 and 4, exactly.
            appendMasterCf(root, "policyd-spf unix - n n - 0 spawn user=policyd-spf argv=/usr/bin/policyd-spf");
            appendMainCf(root, [
                "policyd-spf_time_limit = 3600",
                "smtpd_recipient_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination, check_policy_service unix:private/policyd-spf",
                "milter_default_action = accept",
                "milter_protocol = 6",
                "smtpd_milters = inet:127.0.0.1:8891",
                "non_smtpd_milters = $smtpd_milters",
            ]);
        });
        lab.dns.set("mail._domainkey.example.net", "TXT", 60, net.record);
        lab.dns.set("mail._domainkey.example.com", "TXT", 60, com.record);
        before = hostState(TABLES);
        const message = await lab.sendLocal("alice@example.net", "guide-before");
        expect(dkimTag(message, "d")).toBe("example.net");
    });

    it("after up, the other domain's key still signs, once; the stack's domain is signed once with the stack's key", async () => {
        const report = await lab.runner.up(lab.config());
        expect(report.outputs.testKey).toEqual({ "example.com": "key OK", "example.org": "key OK" });
        const other = await lab.sendLocal("alice@example.net", "guide-other-domain");
        expect(count(other, "DKIM-Signature")).toBe(1);
        expect([dkimTag(other, "d"), dkimTag(other, "s")]).toEqual(["example.net", "mail"]);
        expect(lab.dkimverify(other)).toBe("signature ok");
        const managed = await lab.sendLocal("alice@example.com", "guide-managed-domain");
        expect(count(managed, "DKIM-Signature")).toBe(1);
        expect([dkimTag(managed, "d"), dkimTag(managed, "s")]).toEqual(["example.com", "s1"]);
        expect(lab.dkimverify(managed)).toBe("signature ok");
    });

    it("mail from the user's trusted LAN host is still signed, and inbound mail is SPF-checked once", async () => {
        lab.swaks("alice@example.net", PERMITTED_ADDR, "guide-lan-host");
        const lan = await lab.delivered("guide-lan-host");
        expect(count(lan, "DKIM-Signature")).toBe(1);
        expect(dkimTag(lan, "d")).toBe("example.net");
        lab.swaks("bob@soft.example.net", PERMITTED_ADDR, "guide-spf");
        expect(count(await lab.delivered("guide-spf"), "Received-SPF")).toBe(1);
        expect((await lab.runner.up(lab.config())).commandsRun).toEqual([]);
    });

    it("destroy gives back the user's opendkim.conf, tables, Postfix settings, and signing with the user's keys", async () => {
        await lab.runner.destroy();
        expect(hostState(TABLES)).toEqual(before);
        for (const d of ["example.net", "example.com"]) {
            const message = await lab.sendLocal(`alice@${d}`, `guide-after-destroy-${d}`);
            expect(count(message, "DKIM-Signature")).toBe(1);
            expect([dkimTag(message, "d"), dkimTag(message, "s")]).toEqual([d, "mail"]);
            expect(lab.dkimverify(message)).toBe("signature ok");
        }
    });
});

describe("OpenDKIM's socket set on its command line (Debian's opendkim.service.generate from /etc/default/opendkim)", () => {
    it("stops before any change, saying why, and mail flows as before", async () => {
        await lab.fresh((root) => {
            installedByHand(root);
            fs.mkdirSync(`${root}/etc/systemd/system/opendkim.service.d`, { recursive: true });
            fs.writeFileSync(
                `${root}/etc/systemd/system/opendkim.service.d/override.conf`,
                // What the generator writes from /etc/default/opendkim's SOCKET (Debian's default there).
                "[Service]\nExecStart=\nExecStart=/usr/sbin/opendkim -P /run/opendkim/opendkim.pid -p local:/run/opendkim/opendkim.sock\n",
            );
        });
        const state = () => ({ ...hostState(), pid: lab.host!.ssh("systemctl show -p MainPID opendkim") });
        const before = state();
        await expect(lab.runner.up(lab.config())).rejects.toThrow(
            /OpenDKIM's service starts it as '\/usr\/sbin\/opendkim -P \/run\/opendkim\/opendkim\.pid -p local:\/run\/opendkim\/opendkim\.sock': its -p \(socket\) or -x \(configuration file\) overrides \/etc\/opendkim\.conf.*OpenDKIM and Postfix were not changed\./,
        );
        expect(state()).toEqual(before);
        expect(await lab.sendLocal("alice@example.com", "command-line-socket")).toContain("Subject: command-line-socket");
    });
});
