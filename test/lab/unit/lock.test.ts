/**
 * The lab's lock (test/lab/lock.ts), on a lock file of the test's own: a lab run holds it from its
 * start, waits while another run has it, and goes on when started under flock(1) itself.
 */
import { spawn, ChildProcess } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterEach, describe, expect, it } from "vitest";
import { flockHolders, heldByAncestor, holdLock, spawnHolder } from "../lock";

const started: ChildProcess[] = [];
afterEach(() => {
    // Its whole process group: flock(1) and the command it runs (which would outlive flock, holding our stderr).
    for (const c of started.splice(0)) {
        try {
            process.kill(-c.pid!);
        } catch {
            // Already gone.
        }
    }
});

function lockFile(): string {
    return path.join(fs.mkdtempSync(path.join(os.tmpdir(), "mailauth-lock-test-")), "lab.lock");
}

/** flock(1) holding `file` while `script` runs; resolves with the first line the script prints. */
function holder(file: string, script: string): Promise<{ child: ChildProcess; line: string }> {
    const child = spawn("flock", [file, "sh", "-c", script], { stdio: ["ignore", "pipe", "ignore"], detached: true });
    started.push(child);
    return new Promise((resolve) => child.stdout!.once("data", (d) => resolve({ child, line: String(d).trim() })));
}

describe("the lab's lock", () => {
    it("the lab and bench projects take it for the whole run (their globalSetup)", () => {
        // Its text (the config is no module tsc reads): each project's block, from its name to the next.
        const text = fs.readFileSync(path.join(__dirname, "..", "..", "..", "vitest.config.mts"), "utf8");
        const blocks = text.split(/name: "/).slice(1);
        for (const name of ["lab", "bench"]) {
            const block = blocks.find((b) => b.startsWith(`${name}"`));
            expect(block, name).toBeDefined();
            expect(block, name).toMatch(/globalSetup: \["test\/lab\/lock\.global\.ts"\]/);
        }
        expect(blocks.find((b) => b.startsWith('unit"'))).not.toMatch(/lock\.global/);
    });

    it("sees who holds it; a process under flock(1) finds it held by an ancestor, this one does not", async () => {
        const file = lockFile();
        const { child, line } = await holder(file, "echo $$; exec sleep 30");
        expect(flockHolders(file)).toEqual([child.pid]);
        expect(heldByAncestor(file, Number(line))).toBe(true);
        expect(heldByAncestor(file)).toBe(false);
    });

    it("takes it when free and gives it back on release", async () => {
        const file = lockFile();
        fs.writeFileSync(file, "");
        const release = await holdLock(file, () => {});
        expect(flockHolders(file)).toHaveLength(1);
        release();
        await expect.poll(() => flockHolders(file), { timeout: 5000 }).toEqual([]);
    });

    it("waits while another run holds it, saying so, and has it once that run ends", async () => {
        const file = lockFile();
        // The other run holds the lock until we end it (no timing: the machine may be loaded).
        const other = spawn("flock", [file, "sh", "-c", "echo held; read -r line"], { stdio: ["pipe", "pipe", "ignore"], detached: true });
        started.push(other);
        await new Promise((r) => other.stdout!.once("data", r));
        const said: string[] = [];
        let got = false;
        const taking = holdLock(file, (l) => said.push(l)).then((release) => ((got = true), release));
        await expect.poll(() => said.join("\n"), { timeout: 10_000 }).toMatch(/Waiting for the lab lock/);
        await new Promise((r) => setTimeout(r, 300));
        expect(got).toBe(false);
        other.stdin!.end("done\n");
        const release = await taking;
        expect(flockHolders(file)).toHaveLength(1);
        expect(flockHolders(file)).not.toContain(other.pid);
        release();
    });

    it("holds it with the caller's own script (the demo's: a `keep` line keeps it), showing each flock(1) it starts", async () => {
        const file = lockFile();
        const seen: ChildProcess[] = [];
        const script = 'echo locked; read -r line; [ "$line" = keep ] && exec sleep infinity; exit 0';
        const held = await spawnHolder(
            file,
            script,
            () => {},
            (c) => seen.push(c),
        );
        started.push(...seen);
        expect(held).toBeDefined();
        expect(seen).toEqual([held]);
        expect(flockHolders(file)).toEqual([held!.pid]);
        held!.stdin!.end("keep\n");
        await new Promise((r) => setTimeout(r, 300));
        expect(flockHolders(file)).toEqual([held!.pid]);
    });
});
