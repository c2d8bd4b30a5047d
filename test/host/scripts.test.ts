/**
 * The real step scripts, as the program renders them, run on a throwaway host (test/host/fakeHost.ts)
 * with the real `postconf` and `postfix check`, service control stubbed and recorded. What they
 * do to Postfix's settings, OpenDKIM's files and the services is asserted here in seconds; the
 * lab (test/lab) proves the same on a booted host with real daemons and mail.
 */
import * as fs from "fs";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { exampleConfig } from "../harness";
import { FakeHost, missingPrerequisite, postconfSettings, serviceChange, snapshot } from "./fakeHost";
import { renderSteps, Steps } from "./steps";
import { splitStdinStep } from "../../components/hostScripts";

const SPF_CHECK = "check_policy_service unix:private/policyd-spf";
const DEBIAN_MILTER = "unix:opendkim/opendkim.sock";

// Debian 12's main.cf as its postfix package writes it for "Internet Site" (postinst), abridged.
const DEBIAN_MAIN_CF = `# See /usr/share/postfix/main.cf.dist for a commented, more complete version
smtpd_banner = $myhostname ESMTP $mail_name (Debian/GNU)
biff = no
append_dot_mydomain = no
readme_directory = no
compatibility_level = 3.6
smtpd_relay_restrictions = permit_mynetworks permit_sasl_authenticated defer_unauth_destination
myhostname = mail.example.com
mydestination = $myhostname, example.com, localhost
relayhost =
mynetworks = 127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128
mailbox_size_limit = 0
recipient_delimiter = +
inet_interfaces = all
inet_protocols = all
`;

// Debian 12's /etc/opendkim.conf from its opendkim package (comments dropped).
const DEBIAN_OPENDKIM_CONF = `Syslog\t\t\tyes
SyslogSuccess\t\tyes
Canonicalization\trelaxed/simple
OversignHeaders\t\tFrom
UserID\t\t\topendkim
UMask\t\t\t007
Socket\t\t\tlocal:/run/opendkim/opendkim.sock
PidFile\t\t\t/run/opendkim/opendkim.pid
TrustAnchorFile\t\t/usr/share/dns/root.key
`;

const prerequisite = missingPrerequisite();
/** What the scripts write on a host, here on this machine: it must stay as it was. */
const MACHINE_PATHS = [
    "/etc/postfix",
    "/etc/opendkim",
    "/etc/opendkim.conf",
    "/usr/lib/os-release",
    "/usr/local/sbin",
    "/var/spool/postfix",
    "/var/lib/mailauth",
];

const list = (v: string | undefined) => (v ?? "").split(/[\s,]+/).filter(Boolean);

/** A host as a user has it: Debian with Postfix configured and OpenDKIM installed, enabled, running. */
function debianHost(host: FakeHost, mainCf = DEBIAN_MAIN_CF): void {
    host.write("/etc/postfix/main.cf", mainCf);
    host.sh("useradd --system --user-group --no-create-home --shell /usr/sbin/nologin opendkim; install -d -o opendkim -g opendkim /run/opendkim");
    host.write("/etc/opendkim.conf", DEBIAN_OPENDKIM_CONF);
    host.write("/var/lib/fakehost/packages", "opendkim\nopendkim-tools\npostfix-policyd-spf-python\n");
    host.unit("postfix", { active: true, enabled: true });
    host.unit("opendkim", { active: true, enabled: true });
}

function ok(host: FakeHost, commandLine: string | undefined, stdin = ""): string {
    if (!commandLine) throw new Error("no such command");
    const r = host.run(commandLine, stdin);
    if (r.code !== 0) throw new Error(`step failed (${r.code}): ${r.stderr}${r.stdout}`);
    return r.stdout;
}

