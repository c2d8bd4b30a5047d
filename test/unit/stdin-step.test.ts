/**
 * The one-line command of a step whose script travels on stdin (components/hostScripts.ts
 * stdinCommandLine), run by a real bash as sshd runs a command ($SHELL -c).
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { splitStdinStep, stdinCommandLine, stdinWithScript } from "../../components/hostScripts";

const run = (command: string, stdin: string) => spawnSync("bash", ["-c", command], { input: stdin, encoding: "utf8" });

describe("a step whose script travels on stdin", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mailauth-stdin-step-"));
    const marker = path.join(dir, "ran");
    // Non-ASCII on purpose: the command counts bytes, not characters.
    const script = `#!/bin/bash\n# über\ntouch '${marker}'\necho "own stdin: $(cat)"\nexit 3\n`;
    const command = stdinCommandLine(script, "root", "mailauth-test");

    it("runs the script with the rest of stdin as its own, and exits with its status", () => {
        fs.rmSync(marker, { force: true });
        const r = run(command, stdinWithScript(script, "the tables\n"));
        expect(r.stdout).toBe("own stdin: the tables\n");
        expect(r.status).toBe(3);
        expect(fs.existsSync(marker)).toBe(true);
        expect(splitStdinStep(command, stdinWithScript(script, "x"))).toEqual({ script, stdin: "x" });
    });

    it("refuses a script cut short, and runs none of it", () => {
        fs.rmSync(marker, { force: true });
        const r = run(command, script.slice(0, -12));
        expect(r.status).toBe(70);
        expect(r.stderr).toContain("the step's script did not arrive whole on stdin");
        expect(fs.existsSync(marker)).toBe(false);
    });

    it("is one short line whatever the script's size, and leaves no file behind", () => {
        const big = `${"# filler\n".repeat(20000)}true\n`;
        const line = stdinCommandLine(big, "deploy", "mailauth-x");
        expect(line.length).toBeLessThan(300);
        expect(line).toMatch(/^sudo -n bash -c '.*' mailauth-x$/);
        // mktemp wrapped to note the file it made (other runs may make theirs in /tmp meanwhile).
        const bin = path.join(dir, "bin");
        fs.mkdirSync(bin, { recursive: true });
        const made = path.join(dir, "made");
        fs.writeFileSync(
            path.join(bin, "mktemp"),
            `#!/bin/bash\nf=$(/usr/bin/env -u PATH PATH=/usr/bin:/bin mktemp "$@") || exit\necho "$f" >> '${made}'\necho "$f"\n`,
            { mode: 0o755 },
        );
        const r = spawnSync("bash", ["-c", stdinCommandLine(big, "root", "mailauth-x")], {
            input: big,
            encoding: "utf8",
            env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
        });
        expect(r.status, r.stderr).toBe(0);
        const files = fs.readFileSync(made, "utf8").trim().split("\n");
        expect(files).toHaveLength(1);
        expect(files[0]).toMatch(/^\/tmp\/mailauth-step\./);
        expect(fs.existsSync(files[0])).toBe(false);
    });
});
