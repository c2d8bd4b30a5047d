/**
 * The lab stops only processes it started, by their recorded pid, never by a name pattern
 * (another engineer's lab, or a user's own process, may match the pattern).
 */
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const work = fs.mkdtempSync(path.join(os.tmpdir(), "mailauth-lab-work-"));
let lab: typeof import("../lab");
const started: ChildProcess[] = [];

/** A process whose command line reads like a lab host's systemd-nspawn for `root`. */
function lookalike(root: string): ChildProcess {
    const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 120000)", "systemd-nspawn", "-D", root, "-b"], { stdio: "ignore" });
    started.push(child);
    return child;
}

const alive = (c: ChildProcess) => c.exitCode === null && c.signalCode === null;
const exited = (c: ChildProcess) => new Promise((r) => (alive(c) ? c.once("exit", r) : r(undefined)));

beforeAll(async () => {
    process.env.MAILAUTH_LAB_WORK = work;
    lab = await import("../lab");
});
afterAll(() => {
    for (const c of started) if (alive(c)) c.kill("SIGKILL");
    fs.rmSync(work, { recursive: true, force: true });
});

describe("clearing what an aborted lab run left", () => {
    it("stops the recorded process and no other whose command line matches the same pattern", async () => {
        const ours = lookalike(`${work}/host-ours/root`);
        const other = lookalike(`${work}/host-someone-else/root`);
        // A pid recorded once, now held by an unrelated process: its marker no longer matches.
        const reused = lookalike(`${work}/host-reused/root`);
        await new Promise((r) => setTimeout(r, 300));
        lab.recordPid("mailauth-ours", ours.pid!, `-D ${work}/host-ours/root `);
        lab.recordPid("mailauth-stale", reused.pid!, `-D ${work}/host-gone/root `);

        await lab.clearLeftovers();
        await exited(ours);
        expect(alive(ours)).toBe(false);
        expect(alive(other)).toBe(true);
        expect(alive(reused)).toBe(true);
        expect(lab.recordedPids()).toEqual([]);
    });

    it("has no name-pattern kill left in the lab's code", () => {
        const source = fs.readFileSync(path.join(__dirname, "../lab.ts"), "utf8");
        expect(source).not.toMatch(/"pkill"|"killall"|pkill -f/);
    });
});
