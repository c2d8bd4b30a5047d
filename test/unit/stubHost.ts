/**
 * A throwaway EL-like "host" for test/unit/*.test.ts: the real step scripts run in a private
 * mount namespace where /etc is an overlay whose changes vanish with it, /var/lib and /run are
 * tmpfs, the stubs of test/unit/el-stubs/ are mounted on /usr/local/sbin (which the scripts' own
 * PATH, templates/lib.sh, searches first) and /etc/os-release is the case's. Every stub call is
 * recorded. This machine is not changed. Needs root (mount namespaces), like the lab.
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const STUBS = path.join(__dirname, "el-stubs");

export interface Repo {
    id: string;
    name: string;
    enabled: boolean;
    /** What the scenario's repository carries: EPEL's packages, CRB's libmemcached, or neither. */
    provides?: "epel" | "crb";
    /**
     * Served through subscription-manager (RHSM, or a Satellite/Katello the host is registered
     * with): listed in /etc/yum.repos.d/redhat.repo, the one file subscription-manager writes and
     * the only repositories `subscription-manager repos` knows.
     */
    rhsm?: boolean;
}

export interface Scenario {
    osRelease: string;
    major: "8" | "9" | "10";
    repos: Repo[];
    installed?: string[];
    registered?: boolean;
    /**
     * Whether subscription-manager is installed: always on RHEL; on Alma, Rocky and Stream only
     * where someone installed it (a Satellite/Katello registration). Default: RHEL or registered.
     */
    subscriptionManager?: boolean;
    /** `opendkim -V`: EPEL's build (no libunbound) or Debian's (libunbound). */
    opendkimBuild?: "epel" | "unbound";
    selinux?: "Enforcing" | "Permissive" | "Disabled";
    labels?: Record<string, string>;
    /** `postconf -F` output for master.cf. */
    masterFields?: string;
    /** main.cf's compatibility_level (`postconf -xh compatibility_level`); EL9's main.cf says 2. */
    compatibilityLevel?: string;
    /** /etc/dnf/dnf.conf (e.g. `color=always`); the host's own when unset. */
    dnfConf?: string;
    /** Bash run as root in the namespace before the step (its output kept apart). */
    setup?: string;
    /** What the step reads on stdin (a key step's private key). */
    stdin?: string;
    /** Bash run after the step, to look at what it left; its output is `after`. */
    after?: string;
}

export interface Result {
    code: number;
    stdout: string;
    stderr: string;
    /** Every stubbed command the script ran, in order. */
    calls: string[];
    repos: string[];
    installed: string[];
    checkedConf?: string;
    after?: string;
}

// `opendkim -V`: Debian 12's, as printed in the lab's root filesystem; EPEL's, the same program
// with the options EPEL's opendkim.spec configures (--with-odbx --with-db --with-libmemcached
// --with-openldap --enable-query_cache --with-lua, no --with-unbound): opendkim/util.c optlist.
const V_HEAD =
    "opendkim: OpenDKIM Filter v2.11.0\n\tCompiled with OpenSSL 3.0.7 1 Nov 2022\n\tSMFI_VERSION 0x1000001\n\tlibmilter version 1.0.1\n\tSupported signing algorithms:\n\t\trsa-sha1\n\t\trsa-sha256\n\t\ted25519-sha256\n\tSupported canonicalization algorithms:\n\t\trelaxed\n\t\tsimple\n\tActive code options:\n";
export const OPENDKIM_V = {
    epel: `${V_HEAD}\t\tQUERY_CACHE\n\t\tUSE_DB\n\t\tUSE_LDAP\n\t\tUSE_LUA\n\t\tUSE_ODBX\n\tlibopendkim 2.11.0: query_cache\n`,
    unbound: `${V_HEAD}\t\tQUERY_CACHE\n\t\tUSE_DB\n\t\tUSE_LDAP\n\t\tUSE_LUA\n\t\tUSE_ODBX\n\t\tUSE_UNBOUND\n\t\t_FFR_ATPS\n\t\t_FFR_RBL\n\t\t_FFR_REPLACE_RULES\n\t\t_FFR_SENDER_MACRO\n\t\t_FFR_STATS\n\t\t_FFR_VBR\n\tlibopendkim 2.11.0: atps query_cache\n`,
};

// master.cf as EL ships it (chroot column n), and one with smtpd chrooted as Debian ships it.
export const masterFields = (chroot: "y" | "n") =>
    [
        ["smtp", "inet", chroot, "smtpd"],
        ["pickup", "unix", chroot, "pickup"],
        ["cleanup", "unix", chroot, "cleanup"],
        ["qmgr", "unix", "n", "qmgr"],
        ["submission", "inet", "n", "smtpd -o syslog_name=postfix/submission"],
        ["local", "unix", "n", "local"],
    ]
        .map(([s, t, c, cmd]) => `${s}/${t}/chroot = ${c}\n${s}/${t}/command = ${cmd}\n`)
        .join("");

