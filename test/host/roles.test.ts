/**
 * A host's roles (issue 21, components/mailHost.ts `sign`, `skipAddresses`): the real step scripts
 * as the program renders them (test/harness.ts RunOptions.mailHostArgs), on throwaway hosts
 * (test/host/fakeHost.ts) with Debian's own postconf and postfix check, and EL's package step
 * against its stubs. A host that does not sign (an inbound-only backup MX) gets the SPF agent and
 * its policy service, never a milter or an OpenDKIM file; a host that changes role converges both
 * ways, in the order the engine runs it: the steps still in the program first (an update runs
 * `create` again), then the deletes of those that left it (pulumi/pulumi v3.259
 * pkg/resource/deploy/deployment_executor.go ~326-332, performPostSteps after the program ends),
 * dependents first; destroy then puts back what the host had.
 */
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { exampleConfig } from "../harness";
import { FakeHost, masterFields, missingPrerequisite, postconfSettings, runOnEl, serviceChange } from "./fakeHost";
import { renderSteps, Steps } from "./steps";
import { splitStdinStep } from "../../components/hostScripts";

const SPF_CHECK = "check_policy_service unix:private/policyd-spf";
const DEBIAN_MILTER = "unix:opendkim/opendkim.sock";
const OWN_MILTER = "inet:127.0.0.1:11332";

// Debian 12's main.cf for "Internet Site" (postinst), abridged, as test/host/scripts.test.ts has it.
const DEBIAN_MAIN_CF = `smtpd_banner = $myhostname ESMTP $mail_name (Debian/GNU)
biff = no
append_dot_mydomain = no
compatibility_level = 3.6
smtpd_relay_restrictions = permit_mynetworks permit_sasl_authenticated defer_unauth_destination
myhostname = mx2.example.com
mydestination = $myhostname, localhost
mynetworks = 127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128
inet_interfaces = all
`;
// Debian 12's /etc/opendkim.conf from its opendkim package (comments dropped).
const DEBIAN_OPENDKIM_CONF = `Syslog\t\t\tyes
UserID\t\t\topendkim
UMask\t\t\t007
Socket\t\t\tlocal:/run/opendkim/opendkim.sock
PidFile\t\t\t/run/opendkim/opendkim.pid
`;
// policyd-spf.conf as Debian's postfix-policyd-spf-python 3.0.4-2 ships it (test/host/policyd-spf.test.ts).
const PACKAGE_SPF_CONF = `debugLevel = 1 
TestOnly = 1

HELO_reject = Fail
Mail_From_reject = Fail

skip_addresses = 127.0.0.0/8,::ffff:127.0.0.0/104,::1
`;
const ROCKY_9 = 'NAME="Rocky Linux"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.5"\nPRETTY_NAME="Rocky Linux 9.5 (Blue Onyx)"\n';
const SPF_CONF = { debian: "/etc/postfix-policyd-spf-python/policyd-spf.conf", el: "/etc/python-policyd-spf/policyd-spf.conf" };

const prerequisite = missingPrerequisite("debian") ?? missingPrerequisite("el");
const SIGNING_ORDER = ["packages", "keys", "opendkim", "keys-retire", "postfix", "testkey"];
/** The steps that leave the program when a host stops signing, deleted dependents first (testkey hangs on Postfix, which stays). */
const SIGNING_ONLY_DELETES = ["testkey", "keys-retire", "opendkim", "keys"];

const MILTER_SETTINGS = ["milter_default_action", "milter_protocol", "smtpd_milters", "non_smtpd_milters"];

function ok(host: FakeHost, commandLine: string | undefined, stdin = ""): string {
    if (!commandLine) throw new Error("no such command");
    const r = host.run(commandLine, stdin);
    if (r.code !== 0) throw new Error(`step failed (${r.code}): ${r.stderr}${r.stdout}`);
    return r.stdout;
}
const up = (host: FakeHost, steps: Steps, names: string[]) => names.map((n) => ok(host, steps[n].create, steps[n].stdin));
const down = (host: FakeHost, steps: Steps, names: string[]) => {
    for (const n of names) if (steps[n].delete) ok(host, steps[n].delete);
};
/** The files that tell a host OpenDKIM was set up by the stack: none on a host that does not sign. */
const opendkimTraces = (host: FakeHost) =>
    host
        .sh(
            "ls -d /etc/opendkim /etc/opendkim.conf /var/spool/postfix/opendkim /var/lib/mailauth/opendkim /var/lib/mailauth/keys /var/lib/mailauth/testkey 2>/dev/null || true",
        )
        .split("\n")
        .filter(Boolean);

