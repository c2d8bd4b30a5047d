/**
 * BENCHMARKS.md is written in sections, one per benchmark (test/bench/scale.test.ts,
 * check.test.ts, hosts.test.ts), each between its own start and end markers; a benchmark replaces
 * its own section and leaves the rest of the file as it is. (bench.test.ts writes the file's head
 * and keeps the sections.)
 */
import * as fs from "fs";
import * as path from "path";
import { ROOT } from "../harness";

export const BENCHMARKS_FILE = path.join(ROOT, "BENCHMARKS.md");

/**
 * `old` (the file's text, undefined when there is none) with the section `lines` in place: from
 * its first line (the start marker) to its last (the end marker), or appended when the file has
 * no such section.
 */
export function withSection(old: string | undefined, lines: string[]): string {
    const text = old ?? "# Benchmarks\n";
    const [first, last] = [lines[0], lines[lines.length - 1]];
    const start = text.indexOf(first);
    const end = text.indexOf(last);
    return start >= 0 && end > start ? text.slice(0, start) + lines.join("\n") + text.slice(end + last.length) : `${text.trimEnd()}\n\n${lines.join("\n")}\n`;
}

/** Replaces (or appends) the section `lines` of BENCHMARKS.md, and prints it. */
export function writeSection(lines: string[], file = BENCHMARKS_FILE): void {
    fs.writeFileSync(file, withSection(fs.existsSync(file) ? fs.readFileSync(file, "utf8") : undefined, lines));
    console.log(lines.join("\n"));
}
