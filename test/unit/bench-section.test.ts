/**
 * test/bench/section.ts: how the benchmarks (scale, check, hosts) put their section into
 * BENCHMARKS.md. The benchmarks themselves take the lab's lock; this checks the writer alone.
 */
import * as fs from "fs";
import { describe, expect, it } from "vitest";
import { BENCHMARKS_FILE, withSection } from "../bench/section";

describe("a benchmark's section of BENCHMARKS.md", () => {
    const text = fs.readFileSync(BENCHMARKS_FILE, "utf8");

    it.each(["scale", "check", "hosts"])("%s: written again as it is, the file stays byte for byte the same", (name) => {
        const section = text.match(new RegExp(`<!-- ${name}: [^\\n]*-->[\\s\\S]*?<!-- /${name} -->`))![0];
        expect(withSection(text, section.split("\n"))).toBe(text);
    });

    it("replaces its own section only, and appends it to a file without one, or to a new file", () => {
        const old = "# Benchmarks\n\nhead\n\n<!-- a: x -->\nold\n<!-- /a -->\n\n<!-- b: y -->\nkept\n<!-- /b -->\n";
        expect(withSection(old, ["<!-- a: x -->", "new", "two", "<!-- /a -->"])).toBe(
            "# Benchmarks\n\nhead\n\n<!-- a: x -->\nnew\ntwo\n<!-- /a -->\n\n<!-- b: y -->\nkept\n<!-- /b -->\n",
        );
        expect(withSection(old, ["<!-- c: z -->", "c", "<!-- /c -->"])).toBe(`${old}\n<!-- c: z -->\nc\n<!-- /c -->\n`);
        expect(withSection(undefined, ["<!-- c: z -->", "c", "<!-- /c -->"])).toBe("# Benchmarks\n\n<!-- c: z -->\nc\n<!-- /c -->\n");
    });
});
