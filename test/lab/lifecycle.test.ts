import { beforeAll, describe, expect, it } from "vitest";
import { DOMAINS, useLab } from "./fixture";
import { sh } from "./lab";

const lab = useLab();

const USER_RESTRICTIONS = "permit_mynetworks, reject_unknown_recipient_domain, reject_unauth_destination, reject_non_fqdn_recipient, permit";
const USER_MILTER = "inet:127.0.0.1:11332";

/** What destroy must give back: Postfix's explicit settings, master.cf, OpenDKIM's config and state. */
function hostConfig(): Record<string, string> {
    const h = lab.host!;
    return {
        postconf: h.ssh("postconf -n"),
        master: h.ssh("postconf -M"),
        opendkimConf: h.ssh("md5sum /etc/opendkim.conf"),
        groups: h.ssh("id -nG postfix"),
    };
}

describe("scenarios 6 and 7: a host with its own settings, then destroy", () => {
    let before: Record<string, string>;
    beforeAll(async () => {
        await lab.fresh((root) => {
            // The user's own restrictions and milter, which must survive in order.
            const fs = require("fs") as typeof import("fs");
            // A socket directory of the user's own, as the usual Debian recipe makes it.
            sh("chroot", [root, "install", "-d", "-o", "opendkim", "-g", "opendkim", "-m", "0750", "/var/spool/postfix/opendkim"]);
            fs.appendFileSync(
                `${root}/etc/postfix/main.cf`,
                `smtpd_recipient_restrictions = ${USER_RESTRICTIONS}\nsmtpd_milters = ${USER_MILTER}\nmilter_default_action = accept\n`,
            );
        });
        before = hostConfig();
        expect(lab.host!.ssh("systemctl is-active opendkim").trim()).toBe("active");
    });

    it("keeps the user's restrictions in order with the policy check right after reject_unauth_destination", async () => {
        await lab.runner.up(lab.config());
        expect(lab.host!.ssh("postconf -h smtpd_recipient_restrictions").trim()).toBe(
            "permit_mynetworks, reject_unknown_recipient_domain, reject_unauth_destination, check_policy_service unix:private/policyd-spf, reject_non_fqdn_recipient, permit",
        );
        expect(lab.host!.ssh("postconf -h smtpd_milters").trim()).toBe(`${USER_MILTER}, unix:opendkim/opendkim.sock`);
        const message = await lab.sendLocal("alice@example.org", "own-settings");
        expect(lab.dkimverify(message)).toBe("signature ok");
    });

    it("destroy puts back every setting, master.cf and opendkim.conf, stops OpenDKIM, and mail still flows unsigned", async () => {
        const ops = await lab.runner.destroy();
        expect(ops.map((o) => o.name)).toEqual(expect.arrayContaining(["mailhost-postfix", "mailhost-opendkim", "mailhost-packages"]));
        // Dependents first: Postfix lets go of the milter before OpenDKIM stops.
        const names = ops.map((o) => o.name);
        expect(names.indexOf("mailhost-postfix")).toBeLessThan(names.indexOf("mailhost-opendkim"));
        expect(names.indexOf("mailhost-opendkim")).toBeLessThan(names.indexOf("mailhost-keys"));
        expect(hostConfig()).toEqual(before);
        // The stack installed OpenDKIM: destroy leaves it stopped and disabled.
        expect(lab.host!.ssh("systemctl is-active opendkim; systemctl is-enabled opendkim", { allowFail: true }).trim()).toBe("inactive\ndisabled");
        expect(lab.host!.ssh("ls /etc/opendkim/keys 2>/dev/null | wc -l").trim()).toBe("0");
        expect(lab.host!.ssh("test -d /var/spool/postfix/opendkim && echo kept").trim()).toBe("kept");
        for (const d of DOMAINS) expect(lab.dns.query(`s1._domainkey.${d}`, "TXT")).toBe("");
        const message = await lab.sendLocal("alice@example.com", "after-destroy");
        expect(message).not.toMatch(/^DKIM-Signature:/m);
    });
});

