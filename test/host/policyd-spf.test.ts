/**
 * The policyd-spf step (templates/policyd-spf.sh, policyd-spf-delete.sh) as the program renders it,
 * on a throwaway host per OS family (test/host/fakeHost.ts): the keys the settings give are set
 * in policyd-spf.conf, every other line of the file stays, a rerun changes nothing, a setting
 * dropped and destroy put the host's own lines back. The file as each package ships it:
 * Debian's postfix-policyd-spf-python 3.0.4-2 /etc/postfix-policyd-spf-python/policyd-spf.conf
 * (its `debugLevel = 1 ` line ends in a blank), and on EL the same text at pypolicyd-spf's
 * /etc/python-policyd-spf/policyd-spf.conf (not read from an EPEL package: README, not verified).
 */
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { exampleConfig } from "../harness";
import { FakeHost, missingPrerequisite } from "./fakeHost";
import { renderSteps, Steps } from "./steps";
import { OsFamily } from "../../components/osFamilies";

const PACKAGE_CONF = `#  For a fully commented sample config file see policyd-spf.conf.commented

debugLevel = 1 
TestOnly = 1

HELO_reject = Fail
Mail_From_reject = Fail

PermError_reject = False
TempError_Defer = False

skip_addresses = 127.0.0.0/8,::ffff:127.0.0.0/104,::1
`;

const CONF: Record<OsFamily, string> = {
    debian: "/etc/postfix-policyd-spf-python/policyd-spf.conf",
    el: "/etc/python-policyd-spf/policyd-spf.conf",
};

const ROCKY_9 = 'NAME="Rocky Linux"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.5"\nPRETTY_NAME="Rocky Linux 9.5 (Blue Onyx)"\n';

const prerequisite = missingPrerequisite("debian") ?? missingPrerequisite("el");

async function steps(policydSpf: unknown): Promise<Steps> {
    return renderSteps({ ...exampleConfig(), "mailauth:policydSpf": policydSpf });
}

function ok(host: FakeHost, commandLine: string | undefined, stdin = ""): string {
    if (!commandLine) throw new Error("no such command");
    const r = host.run(commandLine, stdin);
    if (r.code !== 0) throw new Error(`step failed (${r.code}): ${r.stderr}${r.stdout}`);
    return r.stdout;
}

async function hostOf(family: OsFamily, conf: string | null = PACKAGE_CONF): Promise<FakeHost> {
    const host = await FakeHost.start(family);
    if (family === "el") host.sh(`mkdir -p /run/el-stub; : >/run/el-stub/calls; rm -f /etc/os-release; printf '%s' '${ROCKY_9}' >/etc/os-release`);
    else host.unit("postfix", { active: true, enabled: true });
    host.sh(`mkdir -p ${CONF[family].replace(/\/[^/]*$/, "")}`);
    if (conf !== null) host.write(CONF[family], conf);
    return host;
}

/** Service changes the step asked for, as each family's systemctl stub records them. */
function reloads(host: FakeHost, family: OsFamily): string[] {
    const calls = family === "el" ? host.read("/run/el-stub/calls").split("\n") : host.calls();
    return calls.filter((c) => /^systemctl (?!is-)/.test(c));
}

