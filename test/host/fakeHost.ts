/**
 * A throwaway "host" on this machine for running the stack's real step scripts in seconds: a
 * private mount and network namespace whose root is an overlay of this machine's root
 * filesystem, its changes kept in a tmpfs, with /tmp and /run as tmpfs, a fresh /proc, /dev
 * bound and /sys read-only. The host's processes are chrooted there, and every file this module
 * reads or writes goes through the host's own view (nsenter --root), never through
 * /proc/PID/root, whose symlinks (such as /etc/os-release -> ../usr/lib/os-release) could lead
 * back to this machine. Every write lands in the tmpfs and is gone when the host stops; a test
 * checks that this machine's files are untouched.
 *
 * One OS family's stubs are in /usr/local/sbin, which the scripts' PATH (templates/lib.sh)
 * searches first; every call is recorded:
 * - debian (test/host/stubs/debian): Postfix's own tools are the real ones (Debian's postfix
 *   package, installed by test/host/postfix-tools.sh but never configured or started here):
 *   `postconf` and `postfix check` run against the host's /etc/postfix. Service control and the
 *   tools this machine lacks are stubs; systemctl keeps each unit's active/enabled state so the
 *   scripts' decisions (reload, restart, nothing) can be asserted. Calls: /var/lib/fakehost/calls.
 * - el (test/host/stubs/el): `dnf`, `rpm`, `subscription-manager`, `getenforce`, `matchpathcon`,
 *   `opendkim`, `postconf`, `systemctl`, `useradd` and `usermod` answer from a scenario in
 *   /run/el-stub (runOnEl), calls recorded in /run/el-stub/calls; /var/lib is an empty tmpfs, as on a
 *   host with no Debian package database.
 *
 * Needs root (namespaces, overlay mounts, chroot), like the lab.
 */