describe("scenario 8: faults", () => {
    beforeAll(async () => {
        await lab.fresh();
        await lab.runner.up(lab.config());
    });

    it("OpenDKIM stopped: mail is still accepted and delivered (unsigned)", async () => {
        lab.host!.ssh("systemctl stop opendkim");
        const message = await lab.sendLocal("alice@example.com", "milter-down");
        expect(message).not.toMatch(/^DKIM-Signature:/m);
        lab.host!.ssh("systemctl start opendkim");
    });

    it("a change that fails validation leaves the old configuration in force, and mail still flows signed", async () => {
        const before = lab.host!.ssh("md5sum /etc/opendkim.conf /etc/opendkim/*Table /etc/opendkim/TrustedHosts; systemctl show -p MainPID opendkim");
        // Someone removed a key file by hand; the next change must not put OpenDKIM on a broken set.
        lab.host!.ssh("mv /etc/opendkim/keys/example.org/s1.private /root/s1.private");
        const changed = lab.config({ "mailauth:opendkim": { nameservers: ["10.231.0.53"], trustedHosts: ["10.231.0.0/24"] } });
        await expect(lab.runner.up(changed)).rejects.toThrow(
            /key file \/etc\/opendkim\/keys\/example\.org\/s1\.private is missing; the old configuration stays in force/,
        );
        expect(lab.host!.ssh("md5sum /etc/opendkim.conf /etc/opendkim/*Table /etc/opendkim/TrustedHosts; systemctl show -p MainPID opendkim")).toBe(before);
        const message = await lab.sendLocal("alice@example.com", "after-failed-change");
        expect(lab.dkimverify(message)).toBe("signature ok");
        // Once the key is back, the same change goes through.
        lab.host!.ssh("mv /root/s1.private /etc/opendkim/keys/example.org/s1.private");
        const report = await lab.runner.up(changed);
        expect(report.commandsRun).toEqual(["mailhost-opendkim"]);
        expect(lab.host!.ssh("tail -n 1 /etc/opendkim/TrustedHosts").trim()).toBe("10.231.0.0/24");
    });

    it("the SSH connection cut in the middle of a run: the next run converges", async () => {
        // Moving OpenDKIM to inet touches both OpenDKIM and Postfix; cut SSH while Postfix's step runs.
        const change = lab.config({ "mailauth:opendkim": { nameservers: ["10.231.0.53"], trustedHosts: ["10.231.0.0/24"], milterTransport: "inet" } });
        const run = lab.runner.up(change);
        let cut = false;
        const end = Date.now() + 60_000;
        while (!cut && Date.now() < end) {
            // The step's command is `bash -c '<reads its script from stdin>' mailauth-postfix`
            // (components/hostScripts.ts stdinCommandLine): its $0 names the step.
            const running = lab.host!.enter("pgrep -f '[m]ailauth-postfix$' || true").trim();
            if (running) {
                // The session's sshd: `sshd: root@notty` on Debian 12 (OpenSSH 9.2), `sshd-session:
                // root@notty` on Debian 13 (OpenSSH 10.0; sshd split off sshd-session in 9.8).
                // Killed only when found, so that a pattern matching nothing fails here, not later.
                const sessions = lab.host!.enter("pgrep -f '^sshd(-session)?: root@notty' || true").trim();
                expect(sessions).not.toBe("");
                lab.host!.enter(`kill -KILL ${sessions.split("\n").join(" ")} || true`, { allowFail: true });
                cut = true;
            }
            await new Promise((r) => setTimeout(r, 50));
        }
        expect(cut).toBe(true);
        await expect(run).rejects.toThrow();
        const report = await lab.runner.up(change);
        expect(report.commandsRun).toContain("mailhost-postfix");
        expect(lab.host!.ssh("postconf -h smtpd_milters").trim()).toBe("inet:127.0.0.1:8891");
        expect(lab.host!.ssh("test -e /var/lib/mailauth/postfix/reload-pending && echo pending || echo clear").trim()).toBe("clear");
        // Signed over inet: Postfix really uses the new milter, OpenDKIM really listens there.
        expect(lab.host!.ssh("ss -ltnH 'sport = :8891'")).toMatch(/127\.0\.0\.1:8891/);
        for (const d of DOMAINS) {
            const message = await lab.sendLocal(`alice@${d}`, `after-cut-${d}`);
            expect(lab.dkimverify(message)).toBe("signature ok");
        }
        expect((await lab.runner.up(change)).commandsRun).toEqual([]);
    });
});