/** A Debian host with Postfix configured; with `opendkim`, also the package's OpenDKIM, enabled and running. */
async function debianHost(opts: { opendkim?: boolean; mainCf?: string; os?: string } = {}): Promise<FakeHost> {
    const host = await FakeHost.start("debian");
    host.write("/etc/postfix/main.cf", opts.mainCf ?? DEBIAN_MAIN_CF);
    host.write(SPF_CONF.debian, PACKAGE_SPF_CONF);
    host.unit("postfix", { active: true, enabled: true });
    if (opts.opendkim) {
        host.sh("useradd --system --user-group --no-create-home --shell /usr/sbin/nologin opendkim; install -d -o opendkim -g opendkim /run/opendkim");
        host.write("/etc/opendkim.conf", DEBIAN_OPENDKIM_CONF);
        host.write("/var/lib/fakehost/packages", "opendkim\nopendkim-tools\npostfix-policyd-spf-python\n");
        host.unit("opendkim", { active: true, enabled: true });
    }
    if (opts.os) host.write("/etc/os-release", opts.os);
    host.sh("touch /var/lib/fakehost/testkey-ok");
    return host;
}

describe("a host that does not sign, and hosts changing role (Debian's postconf)", () => {
    let signing: Steps;
    let inbound: Steps;
    let host: FakeHost | undefined;
    beforeAll(async () => {
        if (prerequisite) throw new Error(prerequisite);
        signing = await renderSteps(exampleConfig());
        inbound = await renderSteps(exampleConfig(), { mailHostArgs: () => ({ sign: false }) });
    });
    afterEach(() => host?.stop());

    it("gets the SPF agent alone and Postfix's policy service, no milter and no OpenDKIM file; a rerun changes nothing; destroy restores", async () => {
        host = await debianHost();
        const before = postconfSettings(host);
        const master = host.read("/etc/postfix/master.cf");
        expect(Object.keys(inbound)).toEqual(["packages", "postfix"]);
        up(host, inbound, ["packages", "postfix"]);
        expect(host.calls().filter((c) => c.startsWith("apt-get install"))).toEqual([
            "apt-get install -y -q --no-install-recommends postfix-policyd-spf-python",
        ]);
        expect(postconfSettings(host)).toEqual({
            ...before,
            "policyd-spf_time_limit": "3600",
            smtpd_recipient_restrictions: `permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination, ${SPF_CHECK}`,
        });
        for (const s of MILTER_SETTINGS) expect(postconfSettings(host)[s]).toBeUndefined();
        expect(host.sh("postconf -M policyd-spf/unix").trim().split(/\s+/)).toEqual(
            "policyd-spf unix - n n - 0 spawn user=policyd-spf argv=/usr/bin/policyd-spf".split(" "),
        );
        expect(host.sh("id -nG policyd-spf").trim()).toBe("policyd-spf");
        expect(opendkimTraces(host)).toEqual([]);
        expect(host.calls().filter(serviceChange)).toEqual(["systemctl reload-or-restart postfix"]);
        expect(host.calls().filter((c) => /opendkim/.test(c))).toEqual([]);

        // What apt-get would have left (its stub installs nothing).
        host.write("/var/lib/fakehost/packages", "postfix-policyd-spf-python\n");
        host.clearCalls();
        const files = host.sh("md5sum /etc/postfix/main.cf /etc/postfix/master.cf; find /var/lib/mailauth -type f -printf '%p %s %T@\\n' | sort");
        const outs = up(host, inbound, ["packages", "postfix"]);
        expect(outs[1]).toContain("unchanged: Postfix settings");
        expect(host.calls().filter((c) => serviceChange(c) || c.startsWith("apt-get"))).toEqual([]);
        expect(host.sh("md5sum /etc/postfix/main.cf /etc/postfix/master.cf; find /var/lib/mailauth -type f -printf '%p %s %T@\\n' | sort")).toBe(files);

        down(host, inbound, ["postfix", "packages"]);
        expect(postconfSettings(host)).toEqual(before);
        expect(host.read("/etc/postfix/master.cf")).toBe(master);
        expect(host.exists("/var/lib/mailauth/postfix")).toBe(false);
        expect(host.run("id policyd-spf").code).not.toBe(0);
    });

    it("signing, then not: Postfix lets go of the milter settings (the user's own milter kept), OpenDKIM's deletes give the host its own back; as a host that never signed; destroy restores", async () => {
        host = await debianHost({ opendkim: true, mainCf: `${DEBIAN_MAIN_CF}smtpd_milters = ${OWN_MILTER}\n` });
        const before = postconfSettings(host);
        const master = host.read("/etc/postfix/master.cf");
        up(host, signing, SIGNING_ORDER);
        expect(postconfSettings(host).smtpd_milters).toBe(`${OWN_MILTER}, ${DEBIAN_MILTER}`);
        expect(postconfSettings(host).milter_protocol).toBe("6");

        host.clearCalls();
        const outs = up(host, inbound, ["packages", "postfix"]);
        expect(outs[1]).toMatch(/released: milter_default_action\nreleased: milter_protocol\nreleased: smtpd_milters\nreleased: non_smtpd_milters\n/);
        expect(host.calls().filter(serviceChange)).toEqual(["systemctl reload-or-restart postfix"]);
        const spfOnly = {
            ...before,
            "policyd-spf_time_limit": "3600",
            smtpd_recipient_restrictions: `permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination, ${SPF_CHECK}`,
        };
        expect(postconfSettings(host)).toEqual(spfOnly);
        down(host, signing, SIGNING_ONLY_DELETES);
        expect(host.read("/etc/opendkim.conf")).toBe(DEBIAN_OPENDKIM_CONF);
        expect(host.unitState("opendkim")).toEqual({ active: true, enabled: true });
        expect(opendkimTraces(host)).toEqual(["/etc/opendkim.conf"]);
        expect(host.sh("cut -f2 /var/lib/mailauth/postfix/params")).toBe("policyd-spf_time_limit\nsmtpd_recipient_restrictions\n");

        // A rerun changes nothing; the host is as one that never signed would be.
        host.clearCalls();
        expect(up(host, inbound, ["packages", "postfix"])[1]).toContain("unchanged: Postfix settings");
        expect(host.calls().filter(serviceChange)).toEqual([]);
        const fresh = await debianHost({ opendkim: true, mainCf: `${DEBIAN_MAIN_CF}smtpd_milters = ${OWN_MILTER}\n` });
        try {
            up(fresh, inbound, ["packages", "postfix"]);
            expect(postconfSettings(host)).toEqual(postconfSettings(fresh));
            expect(host.read("/etc/postfix/master.cf")).toBe(fresh.read("/etc/postfix/master.cf"));
            expect(host.sh("cd /var/lib/mailauth/postfix && cat params applied spf-adopted")).toBe(
                fresh.sh("cd /var/lib/mailauth/postfix && cat params applied spf-adopted"),
            );
        } finally {
            fresh.stop();
        }

        down(host, inbound, ["postfix", "packages"]);
        expect(postconfSettings(host)).toEqual(before);
        expect(host.read("/etc/postfix/master.cf")).toBe(master);
        expect(host.exists("/var/lib/mailauth/postfix")).toBe(false);
    });

    it("not signing, then signing: OpenDKIM and the milter settings come as on a host that always signed; destroy restores", async () => {
        host = await debianHost({ opendkim: true });
        const before = postconfSettings(host);
        const master = host.read("/etc/postfix/master.cf");
        up(host, inbound, ["packages", "postfix"]);
        for (const s of MILTER_SETTINGS) expect(postconfSettings(host)[s]).toBeUndefined();
        expect(opendkimTraces(host)).toEqual(["/etc/opendkim.conf"]);
        host.clearCalls();
        up(host, signing, SIGNING_ORDER);
        expect(postconfSettings(host)).toEqual({
            ...before,
            "policyd-spf_time_limit": "3600",
            smtpd_recipient_restrictions: `permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination, ${SPF_CHECK}`,
            milter_default_action: "accept",
            milter_protocol: "6",
            smtpd_milters: DEBIAN_MILTER,
            non_smtpd_milters: "$smtpd_milters",
        });
        expect(host.exists("/etc/opendkim/KeyTable")).toBe(true);
        host.clearCalls();
        expect(up(host, signing, SIGNING_ORDER)[4]).toContain("unchanged: Postfix settings");
        expect(host.calls().filter(serviceChange)).toEqual([]);

        down(host, signing, [...SIGNING_ORDER].reverse());
        expect(postconfSettings(host)).toEqual(before);
        expect(host.read("/etc/postfix/master.cf")).toBe(master);
        expect(host.read("/etc/opendkim.conf")).toBe(DEBIAN_OPENDKIM_CONF);
        expect(opendkimTraces(host)).toEqual(["/etc/opendkim.conf"]);
        expect(host.exists("/var/lib/mailauth/postfix")).toBe(false);
    });

    it("and back again (signing, not, signing): destroy still gives back every setting and master.cf", async () => {
        host = await debianHost({ opendkim: true, mainCf: `${DEBIAN_MAIN_CF}milter_default_action = tempfail\n` });
        const before = postconfSettings(host);
        const master = host.read("/etc/postfix/master.cf");
        up(host, signing, SIGNING_ORDER);
        up(host, inbound, ["packages", "postfix"]);
        down(host, signing, SIGNING_ONLY_DELETES);
        expect(postconfSettings(host).milter_default_action).toBe("tempfail");
        up(host, signing, SIGNING_ORDER);
        expect(postconfSettings(host).milter_default_action).toBe("accept");
        down(host, signing, [...SIGNING_ORDER].reverse());
        expect(postconfSettings(host)).toEqual(before);
        expect(host.read("/etc/postfix/master.cf")).toBe(master);
    });

    it("a milter list the user changed while the host signed keeps the user's entries, less the stack's; a master.cf list rewritten for OpenDKIM gets its own value back", async () => {
        host = await debianHost({ opendkim: true });
        // smtp's own list reaching the package's OpenDKIM socket (as Debian's README.Debian suggests).
        host.sh("postconf -P 'smtp/inet/smtpd_milters=unix:/run/opendkim/opendkim.sock'");
        const before = postconfSettings(host);
        const ownOverride = host.sh("postconf -P smtp/inet/smtpd_milters");
        up(host, signing, SIGNING_ORDER);
        expect(host.sh("postconf -P smtp/inet/smtpd_milters")).toBe(`smtp/inet/smtpd_milters = ${DEBIAN_MILTER}\n`);
        host.sh(`postconf -e 'smtpd_milters=${DEBIAN_MILTER}, ${OWN_MILTER}'`);
        up(host, inbound, ["packages", "postfix"]);
        const after = postconfSettings(host);
        expect(after.smtpd_milters).toBe(OWN_MILTER);
        for (const s of ["milter_default_action", "milter_protocol", "non_smtpd_milters"]) expect(after[s]).toBeUndefined();
        expect(host.sh("postconf -P smtp/inet/smtpd_milters")).toBe(ownOverride);
        expect(host.exists("/var/lib/mailauth/postfix/overrides-applied")).toBe(false);
        down(host, signing, SIGNING_ONLY_DELETES);
        down(host, inbound, ["postfix", "packages"]);
        const { smtpd_milters: _m, ...rest } = postconfSettings(host);
        const { smtpd_milters: _b, ...restBefore } = before;
        expect(rest).toEqual(restBefore);
        expect(postconfSettings(host).smtpd_milters).toBe(OWN_MILTER);
        expect(host.sh("postconf -P smtp/inet/smtpd_milters")).toBe(ownOverride);
    });

    it("a switch cut short after its swap: the next run reloads Postfix and forgets the milter settings; destroy restores", async () => {
        host = await debianHost({ opendkim: true });
        const before = postconfSettings(host);
        up(host, signing, SIGNING_ORDER);
        // The run's edits are in place, its state not yet written: as a cut between the swap and the rest.
        const state = host.sh("cd /var/lib/mailauth/postfix && tar cf - params applied | base64 -w0");
        up(host, inbound, ["packages", "postfix"]);
        host.sh(`cd /var/lib/mailauth/postfix && echo ${state} | base64 -d | tar xf - && : >reload-pending`);
        host.clearCalls();
        const out = up(host, inbound, ["postfix"])[0];
        expect(out).toContain("released: smtpd_milters");
        expect(out).toContain("reloaded: postfix (pending from an interrupted run)");
        expect(host.sh("cut -f2 /var/lib/mailauth/postfix/params")).toBe("policyd-spf_time_limit\nsmtpd_recipient_restrictions\n");
        down(host, signing, SIGNING_ONLY_DELETES);
        down(host, inbound, ["postfix", "packages"]);
        expect(postconfSettings(host)).toEqual(before);
    });

    it("with the host's own SPF check (adopted): a host that does not sign changes nothing; one that stops signing lets go of the milter settings alone", async () => {
        const own = "smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination, check_policy_service unix:private/spfcheck\n";
        host = await debianHost({ opendkim: true, mainCf: DEBIAN_MAIN_CF + own });
        host.sh("postconf -M 'spfcheck/unix=spfcheck unix - n n - 0 spawn user=policyd-spf argv=/usr/bin/policyd-spf'");
        const before = postconfSettings(host);
        const master = host.read("/etc/postfix/master.cf");
        host.clearCalls();
        const out = ok(host, inbound.postfix.create, inbound.postfix.stdin);
        expect(out).toContain("kept: the host's SPF policy service spfcheck");
        expect(out).toContain("unchanged: Postfix settings");
        expect(host.calls().filter(serviceChange)).toEqual([]);
        expect(postconfSettings(host)).toEqual(before);
        up(host, signing, SIGNING_ORDER);
        expect(postconfSettings(host).smtpd_milters).toBe(DEBIAN_MILTER);
        expect(ok(host, inbound.postfix.create, inbound.postfix.stdin)).toContain("released: smtpd_milters");
        down(host, signing, SIGNING_ONLY_DELETES);
        expect(postconfSettings(host)).toEqual(before);
        expect(host.read("/etc/postfix/master.cf")).toBe(master);
        ok(host, inbound.postfix.delete);
        expect(postconfSettings(host)).toEqual(before);
        expect(host.read("/etc/postfix/master.cf")).toBe(master);
    });

    it("on EL (EL's os-release, Debian's postconf): the policy service with EPEL's agent path, no milter; switching from signing lets go of the inet milter", async () => {
        host = await debianHost({ os: ROCKY_9 });
        const before = postconfSettings(host);
        ok(host, inbound.postfix.create, inbound.postfix.stdin);
        expect(host.sh("postconf -M policyd-spf/unix")).toContain("argv=/usr/libexec/postfix/policyd-spf");
        for (const s of MILTER_SETTINGS) expect(postconfSettings(host)[s]).toBeUndefined();
        ok(host, signing.postfix.create, signing.postfix.stdin);
        expect(postconfSettings(host).smtpd_milters).toBe("inet:127.0.0.1:8891");
        ok(host, inbound.postfix.create, inbound.postfix.stdin);
        for (const s of MILTER_SETTINGS) expect(postconfSettings(host)[s]).toBeUndefined();
        ok(host, inbound.postfix.delete);
        expect(postconfSettings(host)).toEqual(before);
    });
});