describe.each(["debian", "el"] as const)("policyd-spf.conf on %s", (family) => {
    let set: Steps;
    let helo: Steps;
    let host: FakeHost | undefined;
    beforeAll(async () => {
        if (prerequisite) throw new Error(prerequisite);
        set = await steps({ skipAddresses: ["192.0.2.17", "2001:db8:1::/48"], heloReject: "Softfail", mailFromReject: "SPF_Not_Pass" });
        helo = await steps({ heloReject: "No_Check" });
    });
    afterEach(() => host?.stop());

    const up = (s: Steps) => ok(host!, s["policyd-spf"].create, s["policyd-spf"].stdin);
    const down = (s: Steps) => ok(host!, s["policyd-spf"].delete);

    it("sets the keys given, keeps every other line, changes nothing on a rerun, and destroy puts the file back byte for byte", async () => {
        host = await hostOf(family);
        host.write(CONF[family], PACKAGE_CONF + "# the user's own\nWhitelist = 198.51.100.0/24\n");
        const before = host.read(CONF[family]);
        const mode = host.stat(CONF[family]);
        up(set);
        expect(host.read(CONF[family])).toBe(
            PACKAGE_CONF.replace("HELO_reject = Fail", "HELO_reject = Softfail")
                .replace("Mail_From_reject = Fail", "Mail_From_reject = SPF_Not_Pass")
                .replace(/^skip_addresses = .*$/m, "skip_addresses = 127.0.0.0/8,::ffff:127.0.0.0/104,::1,192.0.2.17,2001:db8:1::/48") +
                "# the user's own\nWhitelist = 198.51.100.0/24\n",
        );
        expect(host.stat(CONF[family])).toBe(mode);
        if (family === "debian") expect(reloads(host, family)).toEqual(["systemctl reload-or-restart postfix"]);
        const after = host.read(CONF[family]);
        if (family === "debian") host.clearCalls();
        expect(up(set)).toMatch(/unchanged: policyd-spf.conf/);
        expect(host.read(CONF[family])).toBe(after);
        if (family === "debian") expect(reloads(host, family)).toEqual([]);
        down(set);
        expect(host.read(CONF[family])).toBe(before);
        expect(host.exists("/var/lib/mailauth/policyd-spf")).toBe(false);
    });

    it("adds a key the file lacks and takes it out again; the line policyd-spf reads (the last) is the one changed", async () => {
        host = await hostOf(family, "debugLevel = 1\nHELO_reject = Fail\n# HELO_reject = Null\nHELO_reject=SPF_Not_Pass   # mine\n");
        up(set);
        expect(host.read(CONF[family])).toBe(
            "debugLevel = 1\nHELO_reject = Fail\n# HELO_reject = Null\nHELO_reject = Softfail\n" +
                "Mail_From_reject = SPF_Not_Pass\nskip_addresses = 127.0.0.0/8,::ffff:127.0.0.0/104,::1,192.0.2.17,2001:db8:1::/48\n",
        );
        down(set);
        expect(host.read(CONF[family])).toBe("debugLevel = 1\nHELO_reject = Fail\n# HELO_reject = Null\nHELO_reject=SPF_Not_Pass   # mine\n");
    });

    it("a setting dropped gives the key back; a line the user changed since stays theirs; other lines the user added stay", async () => {
        host = await hostOf(family);
        up(set);
        // The user edits the file meanwhile: their Mail_From_reject and a line of their own.
        host.sh(`sed -i 's/^Mail_From_reject = .*/Mail_From_reject = False/' ${CONF[family]}; echo 'Lookup_Time = 10' >>${CONF[family]}`);
        // Only heloReject still set: the other two keys are let go of.
        up(helo);
        const conf = host.read(CONF[family]);
        expect(conf).toMatch(/^HELO_reject = No_Check$/m);
        expect(conf).toMatch(/^Mail_From_reject = False$/m);
        expect(conf).toMatch(/^skip_addresses = 127\.0\.0\.0\/8,::ffff:127\.0\.0\.0\/104,::1$/m);
        down(helo);
        expect(host.read(CONF[family])).toBe(PACKAGE_CONF.replace("Mail_From_reject = Fail", "Mail_From_reject = False") + "Lookup_Time = 10\n");
    });

    it("a key the file already has at the value asked for is left as it is, and stays on destroy", async () => {
        const own = "HELO_reject=No_Check   # mine\n";
        host = await hostOf(family, own);
        expect(up(helo)).toMatch(/unchanged: policyd-spf.conf/);
        expect(host.read(CONF[family])).toBe(own);
        down(helo);
        expect(host.read(CONF[family])).toBe(own);
    });

    it("a run cut short after the swap reloads Postfix on the next run", async () => {
        host = await hostOf(family);
        up(helo);
        host.sh(": >/var/lib/mailauth/policyd-spf/reload-pending");
        if (family === "debian") host.clearCalls();
        expect(up(helo)).not.toMatch(/unchanged/);
        if (family === "debian") expect(reloads(host, family)).toEqual(["systemctl reload-or-restart postfix"]);
        expect(host.exists("/var/lib/mailauth/policyd-spf/reload-pending")).toBe(false);
        expect(up(helo)).toMatch(/unchanged: policyd-spf.conf/);
    });

    it("without the file, makes one with the keys and removes it on destroy", async () => {
        host = await hostOf(family, null);
        up(helo);
        expect(host.read(CONF[family])).toBe("HELO_reject = No_Check\n");
        expect(host.stat(CONF[family])).toBe("644 root:root");
        down(helo);
        expect(host.exists(CONF[family])).toBe(false);
    });
});
