/**
 * The EL paths of the real host scripts, run on this (Debian) machine against stub `dnf`, `rpm`,
 * `subscription-manager`, `getenforce`, `matchpathcon`, `opendkim` and `postconf`
 * (test/host/stubs/el/), one os-release per case, asserting the commands the scripts run.
 *
 * Each run is a fresh el host (test/host/fakeHost.ts runOnEl): an overlay of this machine's root
 * whose changes vanish with it, /var/lib and /run tmpfs, the stubs in /usr/local/sbin, which the
 * scripts' own PATH (templates/lib.sh) searches first, and /etc/os-release the case's. This machine
 * is not changed. Needs root (namespaces), like the lab.
 *
 * What this proves: the scripts' decisions (which repository they find and enable, by which tool,
 * when they install epel-release, what they refuse and with which message, which opendkim.conf
 * they pick) given what dnf, rpm, subscription-manager and opendkim -V answer. What it does not:
 * that real dnf/subscription-manager answer that way on a given image, that the packages install,
 * or that OpenDKIM and Postfix then work under SELinux. The stubs' answers follow dnf's
 * repolist.py, subscription-manager's cli_command/*.py, EPEL's opendkim.spec and OpenDKIM's -V
 * code (cited in templates/packages.sh, lib.sh and the stubs); no EL host was run.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { exampleConfig, runProgram, scriptOf } from "../harness";
import { splitStdinStep } from "../../components/hostScripts";
import { masterFields, Repo, Result, runOnEl } from "./fakeHost";

const release = (fields: Record<string, string>) =>
    Object.entries(fields)
        .map(([k, v]) => `${k}="${v}"\n`)
        .join("");

const ROCKY_8 = release({
    NAME: "Rocky Linux",
    ID: "rocky",
    ID_LIKE: "rhel centos fedora",
    VERSION_ID: "8.10",
    PRETTY_NAME: "Rocky Linux 8.10 (Green Obsidian)",
});
const ALMA_9 = release({ NAME: "AlmaLinux", ID: "almalinux", ID_LIKE: "rhel centos fedora", VERSION_ID: "9.5", PRETTY_NAME: "AlmaLinux 9.5 (Teal Serval)" });
const RHEL_9 = release({
    NAME: "Red Hat Enterprise Linux",
    ID: "rhel",
    ID_LIKE: "fedora",
    VERSION_ID: "9.5",
    PRETTY_NAME: "Red Hat Enterprise Linux 9.5 (Plow)",
});
const ALMA_10 = release({ NAME: "AlmaLinux", ID: "almalinux", ID_LIKE: "rhel centos fedora", VERSION_ID: "10.0", PRETTY_NAME: "AlmaLinux 10.0 (Purple Lion)" });
const STREAM_10 = release({ NAME: "CentOS Stream", ID: "centos", ID_LIKE: "rhel fedora", VERSION_ID: "10", PRETTY_NAME: "CentOS Stream 10 (Coughlan)" });
const STREAM_9 = release({ NAME: "CentOS Stream", ID: "centos", ID_LIKE: "rhel fedora", VERSION_ID: "9", PRETTY_NAME: "CentOS Stream 9" });

// Repository ids as each distribution ships them.
const repo = (id: string, name: string, enabled: boolean, provides?: "epel" | "crb", rhsm?: boolean): Repo => ({ id, name, enabled, provides, rhsm });
const ROCKY_9 = release({ NAME: "Rocky Linux", ID: "rocky", ID_LIKE: "rhel centos fedora", VERSION_ID: "9.5", PRETTY_NAME: "Rocky Linux 9.5 (Blue Onyx)" });
const ROCKY_8_REPOS = [
    repo("appstream", "Rocky Linux 8 - AppStream", true),
    repo("baseos", "Rocky Linux 8 - BaseOS", true),
    repo("devel", "Rocky Linux 8 - Devel WARNING! FOR BUILDROOT AND KOJI USE", false),
    repo("extras", "Rocky Linux 8 - Extras", true),
    repo("powertools", "Rocky Linux 8 - PowerTools", false, "crb"),
];
const ALMA_9_REPOS = [
    repo("appstream", "AlmaLinux 9 - AppStream", true),
    repo("baseos", "AlmaLinux 9 - BaseOS", true),
    repo("crb", "AlmaLinux 9 - CRB", false, "crb"),
    repo("crb-debuginfo", "AlmaLinux 9 - CRB - Debug", false),
    repo("crb-source", "AlmaLinux 9 - CRB - Source", false),
    repo("extras", "AlmaLinux 9 - Extras", true),
];
const STREAM_9_REPOS = [
    repo("appstream", "CentOS Stream 9 - AppStream", true),
    repo("baseos", "CentOS Stream 9 - BaseOS", true),
    repo("crb", "CentOS Stream 9 - CRB", false, "crb"),
    repo("extras-common", "CentOS Stream 9 - Extras packages", true),
];
const RHEL_9_RHSM_REPOS = [
    repo("codeready-builder-for-rhel-9-x86_64-debug-rpms", "Red Hat CodeReady Linux Builder for RHEL 9 x86_64 (Debug RPMs)", false, undefined, true),
    repo("codeready-builder-for-rhel-9-x86_64-rpms", "Red Hat CodeReady Linux Builder for RHEL 9 x86_64 (RPMs)", false, "crb", true),
    repo("codeready-builder-for-rhel-9-x86_64-source-rpms", "Red Hat CodeReady Linux Builder for RHEL 9 x86_64 (Source RPMs)", false, undefined, true),
    repo("rhel-9-for-x86_64-appstream-rpms", "Red Hat Enterprise Linux 9 for x86_64 - AppStream (RPMs)", true, undefined, true),
    repo("rhel-9-for-x86_64-baseos-rpms", "Red Hat Enterprise Linux 9 for x86_64 - BaseOS (RPMs)", true, undefined, true),
];
// RHEL pay-as-you-go on AWS: the provider's RHUI repositories, subscription-manager unregistered.
const RHEL_9_RHUI_REPOS = [
    repo("codeready-builder-for-rhel-9-rhui-debug-rpms", "Red Hat CodeReady Linux Builder for RHEL 9 x86_64 (Debug RPMs) from RHUI", false),
    repo("codeready-builder-for-rhel-9-rhui-rpms", "Red Hat CodeReady Linux Builder for RHEL 9 x86_64 (RPMs) from RHUI", false, "crb"),
    repo("rhel-9-appstream-rhui-rpms", "Red Hat Enterprise Linux 9 for x86_64 - AppStream from RHUI (RPMs)", true),
    repo("rhel-9-baseos-rhui-rpms", "Red Hat Enterprise Linux 9 for x86_64 - BaseOS from RHUI (RPMs)", true),
    repo("rhui-client-config-server-9", "Red Hat Update Infrastructure 4 Client Configuration Server 9", true),
];
const EPEL_9 = repo("epel", "Extra Packages for Enterprise Linux 9 - x86_64", true, "epel");
// EL9's epel-release ships this one enabled beside epel (epel-release.spec, epel9 branch:
// epel-cisco-openh264.repo, enabled=1): Cisco's OpenH264 builds, none of EPEL's packages.
const CISCO_9 = repo("epel-cisco-openh264", "Extra Packages for Enterprise Linux 9 openh264 (From Cisco) - x86_64", true);
const crbOn = (repos: Repo[]) => repos.map((x) => (x.id === "crb" ? { ...x, enabled: true } : x));
const PACKAGES = ["opendkim", "opendkim-tools", "pypolicyd-spf"];

/** The calls that change or ask about repositories and packages (rpm -q and opendkim -V left out). */
const repoCalls = (r: Result) => r.calls.filter((c) => /^(dnf|subscription-manager) /.test(c));
/** The step succeeded without a word on stderr, running exactly these repository and install commands. */
function expectRepoCalls(r: Result, calls: string[]): void {
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(repoCalls(r)).toEqual(calls);
}

