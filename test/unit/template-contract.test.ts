/**
 * The contract between the TypeScript and the step scripts: each template declares, on its
 * `# inputs:` line, the variables it reads that neither it, templates/lib.sh nor buildScript sets;
 * buildScript refuses a step that does not provide exactly those (components/hostScripts.ts).
 * These tests read every template as bash does (quotes, comments, `$((...))`) and check the
 * declaration against what it really reads.
 */
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { buildScript, templateInputs } from "../../components/hostScripts";
import { hasConditionalBlocks, loadTemplate } from "../../components/templates";

const TEMPLATE_DIR = path.join(__dirname, "..", "..", "templates");
const STEP_TEMPLATES = fs
    .readdirSync(TEMPLATE_DIR)
    .filter((f) => f.endsWith(".sh") && f !== "lib.sh")
    .map((f) => f.slice(0, -3))
    .sort();

/** Set by bash itself, or by buildScript's header (STAGE). */
const BUILTIN = new Set(["SECONDS", "RANDOM", "LINENO", "HOME", "PWD", "IFS", "BASH_SOURCE", "FUNCNAME", "STAGE", "_"]);

/** Code with comments removed and quoted text blanked, plus the variables it expands. */
function scan(text: string): { code: string; reads: Set<string>; optional: Set<string> } {
    const reads = new Set<string>();
    const optional = new Set<string>();
    let code = "";
    let i = 0;
    let quote: "" | "'" | '"' = "";
    // Inside $(...) quoting starts afresh: the quote state outside, and the parentheses open inside.
    const outer: { quote: "" | '"'; depth: number }[] = [];
    const name = /^[A-Za-z_][A-Za-z0-9_]*/;
    while (i < text.length) {
        const c = text[i];
        if (quote === "'") {
            if (c === "'") quote = "";
            code += c === "\n" ? "\n" : " ";
            i++;
            continue;
        }
        if (c === "\\") {
            code += "  ";
            i += 2;
            continue;
        }
        if (quote === "" && c === "#" && (i === 0 || /[\s;|&(]/.test(text[i - 1]))) {
            while (i < text.length && text[i] !== "\n") i++;
            continue;
        }
        if (quote === "" && (c === "'" || (c === "$" && text[i + 1] === "'"))) {
            quote = "'";
            code += " ";
            i += c === "$" ? 2 : 1;
            continue;
        }
        if (c === '"') {
            quote = quote === '"' ? "" : '"';
            code += " ";
            i++;
            continue;
        }
        if (c === "$" && text.startsWith("$((", i)) {
            // Arithmetic: bare names are reads; nested $(...) commands are not.
            let depth = 0;
            let j = i + 1;
            let body = "";
            for (; j < text.length; j++) {
                if (text[j] === "(") depth++;
                else if (text[j] === ")" && --depth === 0) break;
                body += text[j];
            }
            let inner = body;
            while (/\$\([^()]*\)/.test(inner)) inner = inner.replace(/\$\([^()]*\)/g, " ");
            for (const m of inner.matchAll(/\$?\b([A-Za-z_][A-Za-z0-9_]*)\b/g)) reads.add(m[1]);
            for (const m of body.matchAll(/\$\(([^()]*)\)/g)) code += ` ${m[1]} `;
            i = j + 1;
            continue;
        }
        if (c === "$" && text[i + 1] === "(") {
            outer.push({ quote: quote as "" | '"', depth: 1 });
            quote = "";
            code += "$(";
            i += 2;
            continue;
        }
        if (quote === "" && outer.length > 0 && (c === "(" || c === ")")) {
            const top = outer[outer.length - 1];
            top.depth += c === "(" ? 1 : -1;
            if (top.depth === 0) quote = outer.pop()!.quote;
            code += c;
            i++;
            continue;
        }
        if (c === "$") {
            const braced = text[i + 1] === "{";
            const rest = text.slice(i + (braced ? 2 : 1)).replace(/^[#!]/, "");
            const m = rest.match(name);
            if (m) {
                if (braced && /^[:]?[-=?]/.test(rest.slice(m[0].length))) optional.add(m[0]);
                else reads.add(m[0]);
            }
            code += "$";
            i++;
            continue;
        }
        code += c;
        i++;
    }
    return { code, reads, optional };
}

/** Names the text assigns: NAME=, local/export/declare, for NAME in, read ... NAMES. */
function assigned(code: string): Set<string> {
    const out = new Set<string>();
    for (const m of code.matchAll(/(?:^|[\s;&|(])([A-Za-z_][A-Za-z0-9_]*)\+?=/g)) out.add(m[1]);
    for (const m of code.matchAll(/\b(?:local|export|declare|readonly)\s+((?:-\w+\s+)*[^;&|\n]*)/g)) {
        for (const w of m[1].split(/\s+/)) {
            const n = w.match(/^([A-Za-z_][A-Za-z0-9_]*)/);
            if (n && !w.startsWith("-")) out.add(n[1]);
        }
    }
    for (const m of code.matchAll(/\bfor\s+([A-Za-z_][A-Za-z0-9_]*)\s+in\b/g)) out.add(m[1]);
    for (const m of code.matchAll(/\bread\s+((?:-\w+\s+)*)([A-Za-z_][A-Za-z0-9_ \t]*)/g)) {
        for (const w of m[2].trim().split(/\s+/)) out.add(w);
    }
    return out;
}

/** The variables a template reads that must come from the step: what it must declare. */
export function undeclaredReads(template: string, libText = loadTemplate("lib.sh")): string[] {
    const lib = scan(libText);
    const own = scan(template);
    const set = new Set([...assigned(lib.code), ...assigned(own.code)]);
    return [...own.reads].filter((v) => !set.has(v) && !BUILTIN.has(v)).sort();
}

describe("template inputs (the TypeScript/script contract)", () => {
    // A step's includes (templates/include/, put before it by buildScript; see components/mailHost.ts)
    // are part of it: what they read comes from the step too.
    const INCLUDES: Record<string, string[]> = { postfix: ["postfix-milters"], opendkim: ["opendkim-merge"] };
    it.each(STEP_TEMPLATES)("templates/%s.sh declares exactly the variables it reads from the step", (t) => {
        const text = [...(INCLUDES[t] ?? []).map((i) => loadTemplate(`include/${i}.sh`)), loadTemplate(`${t}.sh`)].join("\n");
        expect(undeclaredReads(text)).toEqual([...templateInputs(t)].sort());
    });
    // A template with `#@if signing` blocks (components/templates.ts selectBlocks): a host that does
    // not sign gets the other side, without the milter includes (components/mailHost.ts).
    const WITH_BLOCKS = STEP_TEMPLATES.filter((t) => hasConditionalBlocks(`${t}.sh`));
    it("finds the templates with blocks: postfix", () => expect(WITH_BLOCKS).toEqual(["postfix"]));
    it.each(WITH_BLOCKS)("templates/%s.sh, as a host that does not sign gets it, declares exactly the variables it reads", (t) => {
        const conditions = { signing: false };
        expect(undeclaredReads(loadTemplate(`${t}.sh`, conditions))).toEqual([...templateInputs(t, conditions)].sort());
    });

    it("lib.sh reads nothing a step must provide (OS_RELEASE_FILE is optional, with a default)", () => {
        const lib = scan(loadTemplate("lib.sh"));
        expect([...lib.reads].filter((v) => !assigned(lib.code).has(v) && !BUILTIN.has(v))).toEqual([]);
        expect([...lib.optional]).toContain("OS_RELEASE_FILE");
    });

    it("finds reads in every form the templates use, and not in comments or single quotes", () => {
        const text = [
            "# inputs: A B C D E",
            "x=$(( SECONDS + A ))",
            "echo \"${B%%.*} $C\" '$NOT_READ'",
            "# $ALSO_NOT_READ",
            'for f in $D; do echo "$f"; done',
            'while read -r k v; do echo "$k $v ${E:-default}"; done',
            'echo "$x ${#arr[@]} $(($(date +%s) - 2))"',
            "arr=()",
        ].join("\n");
        expect(undeclaredReads(text, "")).toEqual(["A", "B", "C", "D"]);
    });

    it("a template that reads a variable it does not declare fails the check (e.g. testkey.sh without INTERVAL declared)", () => {
        const text = loadTemplate("testkey.sh").replace(/^# inputs: .*$/m, "# inputs: CONF TIMEOUT");
        expect(undeclaredReads(text)).toContain("INTERVAL");
        expect(undeclaredReads(text)).not.toEqual(["CONF", "DOMAIN", "SELECTOR", "TIMEOUT"]);
    });

    it("a step that does not provide a declared input (INTERVAL for the key test) fails when the program renders it", () => {
        const vars = { CONF: "/etc/opendkim.conf", TIMEOUT: "300", INTERVAL: "10" };
        expect(() => buildScript({ template: "testkey", vars })).not.toThrow();
        const { INTERVAL: _, ...withoutInterval } = vars;
        expect(() => buildScript({ template: "testkey", vars: withoutInterval })).toThrow("templates/testkey.sh: needs INTERVAL, not provided");
        expect(() => buildScript({ template: "testkey", vars: { ...vars, EXTRA: "1" } })).toThrow("templates/testkey.sh: does not declare EXTRA");
    });
});

describe("defined once", () => {
    const ROOT = path.join(__dirname, "..", "..");
    const SOURCES = ["templates", "components", "components/records"].flatMap((d) =>
        fs
            .readdirSync(path.join(ROOT, d), { withFileTypes: true })
            .filter((e) => e.isFile())
            .map((e) => path.join(d, e.name)),
    );
    const holding = (literal: string | RegExp) =>
        SOURCES.filter((f) => {
            const text = fs.readFileSync(path.join(ROOT, f), "utf8");
            return typeof literal === "string" ? text.includes(literal) : literal.test(text);
        }).sort();

    it("/etc/opendkim and the _domainkey label are each written in one place only", () => {
        expect(holding("/etc/opendkim")).toEqual(["components/hostFiles.ts"]);
        // Where a record name is built (messages may mention the label).
        expect(holding(/_domainkey\.(\$\{|\$[A-Za-z_])/)).toEqual(["components/records/dkim.ts"]);
        expect(holding(/\.private\b/)).toEqual(["components/hostFiles.ts"]);
    });

    it("the Postfix settings the create sets are the ones the delete restores: one list, recorded on the host", () => {
        const create = loadTemplate("postfix.sh");
        const desired = [...create.match(/^desired=\(\n([\s\S]*?)\n\)/m)![1].matchAll(/"([a-z_-]+)=/g)].map((m) => m[1]);
        expect(desired).toEqual([
            "policyd-spf_time_limit",
            "smtpd_recipient_restrictions",
            "milter_default_action",
            "milter_protocol",
            "smtpd_milters",
            "non_smtpd_milters",
        ]);
        // The create records every name in `desired` (with its original value) before changing it;
        // the delete walks that record and names a setting only for its special cases.
        expect(create).toMatch(/for kv in "\$\{desired\[@\]\}"; do\n    p=\$\{kv%%=\*\}/);
        const del = loadTemplate("postfix-delete.sh");
        expect(del).toContain('done <"$saved/params"');
        for (const name of del.match(/^\s+([a-z_| -]+)\)$/gm) ?? []) {
            for (const n of name
                .replace(")", "")
                .split("|")
                .map((x) => x.trim()))
                expect(desired).toContain(n);
        }
        expect(templateInputs("postfix")).not.toContain("PARAMS");
    });
});