// Runs in a private mount namespace: the throwaway mounts, the stubs, then the step script as
// pulumi-command runs it (`bash -c '<script>'`).
const NAMESPACE = `
set -euo pipefail
base=$1
mount -t tmpfs el-test "$base/mnt"
mkdir -p "$base/mnt/upper" "$base/mnt/work"
mount -t overlay el-test -o "lowerdir=/etc,upperdir=$base/mnt/upper,workdir=$base/mnt/work" /etc
mount -t tmpfs el-test /var/lib
mount -t tmpfs el-test /run
mkdir -p /run/el-stub
mount --bind "$base/state" /run/el-stub
mount --bind "$2" /usr/local/sbin
rm -f /etc/os-release
cp "$base/os-release" /etc/os-release
mkdir -p /etc/yum.repos.d /etc/dnf
cp "$base/redhat.repo" /etc/yum.repos.d/redhat.repo
[ ! -e "$base/dnf.conf" ] || cp "$base/dnf.conf" /etc/dnf/dnf.conf
getent group opendkim >/dev/null || /usr/sbin/groupadd -r opendkim
id opendkim >/dev/null 2>&1 || /usr/sbin/useradd -r -g opendkim -s /sbin/nologin opendkim
bash -c "$(cat "$base/setup.sh")" >"$base/setup.log" 2>&1
set +e
bash -c "$(cat "$base/step.sh")" <"$base/stdin"
rc=$?
bash -c "$(cat "$base/after.sh")" >"$base/state/after" 2>&1
exit "$rc"
`;

export async function runOnEl(scenario: Scenario, script: string): Promise<Result> {
    if (process.getuid?.() !== 0) throw new Error("the EL stub tests need root (a private mount namespace per run), as the lab does");
    const base = fs.mkdtempSync(path.join(os.tmpdir(), "mailauth-el-"));
    try {
        const state = path.join(base, "state");
        fs.mkdirSync(path.join(state, "installed"), { recursive: true });
        fs.mkdirSync(path.join(base, "mnt"));
        fs.writeFileSync(path.join(base, "os-release"), scenario.osRelease);
        fs.writeFileSync(path.join(base, "step.sh"), script);
        fs.writeFileSync(path.join(base, "setup.sh"), scenario.setup ?? "");
        fs.writeFileSync(path.join(base, "stdin"), scenario.stdin ?? "");
        fs.writeFileSync(path.join(base, "after.sh"), scenario.after ?? "");
        fs.writeFileSync(path.join(state, "calls"), "");
        fs.writeFileSync(path.join(state, "major"), scenario.major);
        fs.writeFileSync(
            path.join(state, "repos"),
            scenario.repos.map((r) => `${r.id}|${r.name}|${r.enabled ? "enabled" : "disabled"}|${r.provides ?? "-"}\n`).join(""),
        );
        // subscription-manager's repositories, as it writes them (src/subscription_manager/repofile.py:
        // YumRepoFile, etc/yum.repos.d/redhat.repo): one section per repository.
        fs.writeFileSync(
            path.join(base, "redhat.repo"),
            scenario.repos
                .filter((r) => r.rhsm)
                .map((r) => `[${r.id}]\nname = ${r.name}\nenabled = ${r.enabled ? 1 : 0}\n\n`)
                .join(""),
        );
        if (scenario.dnfConf !== undefined) fs.writeFileSync(path.join(base, "dnf.conf"), scenario.dnfConf);
        fs.writeFileSync(path.join(state, "compatibility-level"), `${scenario.compatibilityLevel ?? "2"}\n`);
        for (const p of scenario.installed ?? ["dnf-plugins-core"]) fs.writeFileSync(path.join(state, "installed", p), "");
        if (scenario.registered) fs.writeFileSync(path.join(state, "registered"), "");
        fs.writeFileSync(path.join(state, "opendkim-V"), OPENDKIM_V[scenario.opendkimBuild ?? "epel"]);
        fs.writeFileSync(path.join(state, "selinux"), `${scenario.selinux ?? "Enforcing"}\n`);
        fs.writeFileSync(
            path.join(state, "labels"),
            Object.entries(scenario.labels ?? { "/run/opendkim": "system_u:object_r:dkim_milter_data_t:s0" })
                .map(([p, l]) => `${p} ${l}\n`)
                .join(""),
        );
        fs.writeFileSync(path.join(state, "master-fields"), scenario.masterFields ?? masterFields("n"));
        // The stubs this host has: subscription-manager only where it is installed.
        const stubs = path.join(base, "stubs");
        fs.mkdirSync(stubs);
        const withRhsm = scenario.subscriptionManager ?? (scenario.registered === true || /^ID="?rhel"?$/m.test(scenario.osRelease));
        for (const f of fs.readdirSync(STUBS)) {
            if (f === "subscription-manager" && !withRhsm) continue;
            fs.copyFileSync(path.join(STUBS, f), path.join(stubs, f));
            fs.chmodSync(path.join(stubs, f), 0o755);
        }
        const r = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
            const child = spawn("unshare", ["--mount", "--propagation", "private", "--", "bash", "-c", NAMESPACE, "el-test", base, stubs], {
                // stdin not a socket: bash would then read ~/.bashrc, as under sshd.
                stdio: ["ignore", "pipe", "pipe"],
                env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C.UTF-8" },
                timeout: 30_000,
            });
            let stdout = "";
            let stderr = "";
            child.stdout.on("data", (d) => (stdout += d));
            child.stderr.on("data", (d) => (stderr += d));
            child.on("error", reject);
            child.on("close", (status) => resolve({ status, stdout, stderr }));
        });
        const read = (f: string) => (fs.existsSync(path.join(state, f)) ? fs.readFileSync(path.join(state, f), "utf8") : undefined);
        return {
            code: r.status ?? -1,
            stdout: r.stdout,
            stderr: r.stderr,
            calls: read("calls")!.split("\n").filter(Boolean),
            repos: read("repos")!.split("\n").filter(Boolean),
            installed: fs.readdirSync(path.join(state, "installed")).sort(),
            checkedConf: read("checked.conf"),
            after: read("after"),
        };
    } finally {
        fs.rmSync(base, { recursive: true, force: true });
    }
}