// The scripts as the program renders them, one program run at a time (Pulumi's runtime is one per process).
const rendered = async (opendkim: Record<string, unknown> | undefined) => {
    const config = exampleConfig();
    if (opendkim) config["mailauth:opendkim"] = opendkim;
    const run = await runProgram(config);
    return (step: string) => {
        const inputs = run.resources.find((r) => r.name === `mailhost-${step}`)!.inputs;
        const script = scriptOf(inputs.create, inputs.stdin);
        // The OpenDKIM step's files travel on its stdin.
        if (typeof inputs.stdin === "string") stdins.set(script, splitStdinStep(inputs.create, inputs.stdin)?.stdin ?? inputs.stdin);
        return script;
    };
};
const stdins = new Map<string, string>();
/** runOnEl with the step's own stdin, as pulumi-command sends it. */
const runEl = (scenario: Parameters<typeof runOnEl>[0], script: string) => runOnEl({ stdin: stdins.get(script), ...scenario }, script);
let packages: string;
let packagesWithNameservers: string;
let unix: string;
let inet: string;
let opendkimWithNameservers: string;
let postfixUnix: string;
beforeAll(async () => {
    const example = await rendered(undefined);
    packages = example("packages");
    inet = example("opendkim");
    const withNameservers = await rendered({ nameservers: ["192.0.2.53"] });
    packagesWithNameservers = withNameservers("packages");
    opendkimWithNameservers = withNameservers("opendkim");
    const withUnix = await rendered({ milterTransport: "unix" });
    unix = withUnix("opendkim");
    postfixUnix = withUnix("postfix");
}, 120_000);