import { ChildProcess, execFileSync, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import type { OsFamily } from "../../components/osFamilies";

/** The stubs of each OS family: test/host/stubs/<family>. */
const stubsOf = (family: OsFamily) => path.join(__dirname, "stubs", family);

export interface RunResult {
    code: number;
    stdout: string;
    stderr: string;
}

/** Why these tests cannot run here, or undefined when they can. EL hosts use no Postfix of this machine's. */
export function missingPrerequisite(family: OsFamily = "debian"): string | undefined {
    if (process.getuid?.() !== 0) return "the host-script tests need root (mount and network namespaces, overlay mounts)";
    if ((family === "debian" && !fs.existsSync("/usr/sbin/postconf")) || !fs.existsSync("/usr/lib/postfix/sbin/master")) {
        return "the host-script tests need Debian's postfix package (never started): bash test/host/postfix-tools.sh";
    }
    return undefined;
}

// Runs as the namespace's first process: mounts, then, chrooted into the overlay, waits on stdin.
// When the test process ends, stdin closes and the holder exits, taking the namespace and every
// tmpfs with it.
const HOLDER = `
set -euo pipefail
base=$1
stubs=$2
family=$3
mount -t tmpfs -o mode=0700 mailauth-fakehost "$base"
mkdir "$base/upper" "$base/work" "$base/root"
root=$base/root
mount -t overlay mailauth-fakehost -o "lowerdir=/,upperdir=$base/upper,workdir=$base/work" "$root"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount --bind /sys "$root/sys"
mount -o remount,bind,ro "$root/sys"
mount -t tmpfs -o mode=1777 mailauth-fakehost "$root/tmp"
mount -t tmpfs -o mode=0755 mailauth-fakehost "$root/run"
[ "$family" != el ] || mount -t tmpfs -o mode=0755 mailauth-fakehost "$root/var/lib"
ip link set lo up
install -m 0755 "$stubs"/* "$root/usr/local/sbin/"
mkdir -p "$root/var/lib/fakehost/units"
: >"$root/var/lib/fakehost/calls"
# "ready" only once chrooted: nsenter --root takes the holder's root at that moment, and before
# the chroot that is this machine's own.
exec chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin /bin/bash --norc --noprofile -c 'echo ready; read -r _ || true'
`;

export class FakeHost {
    private constructor(
        private readonly holder: ChildProcess,
        private readonly base: string,
    ) {}

    /** A host with its family's stubs in place; on debian (the default), Postfix's tools and no main.cf yet. */
    static async start(family: OsFamily = "debian"): Promise<FakeHost> {
        const why = missingPrerequisite(family);
        if (why) throw new Error(why);
        const base = fs.mkdtempSync("/tmp/mailauth-fakehost-");
        // --norc: bash reads ~/.bashrc when its stdin is a socket, as Node's pipes are (it takes
        // itself for an ssh session); this machine's root .bashrc is not the host's business.
        const holder = spawn(
            "unshare",
            ["--mount", "--net", "--propagation", "private", "--", "bash", "--norc", "--noprofile", "-c", HOLDER, "holder", base, stubsOf(family), family],
            {
                stdio: ["pipe", "pipe", "pipe"],
                env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
            },
        );
        let err = "";
        holder.stderr!.on("data", (d) => (err += d));
        await new Promise<void>((resolve, reject) => {
            holder.stdout!.once("data", () => resolve());
            holder.once("exit", (code) => reject(new Error(`fake host did not start (exit ${code}): ${err}`)));
        });
        const host = new FakeHost(holder, base);
        // The host's root and working directory are the overlay's "/" (chroot(1) changes to it;
        // nsenter --wd takes the holder's): its marker is there, and not on this machine.
        const probe = host.run("pwd; test -e /var/lib/fakehost/calls");
        if (probe.code !== 0 || probe.stdout !== "/\n" || probe.stderr !== "" || fs.existsSync("/var/lib/fakehost")) {
            host.stop();
            throw new Error("fake host: its root is not the overlay");
        }
        return host;
    }

    /** nsenter's arguments and environment for a command line run in the host. */
    private enter(commandLine: string): [string[], NodeJS.ProcessEnv] {
        return [
            ["--target", String(this.holder.pid), "--mount", "--net", "--root", "--wd", "--", "/bin/sh", "-c", commandLine],
            { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", HOME: "/var/lib/fakehost", LANG: "C.UTF-8" },
        ];
    }

    /** Runs a command line in the host as pulumi-command's SSH session would: a shell reads it. */
    run(commandLine: string, stdin = ""): RunResult {
        const [args, env] = this.enter(commandLine);
        const r = spawnSync("nsenter", args, { input: stdin, encoding: "utf8", env, maxBuffer: 64 * 1024 * 1024 });
        if (r.error) throw r.error;
        return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
    }

    /** As run, without blocking: hosts of concurrent tests run side by side. Killed after `timeoutMs`. */
    runAsync(commandLine: string, stdin = "", timeoutMs = 30_000): Promise<RunResult> {
        const [args, env] = this.enter(commandLine);
        return new Promise((resolve, reject) => {
            const child = spawn("nsenter", args, { stdio: ["pipe", "pipe", "pipe"], env, timeout: timeoutMs });
            let stdout = "";
            let stderr = "";
            child.stdout.on("data", (d) => (stdout += d));
            child.stderr.on("data", (d) => (stderr += d));
            child.on("error", reject);
            child.on("close", (status) => resolve({ code: status ?? -1, stdout, stderr }));
            child.stdin.on("error", () => undefined); // a script that does not read its stdin
            child.stdin.end(stdin);
        });
    }

    /** Runs a helper command (fixtures, inspection); fails the test when it fails. */
    sh(script: string, stdin = ""): string {
        const r = this.run(`bash -euo pipefail -c ${shq(script)}`, stdin);
        if (r.code !== 0) throw new Error(`fake host: ${script}\n${r.stderr}`);
        return r.stdout;
    }

    read(file: string): string {
        return this.sh(`cat -- ${shq(file)}`);
    }

    exists(file: string): boolean {
        return this.run(`test -e ${shq(file)}`).code === 0;
    }

    /** Writes a file (dated 10 s back, so Postfix does not wait for a young main.cf to settle). */
    write(file: string, content: string, mode = "0644"): void {
        const f = shq(file);
        this.sh(`mkdir -p "$(dirname ${f})"; cat >${f}; chmod ${mode} ${f}; touch -d "@$(($(date +%s) - 10))" ${f}`, content);
    }

    /** `mode owner:group` of a file, as `stat -c '%a %U:%G'` prints it in the host. */
    stat(file: string): string {
        return this.sh(`stat -c '%a %U:%G' ${shq(file)}`).trim();
    }

    /** Service-control and tool calls recorded since the last `clearCalls`, one line each. */
    calls(): string[] {
        return this.read("/var/lib/fakehost/calls").split("\n").filter(Boolean);
    }

    clearCalls(): void {
        this.sh(": >/var/lib/fakehost/calls");
    }

    /** Sets a unit's state as systemctl reports it. */
    unit(name: string, state: { active?: boolean; enabled?: boolean }): void {
        for (const [k, v] of Object.entries(state)) {
            const f = shq(`/var/lib/fakehost/units/${name}.${k}`);
            this.sh(v ? `: >${f}` : `rm -f ${f}`);
        }
    }

    unitState(name: string): { active: boolean; enabled: boolean } {
        return {
            active: this.exists(`/var/lib/fakehost/units/${name}.active`),
            enabled: this.exists(`/var/lib/fakehost/units/${name}.enabled`),
        };
    }

    stop(): void {
        this.holder.stdin!.end();
        if (this.holder.exitCode === null) this.holder.kill();
        fs.rmSync(this.base, { recursive: true, force: true });
    }
}

/** `postconf -n` on the host, as a map of setting to value (a setting set empty maps to ""). */
export function postconfSettings(host: FakeHost): Record<string, string> {
    const out: Record<string, string> = {};
    for (const line of host.sh("postconf -n").split("\n").filter(Boolean)) {
        const i = line.indexOf(" = ");
        out[i < 0 ? line.replace(/ =$/, "") : line.slice(0, i)] = i < 0 ? "" : line.slice(i + 3);
    }
    return out;
}

/** A recorded call that changes a service's state (not a query). */
export const serviceChange = (call: string) => /^systemctl (?!is-|show )/.test(call);

export function shq(s: string): string {
    return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Name, mode, size and time of every file under these paths of this machine, to show they were not touched. */
export function snapshot(paths: string[]): string {
    return execFileSync("bash", ["-c", `find ${paths.map(shq).join(" ")} -xdev -printf '%p %m %s %T@\\n' 2>/dev/null | sort; true`], {
        encoding: "utf8",
    });
}

/* ---- EL hosts: a scenario of what dnf, rpm, subscription-manager, opendkim -V, getenforce,
 * matchpathcon and postconf answer (test/host/stubs/el, reading /run/el-stub), and one step run
 * on a fresh el host. ---- */

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

/** Where runOnEl keeps the step, its stdin and its scenario's scripts in the host (not where a script looks). */
const EL_RUN = "/run/mailauth-el-test";

/**
 * Runs a step script on a fresh el host as pulumi-command runs it (`bash -c '<script>'`, its stdin
 * a file), the scenario's setup before it and its `after` once it ends, with the environment of
 * the scripts' SSH session (PATH without /usr/local/sbin: the scripts' own PATH, templates/lib.sh,
 * finds the stubs). The host is gone afterwards.
 */
export async function runOnEl(scenario: Scenario, script: string): Promise<Result> {
    const files: Record<string, string> = {
        "/etc/os-release": scenario.osRelease,
        // subscription-manager's repositories, as it writes them (src/subscription_manager/repofile.py:
        // YumRepoFile, etc/yum.repos.d/redhat.repo): one section per repository.
        "/etc/yum.repos.d/redhat.repo": scenario.repos
            .filter((r) => r.rhsm)
            .map((r) => `[${r.id}]\nname = ${r.name}\nenabled = ${r.enabled ? 1 : 0}\n\n`)
            .join(""),
        [`${EL_RUN}/step.sh`]: script,
        [`${EL_RUN}/setup.sh`]: scenario.setup ?? "",
        [`${EL_RUN}/stdin`]: scenario.stdin ?? "",
        [`${EL_RUN}/after.sh`]: scenario.after ?? "",
        "/run/el-stub/calls": "",
        "/run/el-stub/major": scenario.major,
        "/run/el-stub/repos": scenario.repos.map((r) => `${r.id}|${r.name}|${r.enabled ? "enabled" : "disabled"}|${r.provides ?? "-"}\n`).join(""),
        "/run/el-stub/compatibility-level": `${scenario.compatibilityLevel ?? "2"}\n`,
        "/run/el-stub/opendkim-V": OPENDKIM_V[scenario.opendkimBuild ?? "epel"],
        "/run/el-stub/selinux": `${scenario.selinux ?? "Enforcing"}\n`,
        "/run/el-stub/labels": Object.entries(scenario.labels ?? { "/run/opendkim": "system_u:object_r:dkim_milter_data_t:s0" })
            .map(([p, l]) => `${p} ${l}\n`)
            .join(""),
        "/run/el-stub/master-fields": scenario.masterFields ?? masterFields("n"),
    };
    if (scenario.dnfConf !== undefined) files["/etc/dnf/dnf.conf"] = scenario.dnfConf;
    for (const p of scenario.installed ?? ["dnf-plugins-core"]) files[`/run/el-stub/installed/${p}`] = "";
    if (scenario.registered) files["/run/el-stub/registered"] = "";
    // subscription-manager only where it is installed.
    const withRhsm = scenario.subscriptionManager ?? (scenario.registered === true || /^ID="?rhel"?$/m.test(scenario.osRelease));

    const host = await FakeHost.start("el");
    try {
        const session = (cmd: string) => `env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 ${cmd}`;
        // One call to the host for the scenario, the setup, the step and its after; one for what they
        // left. Stdin of setup and after not a socket (Node's pipes are): bash would then read
        // ~/.bashrc, as under sshd.
        const r = await host.runAsync(
            [
                "set -u",
                // os-release may be a link (Debian's: ../usr/lib/os-release): replaced, not written through.
                "rm -f /etc/os-release",
                "mkdir -p /run/el-stub/installed /etc/yum.repos.d /etc/dnf",
                ...Object.entries(files).map(([f, text]) => `mkdir -p "$(dirname ${shq(f)})" && printf '%s' ${shq(text)} >${shq(f)} || exit 125`),
                ...(withRhsm ? [] : ["rm -f /usr/local/sbin/subscription-manager"]),
                "getent group opendkim >/dev/null || /usr/sbin/groupadd -r opendkim || exit 125",
                "id opendkim >/dev/null 2>&1 || /usr/sbin/useradd -r -g opendkim -s /sbin/nologin opendkim || exit 125",
                session(`bash -c "$(cat ${EL_RUN}/setup.sh)" </dev/null >${EL_RUN}/setup.log 2>&1 || { : >${EL_RUN}/setup-failed; exit 125; }`),
                session(`bash -c "$(cat ${EL_RUN}/step.sh)" <${EL_RUN}/stdin`),
                "rc=$?",
                session(`bash -c "$(cat ${EL_RUN}/after.sh)" </dev/null >/run/el-stub/after 2>&1`),
                'exit "$rc"',
            ].join("\n"),
        );
        // Each file of /run/el-stub the result reads, after a record separator and its name.
        const left = host.sh(
            "cd /run/el-stub; for f in calls repos checked.conf after; do [ ! -e $f ] || { printf '\\036%s\\036' $f; cat $f; }; done; " +
                `printf '\\036installed\\036'; ls -A installed; [ ! -e ${EL_RUN}/setup-failed ] || { printf '\\036setup-failed\\036'; cat ${EL_RUN}/setup.log; }`,
        );
        const parts = left.split("\x1e").slice(1);
        const read = new Map<string, string>();
        for (let i = 0; i + 1 < parts.length; i += 2) read.set(parts[i], parts[i + 1]);
        if (read.has("setup-failed")) throw new Error(`EL host: the scenario's setup failed: ${read.get("setup-failed")}`);
        if (r.code === 125 && !read.has("calls")) throw new Error(`EL host: the scenario could not be put in place: ${r.stderr}`);
        return {
            code: r.code,
            stdout: r.stdout,
            stderr: r.stderr,
            calls: read.get("calls")!.split("\n").filter(Boolean),
            repos: read.get("repos")!.split("\n").filter(Boolean),
            installed: read.get("installed")!.split("\n").filter(Boolean).sort(),
            checkedConf: read.get("checked.conf"),
            after: read.get("after"),
        };
    } finally {
        host.stop();
    }
}
