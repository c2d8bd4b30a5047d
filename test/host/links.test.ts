/**
 * Symbolic links on the host, real scripts on a throwaway host (test/host/fakeHost.ts): a user's
 * main.cf, master.cf or opendkim.conf kept elsewhere behind a link stays a link, edited through
 * (issue 23.8c); a link planted where another user can write (an /etc/opendkim handed to user
 * opendkim) is never written through (issue 22).
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { exampleConfig } from "../harness";
import { FakeHost, missingPrerequisite, serviceChange } from "./fakeHost";
import { renderSteps, Steps } from "./steps";

const MAIN_CF =
    "myhostname = mail.example.com\nmydestination = $myhostname, localhost\ncompatibility_level = 3.6\n" +
    "smtpd_relay_restrictions = permit_mynetworks permit_sasl_authenticated defer_unauth_destination\n";
const OPENDKIM_CONF = "Syslog yes\nUMask 007\nSocket local:/run/opendkim/opendkim.sock\nPidFile /run/opendkim/opendkim.pid\n";
// The guide's own OpenDKIM set-up, as a host may have it before the stack.
const GUIDE_CONF = `${OPENDKIM_CONF}KeyTable /etc/opendkim/KeyTable\nSigningTable refile:/etc/opendkim/SigningTable\nInternalHosts refile:/etc/opendkim/TrustedHosts\n`;
const GUIDE_TABLES: Record<string, string> = {
    KeyTable: "mail._domainkey.example.net example.net:mail:/etc/opendkim/keys/example.net/mail.private\n",
    SigningTable: "*@example.net mail._domainkey.example.net\n",
    TrustedHosts: "127.0.0.1\n::1\n",
};

describe("links on the host", () => {
    let steps: Steps;
    let host: FakeHost;
    const ok = (commandLine: string | undefined, stdin = "") => {
        const r = host.run(commandLine!, stdin);
        if (r.code !== 0) throw new Error(`step failed (${r.code}): ${r.stderr}${r.stdout}`);
        return r.stdout;
    };
    /** Where each link leads, or "not a link". */
    const links = (...files: string[]) => files.map((f) => host.sh(`readlink ${f} || echo "not a link"`)).join("");
    // The keys step (mailhost-keys) installs every key; the retire step runs after OpenDKIM's, not needed here.
    const keysUp = () => ok(steps.keys.create, steps.keys.stdin);
    beforeAll(async () => {
        const why = missingPrerequisite();
        if (why) throw new Error(why);
        steps = await renderSteps(exampleConfig());
    });
    beforeEach(async () => {
        host = await FakeHost.start();
        host.write("/etc/postfix/main.cf", MAIN_CF);
        host.sh("useradd --system --user-group --no-create-home --shell /usr/sbin/nologin opendkim; install -d -o opendkim -g opendkim /run/opendkim");
        host.write("/etc/opendkim.conf", OPENDKIM_CONF);
        host.write("/var/lib/fakehost/packages", "opendkim\nopendkim-tools\npostfix-policyd-spf-python\n");
        host.unit("postfix", { active: true, enabled: true });
        host.unit("opendkim", { active: true, enabled: true });
    });
    afterEach(() => host?.stop());

    it("main.cf and master.cf behind links: edited through them, a rerun changes nothing, destroy leaves the links and puts back their files", () => {
        host.sh(
            "install -d /srv/conf; mv /etc/postfix/main.cf /etc/postfix/master.cf /srv/conf/; ln -s /srv/conf/main.cf /etc/postfix/main.cf; ln -s ../../srv/conf/master.cf /etc/postfix/master.cf",
        );
        const before = host.sh("postconf -n; postconf -M");
        ok(steps.postfix.create, steps.postfix.stdin);
        expect(links("/etc/postfix/main.cf", "/etc/postfix/master.cf")).toBe("/srv/conf/main.cf\n../../srv/conf/master.cf\n");
        expect(host.read("/srv/conf/main.cf")).toContain("check_policy_service unix:private/policyd-spf");
        expect(host.read("/srv/conf/master.cf")).toMatch(/^policyd-spf +unix/m);
        host.clearCalls();
        expect(ok(steps.postfix.create, steps.postfix.stdin)).toContain("unchanged: Postfix settings");
        expect(host.calls().filter(serviceChange)).toEqual([]);
        ok(steps.postfix.delete);
        expect(links("/etc/postfix/main.cf", "/etc/postfix/master.cf")).toBe("/srv/conf/main.cf\n../../srv/conf/master.cf\n");
        expect(host.sh("stat -c %F /srv/conf/main.cf /srv/conf/master.cf")).toBe("regular file\nregular file\n");
        expect(host.sh("postconf -n; postconf -M")).toBe(before);
    });

    it("opendkim.conf behind a link: written through it; destroy leaves the link and puts back its file exactly", () => {
        host.sh("install -d /srv/dkim; mv /etc/opendkim.conf /srv/dkim/opendkim.conf; ln -s /srv/dkim/opendkim.conf /etc/opendkim.conf");
        keysUp();
        ok(steps.opendkim.create, steps.opendkim.stdin);
        expect(links("/etc/opendkim.conf")).toBe("/srv/dkim/opendkim.conf\n");
        expect(host.read("/srv/dkim/opendkim.conf")).toContain("KeyTable                /etc/opendkim/KeyTable\n");
        host.clearCalls();
        expect(ok(steps.opendkim.create, steps.opendkim.stdin)).not.toMatch(/changed:|reloaded|restarted/);
        ok(steps.opendkim.delete);
        expect(links("/etc/opendkim.conf")).toBe("/srv/dkim/opendkim.conf\n");
        expect(host.read("/srv/dkim/opendkim.conf")).toBe(OPENDKIM_CONF);
    });

    it("a link the stack replaced since is put back on destroy", () => {
        host.sh("install -d /srv/dkim; mv /etc/opendkim.conf /srv/dkim/opendkim.conf; ln -s /srv/dkim/opendkim.conf /etc/opendkim.conf");
        keysUp();
        ok(steps.opendkim.create, steps.opendkim.stdin);
        // As an earlier version of the stack left it: the link replaced by a regular file.
        host.sh("cp --remove-destination /srv/dkim/opendkim.conf /etc/opendkim.conf");
        ok(steps.opendkim.delete);
        expect(links("/etc/opendkim.conf")).toBe("/srv/dkim/opendkim.conf\n");
        expect(host.read("/srv/dkim/opendkim.conf")).toBe(OPENDKIM_CONF);
    });

    describe("/etc/opendkim handed to user opendkim (the guide's chown -R opendkim:opendkim /etc/opendkim) after the stack's first up", () => {
        beforeEach(() => {
            host.write("/etc/opendkim.conf", GUIDE_CONF);
            for (const [t, text] of Object.entries(GUIDE_TABLES)) host.write(`/etc/opendkim/${t}`, text);
            host.sh(
                "install -d -m 0750 -o opendkim -g opendkim /etc/opendkim/keys/example.net; echo key >/etc/opendkim/keys/example.net/mail.private; chown opendkim /etc/opendkim/keys/example.net/mail.private; chmod 0600 /etc/opendkim/keys/example.net/mail.private",
            );
            keysUp();
            ok(steps.opendkim.create, steps.opendkim.stdin);
            // What user opendkim can then do: swap a table for a link to a file of root's.
            host.sh("chown opendkim:opendkim /etc/opendkim; rm /etc/opendkim/KeyTable; ln -s /etc/passwd /etc/opendkim/KeyTable");
        });
        const passwdUntouched = (passwd: string) => {
            expect(host.read("/etc/passwd")).toBe(passwd);
            expect(host.stat("/etc/passwd")).toBe("644 root:root");
        };

        it("destroy writes nothing through the planted link: it stops, saying why", () => {
            const passwd = host.read("/etc/passwd");
            const r = host.run(steps.opendkim.delete!);
            passwdUntouched(passwd);
            expect(r.code).toBe(1);
            expect(r.stderr).toMatch(/\/etc\/opendkim is owned or writable by a user other than root \(opendkim:opendkim 755\)/);
            expect(host.read("/etc/opendkim.conf")).not.toBe(GUIDE_CONF);
        });

        it("up writes nothing through the planted link: it stops before any change", () => {
            const passwd = host.read("/etc/passwd");
            const conf = host.read("/etc/opendkim.conf");
            host.clearCalls();
            const r = host.run(steps.opendkim.create, steps.opendkim.stdin);
            passwdUntouched(passwd);
            expect(r.code).toBe(1);
            expect(r.stderr).toMatch(/\/etc\/opendkim is owned or writable by a user other than root/);
            expect(host.read("/etc/opendkim.conf")).toBe(conf);
            expect(links("/etc/opendkim/KeyTable")).toBe("/etc/passwd\n");
            expect(host.calls().filter(serviceChange)).toEqual([]);
        });
    });
});