describe.concurrent("EL hosts: the package step against stub dnf, rpm and subscription-manager", () => {
    it("Rocky 8: enables PowerTools with dnf config-manager, installs epel-release, then the packages", async () => {
        const r = await runEl({ osRelease: ROCKY_8, major: "8", repos: ROCKY_8_REPOS }, packages);
        expectRepoCalls(r, [
            "dnf -q --color=never repolist --all",
            "dnf config-manager --help",
            "dnf config-manager --set-enabled powertools",
            "dnf -q --color=never repolist --all",
            "dnf -y install epel-release",
            "dnf -y install opendkim opendkim-tools pypolicyd-spf",
        ]);
        expect(r.installed).toEqual(expect.arrayContaining(PACKAGES));
        expect(r.stdout).toContain("enabled repository: powertools");
    });

    it("AlmaLinux 9: enables crb (not its debug or source twin) and installs from EPEL", async () => {
        const r = await runEl({ osRelease: ALMA_9, major: "9", repos: ALMA_9_REPOS }, packages);
        expectRepoCalls(r, [
            "dnf -q --color=never repolist --all",
            "dnf config-manager --help",
            "dnf config-manager --set-enabled crb",
            "dnf -q --color=never repolist --all",
            "dnf -y install epel-release",
            "dnf -y install opendkim opendkim-tools pypolicyd-spf",
        ]);
        expect(r.repos).toContain("crb|AlmaLinux 9 - CRB|enabled|crb");
        expect(r.repos).toContain("crb-source|AlmaLinux 9 - CRB - Source|disabled|-");
    });

    it("CentOS Stream 9: enables crb, installing dnf-plugins-core first when config-manager is missing", async () => {
        const r = await runEl({ osRelease: STREAM_9, major: "9", repos: STREAM_9_REPOS, installed: [] }, packages);
        expectRepoCalls(r, [
            "dnf -q --color=never repolist --all",
            "dnf config-manager --help",
            "dnf -y install dnf-plugins-core",
            "dnf config-manager --set-enabled crb",
            "dnf -q --color=never repolist --all",
            "dnf -y install epel-release",
            "dnf -y install opendkim opendkim-tools pypolicyd-spf",
        ]);
    });

    it("EPEL already installed: CRB is still enabled when it is off, and epel-release is not installed again", async () => {
        const r = await runEl({ osRelease: ALMA_9, major: "9", repos: [...ALMA_9_REPOS, EPEL_9], installed: ["dnf-plugins-core", "epel-release"] }, packages);
        expectRepoCalls(r, [
            "dnf -q --color=never repolist --all",
            "dnf config-manager --help",
            "dnf config-manager --set-enabled crb",
            "dnf -q --color=never repolist --all",
            "dnf -y install opendkim opendkim-tools pypolicyd-spf",
        ]);
        expect(r.installed).toEqual(expect.arrayContaining(PACKAGES));
    });

    it("EPEL from a Satellite or local mirror (no epel-release package) is found by its repository", async () => {
        const satellite = repo("Default_Organization_EPEL_9_EPEL_9_x86_64", "EPEL 9 x86_64", true, "epel");
        const crbOn = ALMA_9_REPOS.map((x) => (x.id === "crb" ? { ...x, enabled: true } : x));
        const r = await runEl({ osRelease: ALMA_9, major: "9", repos: [...crbOn, satellite] }, packages);
        expectRepoCalls(r, [
            "dnf -q --color=never repolist --all",
            "dnf -q --color=never repolist --all",
            "dnf -y install opendkim opendkim-tools pypolicyd-spf",
        ]);
    });

    it("EPEL present but disabled by its owner: used for this install only, left disabled", async () => {
        const crbOn = ALMA_9_REPOS.map((x) => (x.id === "crb" ? { ...x, enabled: true } : x));
        const r = await runEl({ osRelease: ALMA_9, major: "9", repos: [...crbOn, { ...EPEL_9, enabled: false }], installed: ["epel-release"] }, packages);
        expect(r.code).toBe(0);
        expect(repoCalls(r)).toEqual([
            "dnf -q --color=never repolist --all",
            "dnf -q --color=never repolist --all",
            "dnf -y --enablerepo=epel install opendkim opendkim-tools pypolicyd-spf",
        ]);
        expect(r.repos).toContain("epel|Extra Packages for Enterprise Linux 9 - x86_64|disabled|epel");
    });

    it("RHEL 9 registered: enables CodeReady Builder through subscription-manager, EPEL from its URL", async () => {
        const r = await runEl({ osRelease: RHEL_9, major: "9", repos: RHEL_9_RHSM_REPOS, registered: true }, packages);
        expectRepoCalls(r, [
            "subscription-manager identity",
            "dnf -q --color=never repolist --all",
            "subscription-manager repos --enable codeready-builder-for-rhel-9-x86_64-rpms",
            "dnf -q --color=never repolist --all",
            "dnf -y install https://dl.fedoraproject.org/pub/epel/epel-release-latest-9.noarch.rpm",
            "dnf -y install opendkim opendkim-tools pypolicyd-spf",
        ]);
    });

    it("RHEL 9 on a cloud's update servers (RHUI, unregistered): enables the RHUI codeready-builder repository with dnf, never subscription-manager repos", async () => {
        const r = await runEl({ osRelease: RHEL_9, major: "9", repos: RHEL_9_RHUI_REPOS }, packages);
        expectRepoCalls(r, [
            "subscription-manager identity",
            "dnf -q --color=never repolist --all",
            "dnf config-manager --help",
            "dnf config-manager --set-enabled codeready-builder-for-rhel-9-rhui-rpms",
            "dnf -q --color=never repolist --all",
            "dnf -y install https://dl.fedoraproject.org/pub/epel/epel-release-latest-9.noarch.rpm",
            "dnf -y install opendkim opendkim-tools pypolicyd-spf",
        ]);
    });

    it("RHEL 9 unregistered with no codeready-builder repository: stops before installing, naming what to enable", async () => {
        const repos = RHEL_9_RHUI_REPOS.filter((x) => !x.id.startsWith("codeready"));
        const r = await runEl({ osRelease: RHEL_9, major: "9", repos }, packages);
        expect(r.code).not.toBe(0);
        expect(r.stderr).toMatch(
            /mailauth: EPEL's packages need the CodeReady Builder repository .*codeready-builder-for-rhel-9-x86_64-rpms.* Register it \(subscription-manager register\), or add your cloud provider's or your mirror's codeready-builder repository.*Nothing was installed\./,
        );
        expect(repoCalls(r)).toEqual(["subscription-manager identity", "dnf -q --color=never repolist --all"]);
        expect(r.installed).not.toContain("opendkim");
    });

    it("everything installed: no repository is looked at or changed", async () => {
        const r = await runEl({ osRelease: ALMA_9, major: "9", repos: ALMA_9_REPOS, installed: PACKAGES }, packages);
        expect(r.code).toBe(0);
        expect(repoCalls(r)).toEqual([]);
        expect(r.repos).toContain("crb|AlmaLinux 9 - CRB|disabled|crb");
    });

    it("opendkim.nameservers with EPEL's OpenDKIM (no libunbound): refused after install, before any key, with the reason", async () => {
        const r = await runEl({ osRelease: ALMA_9, major: "9", repos: ALMA_9_REPOS, installed: PACKAGES }, packagesWithNameservers);
        expect(r.code).not.toBe(0);
        expect(r.stderr).toMatch(
            /opendkim\.nameservers \(192\.0\.2\.53\) needs an OpenDKIM built with libunbound, and this host's is not \('opendkim -V' lists no USE_UNBOUND/,
        );
        const ok = await runEl({ osRelease: ALMA_9, major: "9", repos: ALMA_9_REPOS, installed: PACKAGES, opendkimBuild: "unbound" }, packagesWithNameservers);
        expect(ok.stderr).toBe("");
        expect(ok.code).toBe(0);
    });
});