describe("scenario 8 (continued): Postfix settings that fail validation", () => {
    const RESTRICTIONS = "permit_mynetworks, reject";
    let before = "";
    beforeAll(async () => {
        // A submission-only host: relay control lives in neither list the stack may extend safely.
        await lab.fresh((root) => {
            const fs = require("fs") as typeof import("fs");
            fs.appendFileSync(`${root}/etc/postfix/main.cf`, `smtpd_relay_restrictions =\nsmtpd_recipient_restrictions = ${RESTRICTIONS}\n`);
        });
        before = lab.host!.ssh("postconf -n; postconf -M; md5sum /etc/postfix/main.cf /etc/postfix/master.cf");
    });

    it("stops with the reason, changes nothing in Postfix, and mail still flows", async () => {
        await expect(lab.runner.up(lab.config())).rejects.toThrow(/has no reject_unauth_destination and smtpd_relay_restrictions does not refuse relaying/);
        expect(lab.host!.ssh("postconf -n; postconf -M; md5sum /etc/postfix/main.cf /etc/postfix/master.cf")).toBe(before);
        const message = await lab.sendLocal("alice@example.com", "refused-change");
        expect(message).toContain("Subject: refused-change");
    });
});

describe("scenario 7 (continued): destroy after the user changed a setting the stack set", () => {
    it("keeps the user's value less the stack's entry, and restores the untouched ones", async () => {
        await lab.fresh();
        await lab.runner.up(lab.config());
        lab.host!.ssh("postconf -e 'smtpd_milters = inet:127.0.0.1:11333, unix:opendkim/opendkim.sock' && postfix reload");
        await lab.runner.destroy();
        expect(lab.host!.ssh("postconf -n smtpd_milters").trim()).toBe("smtpd_milters = inet:127.0.0.1:11333");
        expect(lab.host!.ssh("postconf -n | grep -c '^smtpd_recipient_restrictions\\|^milter_protocol\\|^policyd-spf' || true").trim()).toBe("0");
        expect(lab.host!.ssh("postconf -M policyd-spf/unix 2>/dev/null | wc -l").trim()).toBe("0");
    });
});

describe("as a user with passwordless sudo instead of root", () => {
    /** Adds user `deploy`, with the lab's SSH key and, if asked, passwordless sudo. */
    const addDeployUser = (nopasswd: boolean) => (root: string) => {
        const fs = require("fs") as typeof import("fs");
        sh("chroot", [root, "useradd", "--create-home", "--shell", "/bin/bash", "deploy"]);
        sh("chroot", [root, "install", "-d", "-m", "0700", "-o", "deploy", "-g", "deploy", "/home/deploy/.ssh"]);
        fs.copyFileSync(`${root}/root/.ssh/authorized_keys`, `${root}/home/deploy/.ssh/authorized_keys`);
        sh("chroot", [root, "chown", "deploy:deploy", "/home/deploy/.ssh/authorized_keys"]);
        fs.writeFileSync(`${root}/etc/sudoers.d/deploy`, `deploy ALL=(ALL) ${nopasswd ? "NOPASSWD: " : ""}ALL\n`, { mode: 0o440 });
    };
    const asDeploy = () => lab.config({ "mailauth:ssh": { host: "10.231.0.2", user: "deploy", hostKey: lab.keys.hostKey } });

    it("provisions through sudo -n: mail is signed and verifies, and destroy restores Postfix", async () => {
        await lab.fresh(addDeployUser(true));
        const before = lab.host!.ssh("postconf -n; postconf -M");
        const report = await lab.runner.up(asDeploy());
        expect(report.outputs.testKey).toEqual(Object.fromEntries(DOMAINS.map((d) => [d, "key OK"])));
        expect(lab.host!.ssh("stat -c '%U %a' /etc/opendkim/keys/example.com/s1.private").trim()).toBe("opendkim 600");
        const message = await lab.sendLocal("alice@example.com", "via-sudo");
        expect(lab.dkimverify(message)).toBe("signature ok");
        await lab.runner.destroy();
        expect(lab.host!.ssh("postconf -n; postconf -M")).toBe(before);
    });

    it("stops at the first step with sudo's own reason when sudo wants a password", async () => {
        await lab.fresh(addDeployUser(false));
        await expect(lab.runner.up(asDeploy())).rejects.toThrow(/sudo: a password is required/);
        // Only what the root filesystem's build left (its package step's record); no step ran.
        expect(lab.host!.ssh("ls /var/lib/mailauth").trim()).toBe("installed-packages");
    });
});
