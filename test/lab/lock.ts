/**
 * The lab's lock, taken by the lab and bench runs themselves (their vitest globalSetup,
 * test/lab/lock.global.ts): the lab's namespace, addresses and image cache are one per machine,
 * and a second run started beside the first stops its containers mid-run (seen on 2026-12-03, two
 * `vitest run --project lab` at once). The demo takes the same lock (test/demo/demo.ts).
 *
 * Run under `flock /tmp/mailauth-lab.lock ...` (DEVELOPMENT.md's older advice), the run finds the
 * lock held by one of its own ancestors and goes on: taking it again would wait for itself.
 * flock(2) locks show in /proc/locks as `FLOCK ADVISORY WRITE <pid> <major>:<minor>:<inode> ...`
 * (proc(5), /proc/locks), the pid being the process that took it (flock(1), whose child we are).
 */
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";

export const LAB_LOCK = "/tmp/mailauth-lab.lock";

/** The pids holding a flock on `file` (none when it does not exist). */
export function flockHolders(file: string): number[] {
    let ino: number;
    try {
        ino = fs.statSync(file).ino;
    } catch {
        return [];
    }
    return (
        fs
            .readFileSync("/proc/locks", "utf8")
            .split("\n")
            .map((l) => l.trim().split(/\s+/))
            // A waiter's line reads `1: -> FLOCK ...`: only holders, whose second field is the kind.
            .filter((f) => f[1] === "FLOCK" && f[3] === "WRITE" && Number(f[5]?.split(":")[2]) === ino)
            .map((f) => Number(f[4]))
    );
}

/** This process's ancestors, nearest first (from /proc/<pid>/stat's ppid). */
export function ancestors(pid = process.pid): number[] {
    const out: number[] = [];
    for (let p = pid; p > 1;) {
        let stat: string;
        try {
            stat = fs.readFileSync(`/proc/${p}/stat`, "utf8");
        } catch {
            break;
        }
        // The command name may hold spaces and parentheses: the fields follow its last ')'.
        const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        if (!(ppid > 0)) break;
        out.push(ppid);
        p = ppid;
    }
    return out;
}

/** Whether one of this process's ancestors holds the lock (the run was started under flock(1)). */
export function heldByAncestor(file: string, pid = process.pid): boolean {
    const holders = new Set(flockHolders(file));
    return ancestors(pid).some((p) => holders.has(p));
}

/**
 * flock(1) on `file` running `script`, in a session and process group of its own: tried at once,
 * then, while another run has the lock, waited for, saying so. The script prints a line once it
 * holds the lock and then waits on its stdin (our pipe). Resolves with flock(1), the holder, or
 * undefined when it ended without the lock. `spawned` sees each flock(1) as it starts (the demo
 * stops a waiting one when it is interrupted). Shared by the lab's lock and the demo's.
 */
export async function spawnHolder(
    file: string,
    script: string,
    say: (line: string) => void,
    spawned: (child: ChildProcess) => void = () => {},
): Promise<ChildProcess | undefined> {
    const attempt = (wait: boolean) =>
        new Promise<ChildProcess | undefined>((resolve, reject) => {
            const child = spawn("flock", [...(wait ? [] : ["-n"]), file, "sh", "-c", script], {
                detached: true,
                stdio: ["pipe", "pipe", "inherit"],
            });
            spawned(child);
            child.on("error", reject);
            child.stdout!.once("data", () => resolve(child));
            child.once("exit", () => resolve(undefined));
        });
    const held = await attempt(false);
    if (held) return held;
    say(`Waiting for the lab lock ${file}: another lab run (a test, a benchmark or a demo) is using the lab…`);
    return attempt(true);
}

/**
 * Holds `file`'s lock until the returned release is called (or this process ends: the holder waits
 * on our pipe), waiting for it while another run has it; nothing to hold when an ancestor has it.
 */
export async function holdLock(file: string, say: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<() => void> {
    if (heldByAncestor(file)) return () => {};
    const held = await spawnHolder(file, "echo locked; read -r line; exit 0", say);
    if (!held) throw new Error(`could not take the lab lock ${file}`);
    const holder = held;
    // The lock lives as long as the holder; the holder must not keep this process alive (vitest's
    // main process exits after teardown, and if it dies first the pipe closes and the holder exits).
    holder.unref();
    for (const s of [holder.stdin, holder.stdout] as any[]) s?.unref?.();
    return () => {
        holder.stdin!.end("done\n");
    };
}