describe.concurrent("EL hosts: repositories as mirrors, Satellite/Katello and dnf.conf present them (issue 16)", () => {
    it("EPEL disabled beside the enabled epel-cisco-openh264 that EL9's epel-release ships: EPEL itself is used for the install, not taken as present", async () => {
        const r = await runEl(
            { osRelease: ALMA_9, major: "9", repos: [...crbOn(ALMA_9_REPOS), { ...EPEL_9, enabled: false }, CISCO_9], installed: ["epel-release"] },
            packages,
        );
        expectRepoCalls(r, [
            "dnf -q --color=never repolist --all",
            "dnf -q --color=never repolist --all",
            "dnf -y --enablerepo=epel install opendkim opendkim-tools pypolicyd-spf",
        ]);
        expect(r.repos).toContain("epel|Extra Packages for Enterprise Linux 9 - x86_64|disabled|epel");
    });

    it("CentOS Stream 9: epel-next enabled and epel disabled: epel-next does not count, epel is used for the install", async () => {
        const next = repo("epel-next", "Extra Packages for Enterprise Linux 9 - Next - x86_64", true);
        const r = await runEl(
            { osRelease: STREAM_9, major: "9", repos: [...crbOn(STREAM_9_REPOS), { ...EPEL_9, enabled: false }, next], installed: ["epel-release"] },
            packages,
        );
        expectRepoCalls(r, [
            "dnf -q --color=never repolist --all",
            "dnf -q --color=never repolist --all",
            "dnf -y --enablerepo=epel install opendkim opendkim-tools pypolicyd-spf",
        ]);
    });

    it("only epel-cisco-openh264 and epel-testing on the host: no EPEL there, so epel-release is installed", async () => {
        const testing = repo("epel-testing", "Extra Packages for Enterprise Linux 9 - Testing - x86_64", false);
        const r = await runEl({ osRelease: ALMA_9, major: "9", repos: [...crbOn(ALMA_9_REPOS), CISCO_9, testing] }, packages);
        expectRepoCalls(r, [
            "dnf -q --color=never repolist --all",
            "dnf -q --color=never repolist --all",
            "dnf -y install epel-release",
            "dnf -y install opendkim opendkim-tools pypolicyd-spf",
        ]);
    });

    it("EPEL mirrored as epel9 (enabled) or epel_local (disabled): found by its id, epel-release never fetched from the internet", async () => {
        const epel9 = await runEl(
            { osRelease: ALMA_9, major: "9", repos: [...crbOn(ALMA_9_REPOS), repo("epel9", "EPEL 9 (local mirror)", true, "epel")] },
            packages,
        );
        expectRepoCalls(epel9, [
            "dnf -q --color=never repolist --all",
            "dnf -q --color=never repolist --all",
            "dnf -y install opendkim opendkim-tools pypolicyd-spf",
        ]);
        const local = await runEl(
            { osRelease: ALMA_9, major: "9", repos: [...crbOn(ALMA_9_REPOS), repo("epel_local", "EPEL local", false, "epel")] },
            packages,
        );
        expectRepoCalls(local, [
            "dnf -q --color=never repolist --all",
            "dnf -q --color=never repolist --all",
            "dnf -y --enablerepo=epel_local install opendkim opendkim-tools pypolicyd-spf",
        ]);
        const rocky8 = ROCKY_8_REPOS.map((x) => (x.id === "powertools" ? { ...x, enabled: true } : x));
        const epel8 = await runEl({ osRelease: ROCKY_8, major: "8", repos: [...rocky8, repo("epel8", "EPEL 8 mirror", true, "epel")] }, packages);
        expectRepoCalls(epel8, [
            "dnf -q --color=never repolist --all",
            "dnf -q --color=never repolist --all",
            "dnf -y install opendkim opendkim-tools pypolicyd-spf",
        ]);
    });

    it("AlmaLinux 9 registered with Katello: its CRB (Default_Organization_AlmaLinux_9_CRB_x86_64, not the Debug twin) enabled through subscription-manager, its EPEL found", async () => {
        const katello = [
            repo("Default_Organization_AlmaLinux_9_AppStream_x86_64", "AppStream x86_64", true, undefined, true),
            repo("Default_Organization_AlmaLinux_9_BaseOS_x86_64", "BaseOS x86_64", true, undefined, true),
            repo("Default_Organization_AlmaLinux_9_CRB_Debug_x86_64", "CRB Debug x86_64", false, undefined, true),
            repo("Default_Organization_AlmaLinux_9_CRB_x86_64", "CRB x86_64", false, "crb", true),
            repo("Default_Organization_EPEL_9_EPEL_9_x86_64", "EPEL 9 x86_64", true, "epel", true),
        ];
        const r = await runEl({ osRelease: ALMA_9, major: "9", repos: katello, registered: true }, packages);
        expectRepoCalls(r, [
            "subscription-manager identity",
            "dnf -q --color=never repolist --all",
            "subscription-manager repos --enable Default_Organization_AlmaLinux_9_CRB_x86_64",
            "dnf -q --color=never repolist --all",
            "dnf -y install opendkim opendkim-tools pypolicyd-spf",
        ]);
    });

    it("registered, but CRB is the distribution's own repository (not in redhat.repo): enabled with dnf, not subscription-manager", async () => {
        const r = await runEl(
            { osRelease: ALMA_9, major: "9", repos: [...ALMA_9_REPOS, EPEL_9], registered: true, installed: ["dnf-plugins-core", "epel-release"] },
            packages,
        );
        expectRepoCalls(r, [
            "subscription-manager identity",
            "dnf -q --color=never repolist --all",
            "dnf config-manager --help",
            "dnf config-manager --set-enabled crb",
            "dnf -q --color=never repolist --all",
            "dnf -y install opendkim opendkim-tools pypolicyd-spf",
        ]);
    });

    it("Rocky 9 on a mirror naming CRB rocky9-crb (rocky9-crb-source beside it): enabled with dnf", async () => {
        const mirror = [
            repo("rocky9-appstream", "Rocky 9 AppStream (mirror)", true),
            repo("rocky9-baseos", "Rocky 9 BaseOS (mirror)", true),
            repo("rocky9-crb", "Rocky 9 CRB (mirror)", false, "crb"),
            repo("rocky9-crb-source", "Rocky 9 CRB source (mirror)", false),
            repo("rocky9-epel", "Rocky 9 EPEL (mirror)", true, "epel"),
        ];
        const r = await runEl({ osRelease: ROCKY_9, major: "9", repos: mirror }, packages);
        expectRepoCalls(r, [
            "dnf -q --color=never repolist --all",
            "dnf config-manager --help",
            "dnf config-manager --set-enabled rocky9-crb",
            "dnf -q --color=never repolist --all",
            "dnf -y install opendkim opendkim-tools pypolicyd-spf",
        ]);
    });

    it("dnf.conf says color=always: dnf is asked for no colour, and the repositories are read", async () => {
        const r = await runEl({ osRelease: ALMA_9, major: "9", repos: ALMA_9_REPOS, dnfConf: "[main]\ngpgcheck=1\ncolor=always\n" }, packages);
        expectRepoCalls(r, [
            "dnf -q --color=never repolist --all",
            "dnf config-manager --help",
            "dnf config-manager --set-enabled crb",
            "dnf -q --color=never repolist --all",
            "dnf -y install epel-release",
            "dnf -y install opendkim opendkim-tools pypolicyd-spf",
        ]);
    });
});