describe("host scripts on a throwaway host, with the real Postfix tools", () => {
    let steps: Steps;
    let host: FakeHost;
    let etcBefore: string;
    beforeAll(async () => {
        // Part of `npm test`: without root or Postfix's tools every test here fails, never skips.
        if (prerequisite) throw new Error(prerequisite);
        etcBefore = snapshot(MACHINE_PATHS);
        steps = await renderSteps(exampleConfig());
    });
    beforeEach(async () => {
        host = await FakeHost.start();
    });
    afterEach(() => host?.stop());
    afterAll(() => {
        if (prerequisite) return;
        // Nothing the scripts did reached this machine's own files.
        expect(snapshot(MACHINE_PATHS).split("\n")).toEqual(etcBefore.split("\n"));
        expect(fs.existsSync("/var/lib/mailauth")).toBe(false);
        // The users and groups the hosts made (other programs may change these files meanwhile).
        for (const f of ["/etc/passwd", "/etc/group"]) expect(fs.readFileSync(f, "utf8")).not.toMatch(/^(opendkim|policyd-spf|probeuser):/m);
    });

    const postfixUp = () => ok(host, steps.postfix.create, steps.postfix.stdin);
    const postfixDown = () => ok(host, steps.postfix.delete);

    it("keeps every write inside the throwaway host, through symlinks too: this machine's files are read, never written", () => {
        const osRelease = fs.readFileSync("/etc/os-release", "utf8");
        host.write("/etc/postfix/main.cf", "myhostname = probe.example\n");
        // /etc/os-release is a symlink into /usr/lib: the write must land in the host's copy.
        host.write("/etc/os-release", "ID=probe\n");
        host.sh(
            "echo probe >/etc/mailauth-probe; echo probe >/usr/lib/mailauth-probe; echo probe >mailauth-relative-probe; mkdir -p /var/lib/mailauth; : >/var/lib/mailauth/probe; useradd --system probeuser",
        );
        expect(host.read("/mailauth-relative-probe")).toBe("probe\n");
        expect(host.sh("postconf -h myhostname")).toBe("probe.example\n");
        expect(host.read("/etc/os-release")).toBe("ID=probe\n");
        expect(host.read("/etc/postfix/master.cf")).toBe(fs.readFileSync("/etc/postfix/master.cf", "utf8"));
        for (const f of ["/etc/mailauth-probe", "/usr/lib/mailauth-probe", "/mailauth-relative-probe", "mailauth-relative-probe", "/var/lib/mailauth"]) {
            expect(fs.existsSync(f), f).toBe(false);
        }
        expect(fs.readFileSync("/etc/os-release", "utf8")).toBe(osRelease);
        expect(fs.readFileSync("/etc/passwd", "utf8")).not.toContain("probeuser");
    });

    describe("postfix", () => {
        it("on Debian's default main.cf: the guide's restrictions and the four milter settings, one reload; a rerun changes nothing; destroy restores every setting", () => {
            debianHost(host);
            const before = postconfSettings(host);
            const masterBefore = host.read("/etc/postfix/master.cf");
            const out = postfixUp();
            expect(postconfSettings(host)).toEqual({
                ...before,
                "policyd-spf_time_limit": "3600",
                smtpd_recipient_restrictions: `permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination, ${SPF_CHECK}`,
                milter_default_action: "accept",
                milter_protocol: "6",
                smtpd_milters: DEBIAN_MILTER,
                non_smtpd_milters: "$smtpd_milters",
            });
            expect(host.sh("postconf -M policyd-spf/unix").trim().split(/\s+/)).toEqual(
                "policyd-spf unix - n n - 0 spawn user=policyd-spf argv=/usr/bin/policyd-spf".split(" "),
            );
            expect(host.calls().filter(serviceChange)).toEqual(["systemctl reload-or-restart postfix"]);
            expect(out).toContain("reloaded: postfix");

            // A repeat run: no edit, no reload.
            host.clearCalls();
            const mainCf = host.sh("stat -c '%Y %s' /etc/postfix/main.cf; md5sum /etc/postfix/main.cf /etc/postfix/master.cf");
            expect(postfixUp()).toContain("unchanged: Postfix settings");
            expect(host.calls().filter(serviceChange)).toEqual([]);
            expect(host.sh("stat -c '%Y %s' /etc/postfix/main.cf; md5sum /etc/postfix/main.cf /etc/postfix/master.cf")).toBe(mainCf);

            host.clearCalls();
            postfixDown();
            expect(postconfSettings(host)).toEqual(before);
            expect(host.read("/etc/postfix/master.cf")).toBe(masterBefore);
            expect(host.calls().filter(serviceChange)).toEqual(["systemctl reload-or-restart postfix"]);
            expect(host.exists("/var/lib/mailauth/postfix")).toBe(false);
        });

        it("puts the policy check right after reject_unauth_destination in the user's own list, before later checks and the final permit", () => {
            const own = "permit_mynetworks permit_sasl_authenticated reject_unauth_destination reject_rbl_client zen.spamhaus.org permit";
            debianHost(host, `${DEBIAN_MAIN_CF}smtpd_recipient_restrictions = ${own}\n`);
            postfixUp();
            expect(list(postconfSettings(host).smtpd_recipient_restrictions)).toEqual(
                list(own.replace("reject_unauth_destination", `reject_unauth_destination ${SPF_CHECK}`)),
            );
            postfixDown();
            expect(postconfSettings(host).smtpd_recipient_restrictions).toBe(own);
        });

        it("without reject_unauth_destination in the list (relaying refused by smtpd_relay_restrictions), puts the check before the final permit", () => {
            debianHost(host, `${DEBIAN_MAIN_CF}smtpd_recipient_restrictions = reject_non_fqdn_recipient, permit\n`);
            postfixUp();
            expect(list(postconfSettings(host).smtpd_recipient_restrictions)).toEqual(["reject_non_fqdn_recipient", ...list(SPF_CHECK), "permit"]);
        });

        describe("a list that names another parameter ($my_rcpt): decided on what Postfix expands it to (issue 23.8b)", () => {
            const expanded = (name: string) => list(host.sh(`postconf -xh ${name}`));
            it("the check goes right after reject_unauth_destination inside it, not after its final permit; a rerun changes nothing; destroy puts back $my_rcpt", () => {
                const own = "my_rcpt = permit_mynetworks, reject_unauth_destination, permit\nsmtpd_recipient_restrictions = $my_rcpt\n";
                debianHost(host, DEBIAN_MAIN_CF + own);
                const before = postconfSettings(host);
                postfixUp();
                expect(expanded("smtpd_recipient_restrictions")).toEqual(["permit_mynetworks", "reject_unauth_destination", ...list(SPF_CHECK), "permit"]);
                // Left as it was (postconf -n no longer lists it: nothing names it while the stack is up).
                expect(host.read("/etc/postfix/main.cf")).toContain("\nmy_rcpt = permit_mynetworks, reject_unauth_destination, permit\n");
                host.clearCalls();
                expect(postfixUp()).toContain("unchanged: Postfix settings");
                expect(host.calls().filter(serviceChange)).toEqual([]);
                postfixDown();
                expect(postconfSettings(host)).toEqual(before);
            });

            it("without reject_unauth_destination: the check goes before the expanded list's final permit", () => {
                debianHost(host, `${DEBIAN_MAIN_CF}my_rcpt = reject_non_fqdn_recipient, permit\nsmtpd_recipient_restrictions = $my_rcpt\n`);
                postfixUp();
                expect(expanded("smtpd_recipient_restrictions")).toEqual(["reject_non_fqdn_recipient", ...list(SPF_CHECK), "permit"]);
            });

            it("an SPF check inside the named parameter is the host's own: adopted, no second service", () => {
                const own =
                    "my_rcpt = permit_mynetworks, reject_unauth_destination, check_policy_service unix:private/spfcheck\nsmtpd_recipient_restrictions = $my_rcpt\n";
                debianHost(host, DEBIAN_MAIN_CF + own);
                host.sh("postconf -M 'spfcheck/unix=spfcheck unix - n n - 0 spawn user=policyd-spf argv=/usr/bin/policyd-spf'");
                const out = postfixUp();
                expect(out).toContain("kept: the host's SPF policy service spfcheck");
                expect(host.sh("postconf -M policyd-spf/unix")).toBe("");
                expect(postconfSettings(host).smtpd_recipient_restrictions).toBe("$my_rcpt");
            });

            it("a milter list naming another parameter that reaches OpenDKIM: one OpenDKIM entry, ours", () => {
                debianHost(host, `${DEBIAN_MAIN_CF}my_milters = inet:127.0.0.1:11332, local:/run/opendkim/opendkim.sock\nsmtpd_milters = $my_milters\n`);
                const before = postconfSettings(host);
                postfixUp();
                expect(expanded("smtpd_milters")).toEqual(["inet:127.0.0.1:11332", DEBIAN_MILTER]);
                expect(expanded("non_smtpd_milters")).toEqual(["inet:127.0.0.1:11332", DEBIAN_MILTER]);
                postfixDown();
                expect(postconfSettings(host)).toEqual(before);
            });

            it("smtpd_relay_restrictions left at its default below compatibility level 1 is empty (no relay refusal there): a list without reject_unauth_destination is refused", () => {
                // mail_params.h DEF_RELAY_CHECKS: ${{$compatibility_level} <level {1} ? {} : {...}}
                const mainCf = `${DEBIAN_MAIN_CF.replace(/^(smtpd_relay_restrictions|compatibility_level).*\n/gm, "")}smtpd_recipient_restrictions = reject_non_fqdn_recipient, permit\n`;
                debianHost(host, mainCf);
                const r = host.run(steps.postfix.create, steps.postfix.stdin);
                expect(r.code).not.toBe(0);
                expect(r.stderr).toMatch(/no reject_unauth_destination .* cannot open a relay/);
                expect(host.read("/etc/postfix/main.cf")).toBe(mainCf);
            });
        });

        it("refuses a list without reject_unauth_destination when relaying is not refused elsewhere: nothing changed, no reload", () => {
            const mainCf = `${DEBIAN_MAIN_CF.replace(/^smtpd_relay_restrictions.*\n/m, "smtpd_relay_restrictions =\n")}smtpd_recipient_restrictions = permit_mynetworks, permit\n`;
            debianHost(host, mainCf);
            const r = host.run(steps.postfix.create, steps.postfix.stdin);
            expect(r.code).not.toBe(0);
            expect(r.stderr).toMatch(/no reject_unauth_destination .* cannot open a relay/);
            expect(host.read("/etc/postfix/main.cf")).toBe(mainCf);
            expect(host.calls().filter(serviceChange)).toEqual([]);
        });

        it("a failed step's error, as pulumi-command words it, gives the reason before anything long", () => {
            const mainCf = `${DEBIAN_MAIN_CF.replace(/^smtpd_relay_restrictions.*\n/m, "smtpd_relay_restrictions =\n")}smtpd_recipient_restrictions = permit_mynetworks, permit\n`;
            debianHost(host, mainCf);
            const r = host.run(steps.postfix.create, steps.postfix.stdin);
            expect(r.code).not.toBe(0);
            // pulumi/pulumi-command v1.2.1 provider/pkg/provider/remote/commandOutputs.go ~100-101:
            // fmt.Errorf("%w: running %q:\n%s", err, cmd, stdout and stderr as they came); the %w of
            // golang.org/x/crypto/ssh's ExitError reads "Process exited with status N". JSON's quoting
            // is as long as Go's %q for this text.
            const error = `Process exited with status ${r.code}: running ${JSON.stringify(steps.postfix.create)}:\n${r.stdout}${r.stderr}`;
            const reason = error.search(/no reject_unauth_destination .* cannot open a relay/);
            expect(reason).toBeGreaterThan(0);
            expect(reason, error.slice(0, 300)).toBeLessThan(600);
            expect(error.slice(0, reason)).not.toContain("mailauth step: postfix");
        });

        it("stops before any change when the new settings fail postfix check: main.cf and master.cf untouched, no reload", () => {
            // postconf reads this main.cf; postfix check refuses it (mail_owner must exist).
            const mainCf = `${DEBIAN_MAIN_CF}mail_owner = nosuchuser\n`;
            debianHost(host, mainCf);
            const master = host.read("/etc/postfix/master.cf");
            const r = host.run(steps.postfix.create, steps.postfix.stdin);
            expect(r.code).not.toBe(0);
            expect(r.stderr).toContain("do not pass 'postfix check'");
            expect(host.read("/etc/postfix/main.cf")).toBe(mainCf);
            expect(host.read("/etc/postfix/master.cf")).toBe(master);
            expect(host.calls().filter(serviceChange)).toEqual([]);
        });

        it("adds the OpenDKIM milter after the user's own milters, in both lists; destroy gives back exactly the user's lists", () => {
            const milters = "smtpd_milters = inet:127.0.0.1:11332\nnon_smtpd_milters = inet:127.0.0.1:11332\n";
            debianHost(host, DEBIAN_MAIN_CF + milters);
            const before = postconfSettings(host);
            postfixUp();
            const after = postconfSettings(host);
            expect(list(after.smtpd_milters)).toEqual(["inet:127.0.0.1:11332", DEBIAN_MILTER]);
            expect(list(after.non_smtpd_milters)).toEqual(["inet:127.0.0.1:11332", DEBIAN_MILTER]);
            postfixDown();
            expect(postconfSettings(host)).toEqual(before);
        });

        it("extends a grouped milter list without splitting it", () => {
            const grouped = "{ inet:127.0.0.1:11332, default_action=accept, connect_timeout=10s }";
            debianHost(host, `${DEBIAN_MAIN_CF}smtpd_milters = ${grouped}\n`);
            postfixUp();
            expect(postconfSettings(host).smtpd_milters).toBe(`${grouped}, ${DEBIAN_MILTER}`);
            postfixDown();
            expect(postconfSettings(host).smtpd_milters).toBe(grouped);
        });

        it("destroy keeps what the user changed since, less the stack's own entries, and restores the rest", () => {
            debianHost(host);
            const before = postconfSettings(host);
            postfixUp();
            host.sh(
                `postconf -e 'smtpd_milters=${DEBIAN_MILTER}, inet:127.0.0.1:11332' 'smtpd_recipient_restrictions=permit_mynetworks, reject_unauth_destination, ${SPF_CHECK}, reject_rbl_client zen.spamhaus.org'`,
            );
            postfixDown();
            const after = postconfSettings(host);
            expect(after.smtpd_milters).toBe("inet:127.0.0.1:11332");
            expect(list(after.smtpd_recipient_restrictions)).toEqual([
                "permit_mynetworks",
                "reject_unauth_destination",
                "reject_rbl_client",
                "zen.spamhaus.org",
            ]);
            const { smtpd_milters: _m, smtpd_recipient_restrictions: _r, ...rest } = after;
            expect(rest).toEqual(before);
        });

        it("a change of milter transport replaces the stack's old milter, keeps the user's; destroy restores the original", async () => {
            debianHost(host, `${DEBIAN_MAIN_CF}smtpd_milters = inet:127.0.0.1:11332\n`);
            const before = postconfSettings(host);
            postfixUp();
            const config = exampleConfig();
            config["mailauth:opendkim"] = { ...(config["mailauth:opendkim"] as object), milterTransport: "inet" };
            const inet = await renderSteps(config);
            host.clearCalls();
            ok(host, inet.postfix.create, inet.postfix.stdin);
            expect(list(postconfSettings(host).smtpd_milters)).toEqual(["inet:127.0.0.1:11332", "inet:127.0.0.1:8891"]);
            expect(host.calls().filter(serviceChange)).toEqual(["systemctl reload-or-restart postfix"]);
            ok(host, inet.postfix.delete);
            expect(postconfSettings(host)).toEqual(before);
        });

        it("on EL: the guide's inet milter and EPEL's agent path; destroy restores", () => {
            debianHost(host);
            host.write("/etc/os-release", 'NAME="Rocky Linux"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.4"\nPRETTY_NAME="Rocky Linux 9.4"\n');
            const before = postconfSettings(host);
            postfixUp();
            expect(postconfSettings(host).smtpd_milters).toBe("inet:127.0.0.1:8891");
            expect(host.sh("postconf -M policyd-spf/unix")).toContain("argv=/usr/libexec/postfix/policyd-spf");
            postfixDown();
            expect(postconfSettings(host)).toEqual(before);
        });

        it("a run cut short after its edits reloads Postfix on the next run", () => {
            debianHost(host);
            postfixUp();
            host.sh(": >/var/lib/mailauth/postfix/reload-pending");
            host.clearCalls();
            expect(postfixUp()).toContain("reloaded: postfix (pending");
            expect(host.calls().filter(serviceChange)).toEqual(["systemctl reload-or-restart postfix"]);
        });
    });

    describe("keys and opendkim", () => {
        // One step installs every key (components/mailHost.ts); its stdin: the script, then each key.
        const keysUp = () => ok(host, steps["keys"].create, steps["keys"].stdin);

        it("installs each key from stdin: 0600 opendkim, in root's 0750 directories; rerun leaves it; delete removes it", () => {
            debianHost(host);
            keysUp();
            const s = steps["keys"];
            const blocks = splitStdinStep(s.create, s.stdin!)!
                .stdin.replace(/#mailauth-end \d+\n$/, "")
                .split(/^(?=#mailauth-key )/m)
                .filter((b) => b.startsWith("#mailauth-key "));
            expect(blocks).toHaveLength(2);
            const rerun = keysUp();
            for (const block of blocks) {
                const [, file, domain] = block.split("\n")[0].split(" ");
                // The key alone: its header line is for the check only.
                expect(host.read(file)).toBe(block.slice(block.indexOf("\n") + 1));
                expect(host.read(file)).toMatch(/^-----BEGIN RSA PRIVATE KEY-----\n[^#]*-----END RSA PRIVATE KEY-----\n$/);
                expect(host.stat(file)).toBe("600 opendkim:opendkim");
                expect(host.stat(`/etc/opendkim/keys/${domain}`)).toBe("750 root:opendkim");
                expect(rerun).toContain(`unchanged: ${file}`);
            }
            ok(host, s.delete);
            for (const block of blocks) expect(host.exists(block.split(" ")[1])).toBe(false);
            // The stack made /etc/opendkim/keys here: its last key gone, it goes too.
            expect(host.exists("/etc/opendkim/keys")).toBe(false);
        });

        it("writes OpenDKIM's files and socket directory, restarts it once for the new socket; a rerun does nothing", () => {
            debianHost(host);
            keysUp();
            host.clearCalls();
            const out = ok(host, steps.opendkim.create, steps.opendkim.stdin);
            expect(host.read("/etc/opendkim.conf")).toContain("Socket                  local:/var/spool/postfix/opendkim/opendkim.sock\n");
            const signing = host.read("/etc/opendkim/SigningTable");
            expect(signing.replace(/^#.*\n/gm, "")).toBe("*@example.com 20261127._domainkey.example.com\n*@example.org 20261127._domainkey.example.org\n");
            // Every file names the stack and the code that writes it (issue 17.3).
            for (const f of ["/etc/opendkim/KeyTable", "/etc/opendkim/SigningTable", "/etc/opendkim/TrustedHosts", "/etc/opendkim.conf"]) {
                expect(host.read(f), f).toMatch(
                    /^# OpenDKIM .*, written by the mailauth Pulumi stack mailauth\/test \((templates|components)\/[^ ]+.*, put in place by templates\/opendkim\.sh\)\.\n/,
                );
            }
            for (const f of ["KeyTable", "SigningTable", "TrustedHosts"]) expect(host.stat(`/etc/opendkim/${f}`)).toBe("640 root:opendkim");
            expect(host.stat("/etc/opendkim.conf")).toBe("644 root:root");
            expect(host.stat("/var/spool/postfix/opendkim")).toBe("750 opendkim:opendkim");
            expect(host.sh("id -nG postfix").split(/\s+/)).toContain("opendkim");
            expect(host.calls().filter(serviceChange)).toEqual(["systemctl restart opendkim"]);
            expect(out).toContain("restarted: opendkim");
            expect(host.sh("test -S /var/spool/postfix/opendkim/opendkim.sock && echo listening")).toBe("listening\n");

            host.clearCalls();
            expect(ok(host, steps.opendkim.create, steps.opendkim.stdin)).not.toMatch(/changed:|reloaded|restarted/);
            expect(host.calls().filter(serviceChange)).toEqual([]);
        });

        it("files an earlier version wrote without the header: the first up after the upgrade rewrites them once, with one reload; the next changes nothing", () => {
            debianHost(host);
            keysUp();
            ok(host, steps.opendkim.create, steps.opendkim.stdin);
            // As the version before the header left them: the same files without their '#' lines.
            host.sh(
                "for f in /etc/opendkim.conf /etc/opendkim/KeyTable /etc/opendkim/SigningTable /etc/opendkim/TrustedHosts; do sed -i '/^# .*mailauth Pulumi stack/d; /^# Edits here are overwritten/d' $f; done",
            );
            host.clearCalls();
            const out = ok(host, steps.opendkim.create, steps.opendkim.stdin);
            for (const f of ["/etc/opendkim.conf", "/etc/opendkim/KeyTable", "/etc/opendkim/SigningTable", "/etc/opendkim/TrustedHosts"])
                expect(out).toContain(`changed: ${f}`);
            expect(host.calls().filter(serviceChange)).toEqual(["systemctl reload-or-restart opendkim"]);
            host.clearCalls();
            expect(ok(host, steps.opendkim.create, steps.opendkim.stdin)).not.toMatch(/changed:|reloaded|restarted/);
            expect(host.calls().filter(serviceChange)).toEqual([]);
        });

        it("reloads OpenDKIM (no restart) when only a table changes", async () => {
            debianHost(host);
            keysUp();
            ok(host, steps.opendkim.create, steps.opendkim.stdin);
            const config = exampleConfig();
            const opendkim = config["mailauth:opendkim"] as { trustedHosts?: string[] };
            config["mailauth:opendkim"] = { ...opendkim, trustedHosts: [...(opendkim.trustedHosts ?? []), "198.51.100.7"] };
            const more = await renderSteps(config);
            host.clearCalls();
            const out = ok(host, more.opendkim.create, more.opendkim.stdin);
            expect(out).toContain("changed: /etc/opendkim/TrustedHosts");
            expect(out).not.toContain("changed: /etc/opendkim.conf");
            expect(host.read("/etc/opendkim/TrustedHosts")).toContain("198.51.100.7\n");
            expect(host.calls().filter(serviceChange)).toEqual(["systemctl reload-or-restart opendkim"]);
        });

        it("a run cut short after installing the files restarts OpenDKIM on the next run, though no file changes then", () => {
            debianHost(host);
            keysUp();
            ok(host, steps.opendkim.create, steps.opendkim.stdin);
            // As left by a run whose SSH session died between the swap and the restart.
            host.sh(": >/var/lib/mailauth/opendkim/apply-pending");
            host.clearCalls();
            expect(ok(host, steps.opendkim.create, steps.opendkim.stdin)).toContain("restarted: opendkim");
            expect(host.calls().filter(serviceChange)).toEqual(["systemctl restart opendkim"]);
            expect(host.exists("/var/lib/mailauth/opendkim/apply-pending")).toBe(false);
        });

        it("refuses a group-readable key and changes nothing", () => {
            debianHost(host);
            keysUp();
            host.sh("chmod 0640 /etc/opendkim/keys/example.com/20261127.private");
            host.clearCalls();
            const r = host.run(steps.opendkim.create, steps.opendkim.stdin);
            expect(r.code).not.toBe(0);
            expect(r.stderr).toContain("must be owned by opendkim with mode 0600");
            expect(host.read("/etc/opendkim.conf")).toBe(DEBIAN_OPENDKIM_CONF);
            expect(host.calls().filter(serviceChange)).toEqual([]);
        });

        it("destroy puts back opendkim.conf, removes the tables, the socket directory and the group membership, and restarts the original", () => {
            debianHost(host);
            const groupsBefore = host.sh("id -nG postfix");
            keysUp();
            ok(host, steps.opendkim.create, steps.opendkim.stdin);
            host.clearCalls();
            ok(host, steps.opendkim.delete);
            expect(host.read("/etc/opendkim.conf")).toBe(DEBIAN_OPENDKIM_CONF);
            for (const f of ["KeyTable", "SigningTable", "TrustedHosts"]) expect(host.exists(`/etc/opendkim/${f}`)).toBe(false);
            expect(host.exists("/var/spool/postfix/opendkim")).toBe(false);
            expect(host.sh("id -nG postfix")).toBe(groupsBefore);
            expect(host.calls().filter(serviceChange)).toEqual(["systemctl restart opendkim"]);
            expect(host.unitState("opendkim")).toEqual({ active: true, enabled: true });
            expect(host.exists("/var/lib/mailauth/opendkim")).toBe(false);
        });
    });

    describe("key test", () => {
        it("reports the verdict: key OK once the record matches, else 'not verified' with the reason, never failing the run", async () => {
            debianHost(host);
            const config = exampleConfig();
            config["mailauth:testKey"] = { timeoutSeconds: 0 };
            const testkey = (await renderSteps(config)).testkey;
            expect(ok(host, testkey.create, testkey.stdin).trim().split("\n")[0]).toBe("example.com 20261127 not verified: opendkim-testkey: record not found");
            host.sh("touch /var/lib/fakehost/testkey-ok");
            expect(ok(host, testkey.create, testkey.stdin).trim().split("\n")[0]).toBe("example.com 20261127 key OK");
        });
    });

    describe("whole stack", () => {
        it("up in dependency order, then destroy in reverse, leaves Postfix's settings and OpenDKIM's state as they were", () => {
            debianHost(host);
            const before = postconfSettings(host);
            host.sh("touch /var/lib/fakehost/testkey-ok");
            const order = ["packages", "keys", "opendkim", "keys-retire", "postfix", "testkey"];
            expect(Object.keys(steps).sort()).toEqual([...order].sort());
            expect(host.run("id policyd-spf").code).not.toBe(0);
            const outs = order.map((n) => ok(host, steps[n].create, steps[n].stdin));
            expect(host.sh("id -nG policyd-spf").trim()).toBe("policyd-spf");
            expect(host.calls().filter((c) => c.startsWith("apt-get"))).toEqual([]);
            expect(outs[5].trim().split("\n")).toEqual(["example.com 20261127 key OK", "example.org 20261127 key OK"]);
            expect(host.calls()).toContain("opendkim-testkey -x /etc/opendkim.conf -d example.com -s 20261127 -vvv");
            expect(postconfSettings(host).smtpd_milters).toBe(DEBIAN_MILTER);
            for (const n of [...order].reverse()) if (steps[n].delete) ok(host, steps[n].delete);
            expect(postconfSettings(host)).toEqual(before);
            expect(host.read("/etc/opendkim.conf")).toBe(DEBIAN_OPENDKIM_CONF);
            expect(host.exists("/etc/opendkim/keys/example.com")).toBe(false);
            expect(host.exists("/var/lib/mailauth/postfix")).toBe(false);
            expect(host.exists("/var/lib/mailauth/opendkim")).toBe(false);
            expect(host.unitState("opendkim")).toEqual({ active: true, enabled: true });
            expect(host.run("id policyd-spf").code).not.toBe(0);
        });
    });
});
