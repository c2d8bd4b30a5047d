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
 * Postfix's own tools are the real ones (Debian's postfix package, installed by
 * test/host/postfix-tools.sh but never configured or started here): `postconf` and `postfix
 * check` run against the host's /etc/postfix. Service control and the tools this machine lacks
 * are stubs in /usr/local/sbin, which the scripts' PATH (templates/lib.sh) searches first; every
 * call is recorded, and systemctl keeps each unit's active/enabled state so the scripts'
 * decisions (reload, restart, nothing) can be asserted.
 *
 * Needs root (namespaces, overlay mounts, chroot), like the lab.
 */
import { ChildProcess, execFileSync, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

const STUBS = path.join(__dirname, "stubs");

export interface RunResult {
    code: number;
    stdout: string;
    stderr: string;
}

/** Why these tests cannot run here, or undefined when they can. */
export function missingPrerequisite(): string | undefined {
    if (process.getuid?.() !== 0) return "the host-script tests need root (mount and network namespaces, overlay mounts)";
    if (!fs.existsSync("/usr/sbin/postconf") || !fs.existsSync("/usr/lib/postfix/sbin/master")) {
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

    /** A host with Postfix's tools, no main.cf yet and the stubs in place. */
    static async start(): Promise<FakeHost> {
        const why = missingPrerequisite();
        if (why) throw new Error(why);
        const base = fs.mkdtempSync("/tmp/mailauth-fakehost-");
        // --norc: bash reads ~/.bashrc when its stdin is a socket, as Node's pipes are (it takes
        // itself for an ssh session); this machine's root .bashrc is not the host's business.
        const holder = spawn(
            "unshare",
            ["--mount", "--net", "--propagation", "private", "--", "bash", "--norc", "--noprofile", "-c", HOLDER, "holder", base, STUBS],
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

    /** Runs a command line in the host as pulumi-command's SSH session would: a shell reads it. */
    run(commandLine: string, stdin = ""): RunResult {
        const r = spawnSync("nsenter", ["--target", String(this.holder.pid), "--mount", "--net", "--root", "--wd", "--", "/bin/sh", "-c", commandLine], {
            input: stdin,
            encoding: "utf8",
            env: { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", HOME: "/var/lib/fakehost", LANG: "C.UTF-8" },
            maxBuffer: 64 * 1024 * 1024,
        });
        if (r.error) throw r.error;
        return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
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

export function shq(s: string): string {
    return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Name, mode, size and time of every file under these paths of this machine, to show they were not touched. */
export function snapshot(paths: string[]): string {
    return execFileSync("bash", ["-c", `find ${paths.map(shq).join(" ")} -xdev -printf '%p %m %s %T@\\n' 2>/dev/null | sort; true`], {
        encoding: "utf8",
    });
}