describe("skipAddresses: merged into policyd-spf.conf and given back", () => {
    let host: FakeHost | undefined;
    afterEach(() => host?.stop());
    beforeAll(() => {
        if (prerequisite) throw new Error(prerequisite);
    });

    it.each(["debian", "el"] as const)(
        "on %s: the other MX hosts' addresses after the setting's; dropped, the setting's list comes back; destroy gives the file back",
        async (family) => {
            const config = { ...exampleConfig(), "mailauth:policydSpf": { skipAddresses: ["198.51.100.0/24"] } };
            const merged = await renderSteps(config, { mailHostArgs: () => ({ sign: false, skipAddresses: ["192.0.2.25", "2001:db8::25", "198.51.100.7"] }) });
            const settingOnly = await renderSteps(config, { mailHostArgs: () => ({ sign: false }) });
            const alone = await renderSteps(exampleConfig(), { mailHostArgs: () => ({ sign: false, skipAddresses: ["192.0.2.25"] }) });
            host = await FakeHost.start(family);
            if (family === "el") host.sh(`mkdir -p /run/el-stub; : >/run/el-stub/calls; rm -f /etc/os-release; printf '%s' '${ROCKY_9}' >/etc/os-release`);
            else host.unit("postfix", { active: true, enabled: true });
            host.write(SPF_CONF[family], PACKAGE_SPF_CONF);
            const conf = () => host!.read(SPF_CONF[family]);
            const skip = () => conf().match(/^skip_addresses = (.*)$/m)![1];

            ok(host, merged["policyd-spf"].create, merged["policyd-spf"].stdin);
            expect(skip()).toBe("127.0.0.0/8,::ffff:127.0.0.0/104,::1,198.51.100.0/24,192.0.2.25,2001:db8::25");
            expect(conf()).toBe(PACKAGE_SPF_CONF.replace(/^skip_addresses = .*$/m, `skip_addresses = ${skip()}`));
            expect(ok(host, merged["policyd-spf"].create, merged["policyd-spf"].stdin)).toContain("unchanged: policyd-spf.conf");
            // The other hosts gone (or no longer MX): the setting's list alone.
            ok(host, settingOnly["policyd-spf"].create, settingOnly["policyd-spf"].stdin);
            expect(skip()).toBe("127.0.0.0/8,::ffff:127.0.0.0/104,::1,198.51.100.0/24");
            ok(host, settingOnly["policyd-spf"].delete);
            expect(conf()).toBe(PACKAGE_SPF_CONF);
            // Without the setting, the host's own skipAddresses make the step: destroy gives the package's line back.
            ok(host, alone["policyd-spf"].create, alone["policyd-spf"].stdin);
            expect(skip()).toBe("127.0.0.0/8,::ffff:127.0.0.0/104,::1,192.0.2.25");
            ok(host, alone["policyd-spf"].delete);
            expect(conf()).toBe(PACKAGE_SPF_CONF);
            expect(host.exists("/var/lib/mailauth/policyd-spf")).toBe(false);
        },
    );
});