describe.concurrent("EL 10 hosts: EPEL 10 has opendkim and opendkim-tools, not pypolicyd-spf", () => {
    const ALMA_10_REPOS = [
        repo("appstream", "AlmaLinux 10 - AppStream", true),
        repo("baseos", "AlmaLinux 10 - BaseOS", true),
        repo("crb", "AlmaLinux 10 - CRB", false, "crb"),
        repo("extras", "AlmaLinux 10 - Extras", true),
    ];

    it("AlmaLinux 10 and CentOS Stream 10 without pypolicyd-spf: refused before any repository is looked at, naming what is missing", async () => {
        for (const osRelease of [ALMA_10, STREAM_10]) {
            const r = await runEl({ osRelease, major: "10", repos: ALMA_10_REPOS }, packages);
            expect(r.code).not.toBe(0);
            expect(r.stderr).toMatch(
                /mailauth: EL 10: EPEL 10 has opendkim and opendkim-tools but no pypolicyd-spf \(EPEL builds it for EL 8 and 9 only\), and this host does not have it installed\..*Nothing was installed\./,
            );
            expect(repoCalls(r)).toEqual([]);
            expect(r.repos).toContain("crb|AlmaLinux 10 - CRB|disabled|crb");
        }
    });

    it("AlmaLinux 10 with pypolicyd-spf installed by its owner: CRB enabled, epel-release, then opendkim and opendkim-tools from EPEL 10", async () => {
        const r = await runEl({ osRelease: ALMA_10, major: "10", repos: ALMA_10_REPOS, installed: ["dnf-plugins-core", "pypolicyd-spf"] }, packages);
        expectRepoCalls(r, [
            "dnf -q --color=never repolist --all",
            "dnf config-manager --help",
            "dnf config-manager --set-enabled crb",
            "dnf -q --color=never repolist --all",
            "dnf -y install epel-release",
            "dnf -y install opendkim opendkim-tools",
        ]);
    });
});

