/**
 * The host scripts run under `set -o pipefail`. In `producer | grep -q PATTERN`, grep exits at its
 * first match; a producer still writing then dies of SIGPIPE, and the pipeline is false though the
 * pattern is there. Bash's printf writes a multi-line value a line at a time, so this happened at
 * random (1 in 3,000 idle, more under load: a re-run of the postfix step listed OpenDKIM's milter
 * twice in a lab run), and always once the producer writes more than a pipe holds (64 KiB: the
 * names of 1,000 domains' keys during a rotation). The scripts test with here-strings or captured
 * output instead, which grep reads whole.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";

const ROOT = path.join(__dirname, "..", "..");
const TEMPLATES = path.join(ROOT, "templates");

/** A reader that may stop before its input ends: grep -q / -m / --quiet / --max-count, head. */
// A pipe: one '|', not the '||' of a list (`test || grep -q ...` reads no pipe).
const EARLY_READER = /(?<!\|)\|(?!\|)\s*(grep\s+(-[A-Za-z]*[qm][A-Za-z0-9]*|--quiet|--max-count)|head\b)/;

function templates(): string[] {
    return (fs.readdirSync(TEMPLATES, { recursive: true }) as string[]).filter((f) => f.endsWith(".sh")).map((f) => path.join(TEMPLATES, f));
}

/** A one-line function of templates/lib.sh, as written there. */
function libFunction(name: string): string {
    const line = fs
        .readFileSync(path.join(TEMPLATES, "lib.sh"), "utf8")
        .split("\n")
        .find((l) => l.startsWith(`${name}() {`));
    if (!line) throw new Error(`no one-line ${name}() in templates/lib.sh`);
    return line;
}

describe("tests on a value never pipe into a reader that stops early (pipefail)", () => {
    it("no template pipes into grep -q, grep -m or head", () => {
        const found: string[] = [];
        for (const file of templates()) {
            fs.readFileSync(file, "utf8")
                .split("\n")
                .forEach((line, i) => {
                    if (!/^\s*#/.test(line) && EARLY_READER.test(line)) found.push(`${path.relative(ROOT, file)}:${i + 1}: ${line.trim()}`);
                });
        }
        expect(templates().length).toBeGreaterThan(5);
        expect(found).toEqual([]);
    });

    it("finds what it looks for", () => {
        for (const bad of [`x | grep -q y`, `x | grep -Eq y`, `x|grep -qxF -- y`, `x | grep -m1 y`, `x | head -n 1`, `x | grep --quiet y`]) {
            expect(EARLY_READER.test(bad), bad).toBe(true);
        }
        for (const good of [`grep -q y <<<"$x"`, `x | grep -c y`, `x | grep -v y`, `x | awk '{ print }'`, `[ -n "$a" ] || grep -qF y <<<"$x"`])
            expect(EARLY_READER.test(good), good).toBe(false);
    });

    it("has_word finds a word at the head of a list longer than a pipe holds (strict mode, as the scripts run)", () => {
        const list = ["reject_unauth_destination", ...Array.from({ length: 6_000 }, (_, i) => `check_client_access_${i}`)].join(", ");
        expect(list.length).toBeGreaterThan(64 * 1024);
        // The list on stdin: as one argument it would pass Linux's 128 KiB limit for one.
        const script = `set -euo pipefail\n${libFunction("words")}\n${libFunction("has_word")}\nlist=$(cat)\nhas_word "$list" reject_unauth_destination && echo found || echo missing`;
        const r = spawnSync("bash", ["-c", script], { input: list, encoding: "utf8" });
        expect(r.stderr).toBe("");
        expect(r.stdout).toBe("found\n");
    });
});