describe("EL hosts: a host that does not sign installs the SPF agent alone (stub dnf and rpm)", () => {
    let inbound: Steps;
    beforeAll(async () => {
        if (prerequisite) throw new Error(prerequisite);
        inbound = await renderSteps(
            { ...exampleConfig(), "mailauth:opendkim": { ...(exampleConfig()["mailauth:opendkim"] as object), nameservers: ["192.0.2.53"] } },
            {
                mailHostArgs: () => ({ sign: false }),
            },
        );
    });
    const script = () => splitStdinStep(inbound.packages.create, inbound.packages.stdin!)!.script;
    const repos = [
        { id: "appstream", name: "Rocky Linux 9 - AppStream", enabled: true },
        { id: "baseos", name: "Rocky Linux 9 - BaseOS", enabled: true },
        { id: "crb", name: "Rocky Linux 9 - CRB", enabled: true, provides: "crb" as const },
        { id: "epel", name: "Extra Packages for Enterprise Linux 9 - x86_64", enabled: true, provides: "epel" as const },
    ];

    it("installs pypolicyd-spf, not OpenDKIM, and leaves opendkim.nameservers unchecked (no OpenDKIM to ask)", async () => {
        const r = await runOnEl({ osRelease: ROCKY_9, major: "9", repos, masterFields: masterFields("n") }, script());
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
        expect(r.calls.filter((c) => /^dnf .*install/.test(c))).toEqual(["dnf -y install pypolicyd-spf"]);
        expect(r.calls.filter((c) => c.startsWith("opendkim"))).toEqual([]);
        expect(r.installed).toContain("pypolicyd-spf");
        expect(r.installed).not.toContain("opendkim");
    });

    it("with the agent installed: no repository looked at, nothing installed", async () => {
        const r = await runOnEl({ osRelease: ROCKY_9, major: "9", repos, installed: ["pypolicyd-spf"] }, script());
        expect(r.code).toBe(0);
        expect(r.calls.filter((c) => /^(dnf|subscription-manager) /.test(c))).toEqual([]);
    });
});
