/**
 * shellcheck on every shell file in the repository: the templates (fragments, checked as bash),
 * the lab's, the bench's and the tests' scripts and stubs, and .ci/run. A shell file is one named
 * *.sh or one whose first line is a sh/bash shebang. (host.test.ts checks the generated scripts.)
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";

const ROOT = path.join(__dirname, "..", "..");
const SKIP = new Set(["node_modules", ".git"]);

function shellFiles(dir = ROOT): string[] {
    const out: string[] = [];
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        if (SKIP.has(e.name)) continue;
        const p = path.join(dir, e.name);
        if (e.isDirectory()) out.push(...shellFiles(p));
        else if (e.isFile() && (e.name.endsWith(".sh") || hasShellShebang(p))) out.push(path.relative(ROOT, p));
    }
    return out.sort();
}

function hasShellShebang(file: string): boolean {
    const fd = fs.openSync(file, "r");
    try {
        const buf = Buffer.alloc(64);
        const n = fs.readSync(fd, buf, 0, 64, 0);
        return /^#!\S*(\/|env\s+)(ba)?sh\b/.test(buf.subarray(0, n).toString("utf8"));
    } finally {
        fs.closeSync(fd);
    }
}

function shellcheck(files: string[], extra: string[]): string {
    if (files.length === 0) return "";
    try {
        return execFileSync("shellcheck", ["--severity=style", ...extra, ...files], { cwd: ROOT, encoding: "utf8" });
    } catch (e: any) {
        if (e.code === "ENOENT") throw new Error("shellcheck is not installed (apt-get install shellcheck)");
        return e.stdout || String(e);
    }
}

describe("shellcheck on every shell file in the repository", () => {
    const files = shellFiles();

    it("finds them all: templates, test/**/*.sh, the stubs and .ci/run", () => {
        expect(files).toEqual(
            expect.arrayContaining([
                ".ci/run",
                "templates/lib.sh",
                "templates/packages.sh",
                "test/lab/host-packages.sh",
                "test/bench/guide.sh",
                "test/host/stubs/el/dnf",
                "test/host/stubs/debian/systemctl",
            ]),
        );
        expect(files.filter((f) => f.startsWith("templates/")).length).toBe(
            fs.readdirSync(path.join(ROOT, "templates"), { recursive: true }).filter((f) => String(f).endsWith(".sh")).length,
        );
    });

    it("passes shellcheck, every file", () => {
        // Files without a shebang (the templates) are bash fragments: bash is what runs them.
        const withShebang = files.filter((f) => hasShellShebang(path.join(ROOT, f)));
        const fragments = files.filter((f) => !withShebang.includes(f));
        expect(shellcheck(withShebang, []) + shellcheck(fragments, ["--shell=bash"])).toBe("");
    });
});