describe.concurrent("EL hosts: the OpenDKIM step's checks against stub opendkim -V, getenforce, matchpathcon and postconf", () => {
    const el9 = { osRelease: ALMA_9, major: "9" as const, repos: ALMA_9_REPOS, installed: PACKAGES };

    it("milterTransport unix on EL: the socket goes to /run/opendkim (dkim_milter_data_t), checked unchrooted and labelled", async () => {
        const r = await runEl(el9, unix);
        // The stub opendkim -n stops the step right after every check passed.
        expect(r.stderr).toContain("does not pass 'opendkim -n'");
        expect(r.calls).toEqual(expect.arrayContaining(["postconf -F */*/chroot */*/command", "getenforce ", "matchpathcon -n /run/opendkim"]));
        expect(r.checkedConf).toContain("Socket                  local:/run/opendkim/opendkim.sock\n");
    });

    it("milterTransport unix: Postfix names /run/opendkim's socket by its absolute path on EL, the queue-relative one on Debian", () => {
        expect(postfixUnix).toMatch(/el\)\n\s+POLICYD_SPF_BIN='[^']*'\n\s+MILTER='unix:\/run\/opendkim\/opendkim\.sock'/);
        expect(postfixUnix).toMatch(/debian\)\n\s+POLICYD_SPF_BIN='[^']*'\n\s+MILTER='unix:opendkim\/opendkim\.sock'/);
        // A later transport change drops this milter from smtpd_milters.
        expect(postfixUnix).toMatch(/KNOWN_MILTERS='[^']*unix:\/run\/opendkim\/opendkim\.sock/);
        expect(unix).toMatch(/el\)\n\s+SOCKET_DIR='\/run\/opendkim'\n\s+MAKE_SOCKET_DIR=''/);
    });

    it("milterTransport unix on EL where smtpd is chrooted: refused with the reason, nothing changed", async () => {
        const r = await runEl({ ...el9, masterFields: masterFields("y") }, unix);
        expect(r.code).not.toBe(0);
        expect(r.stderr).toMatch(
            /milterTransport unix puts OpenDKIM's socket in \/run\/opendkim, which the chrooted Postfix services in master\.cf \(cleanup\/unix smtp\/inet\) cannot reach; use milterTransport inet/,
        );
        expect(r.calls.some((c) => c.startsWith("opendkim -n") || c.startsWith("systemctl"))).toBe(false);
    });

    it("milterTransport unix on EL where master.cf leaves smtpd's chroot at '-' and compatibility_level is below 1 (Postfix then chroots it): refused", async () => {
        const dash = masterFields("n").replace("smtp/inet/chroot = n", "smtp/inet/chroot = -");
        const r = await runEl({ ...el9, masterFields: dash, compatibilityLevel: "0" }, unix);
        expect(r.code).not.toBe(0);
        expect(r.stderr).toMatch(
            /milterTransport unix puts OpenDKIM's socket in \/run\/opendkim, which the chrooted Postfix services in master\.cf \(smtp\/inet\) cannot reach/,
        );
        // At compatibility_level 1 or later '-' is n: accepted (the stub opendkim -n then stops the step).
        const ok = await runEl({ ...el9, masterFields: dash, compatibilityLevel: "2" }, unix);
        expect(ok.stderr).toContain("does not pass 'opendkim -n'");
    });

    it("milterTransport unix on EL where SELinux does not label /run/opendkim for OpenDKIM: refused with the reason", async () => {
        const r = await runEl({ ...el9, labels: { "/run/opendkim": "system_u:object_r:var_run_t:s0" } }, unix);
        expect(r.code).not.toBe(0);
        expect(r.stderr).toMatch(/SELinux labels \/run\/opendkim 'system_u:object_r:var_run_t:s0', not dkim_milter_data_t/);
        // SELinux disabled: no label to check.
        const off = await runEl({ ...el9, selinux: "Disabled", labels: { "/run/opendkim": "system_u:object_r:var_run_t:s0" } }, unix);
        expect(off.stderr).toContain("does not pass 'opendkim -n'");
    });

    it("EPEL's OpenDKIM (no libunbound) gets the configuration whose DNS comment says so; Debian's build keeps the libunbound one", async () => {
        const epel = await runEl(el9, inet);
        expect(epel.checkedConf).toContain("# DNS: the system resolver (/etc/resolv.conf); this OpenDKIM is built without libunbound (opendkim -V).\n");
        expect(epel.checkedConf).not.toContain("libunbound),");
        expect(epel.checkedConf).toContain("Socket                  inet:8891@127.0.0.1\n");
        const unbound = await runEl({ ...el9, opendkimBuild: "unbound" }, inet);
        expect(unbound.checkedConf).toContain("# DNS: OpenDKIM's built-in recursive resolver (libunbound), starting from the root servers.\n");
    });

    it("opendkim.nameservers on an OpenDKIM without libunbound: the OpenDKIM step refuses too, the old configuration stays", async () => {
        const r = await runEl(el9, opendkimWithNameservers);
        expect(r.code).not.toBe(0);
        expect(r.stderr).toMatch(/opendkim\.nameservers needs an OpenDKIM built with libunbound.*the old configuration stays in force/);
        expect(r.calls.some((c) => c.startsWith("opendkim -n"))).toBe(false);
    });
});
