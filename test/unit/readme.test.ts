/**
 * The README and the documents it links must not go stale:
 * - the excerpt of `npm run demo`'s output is checked against what the demo prints
 *   (test/demo/demo.ts, read with TypeScript's parser: every line must be one the demo can print)
 *   and against the host steps the program makes (the lab's runner, the demo's own engine, run
 *   with the demo's settings on a fake host): the step list follows the program, not this file;
 * - every relative link and #anchor in README.md, DEVELOPMENT.md and docs/*.md leads somewhere, and
 *   every file of the repository they name in `code` exists;
 * - the README's example of a zone with a record in the way is the program's message for it;
 * - every README section a message of the stack cites ("README: \"Rotating the DKIM key\"") exists;
 * - every `npm` command of the README and DEVELOPMENT.md is a script of package.json, and CI
 *   (.ci/run) runs the README's own.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exampleConfig, programError, ROOT, scriptOf, TEST_SSH_PRIVATE_KEY } from "../harness";
import { FakeCloudflare } from "../cloudflare";
import { splitStdinStep } from "../../components/hostScripts";
import { DOMAINS, labConfig } from "../lab/fixture";
import { LabKeys } from "../lab/lab";
import { LabRunner, Operation, RecordStore, RemoteExec } from "../lab/runner";

const read = (file: string) => fs.readFileSync(path.join(ROOT, file), "utf8");

// ---------------------------------------------------------------- what test/demo/demo.ts can print

/** A regular expression for what an expression can print, and how many of its characters are fixed text. */
interface Pattern {
    re: string;
    fixed: number;
}
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const ANY: Pattern = { re: "(?:.*?)", fixed: 0 };
const PAINT = new Set(["dim", "bold", "green", "red"]);

function pattern(node: ts.Expression): Pattern {
    if (ts.isParenthesizedExpression(node)) return pattern(node.expression);
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return { re: escape(node.text), fixed: node.text.length };
    if (ts.isTemplateExpression(node)) {
        let re = escape(node.head.text);
        let fixed = node.head.text.length;
        for (const span of node.templateSpans) {
            const inner = pattern(span.expression);
            re += inner.re + escape(span.literal.text);
            fixed += inner.fixed + span.literal.text.length;
        }
        return { re, fixed };
    }
    // A colour around text prints the text (the demo colours only on a terminal).
    if (ts.isCallExpression(node) && ts.isIdentifier(node.expression) && PAINT.has(node.expression.text) && node.arguments.length === 1) {
        return pattern(node.arguments[0]);
    }
    if (ts.isConditionalExpression(node)) {
        const [a, b] = [pattern(node.whenTrue), pattern(node.whenFalse)];
        return { re: `(?:${a.re}|${b.re})`, fixed: Math.min(a.fixed, b.fixed) };
    }
    if (ts.isBinaryExpression(node) && node.operatorToken.kind === ts.SyntaxKind.PlusToken) {
        const [a, b] = [pattern(node.left), pattern(node.right)];
        return { re: a.re + b.re, fixed: a.fixed + b.fixed };
    }
    return ANY;
}

interface DemoText {
    /** Lines the demo prints with say(), as patterns with at least some fixed text. */
    lines: RegExp[];
    /** Its check() lines: "✓ <label padded to 6> <detail>". */
    checks: RegExp[];
    /** The titles of its steps, in the order they run (the --keep step last). */
    titles: RegExp[];
    /** The number of steps it announces ([n/TOTAL]) without --keep. */
    total: number;
    /** The line it ends with. */
    done: RegExp[];
}

function demoText(): DemoText {
    const file = path.join(ROOT, "test/demo/demo.ts");
    const source = ts.createSourceFile(file, fs.readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
    const text: DemoText = { lines: [], checks: [], titles: [], total: 0, done: [] };
    const full = (re: string) => new RegExp(`^${re}$`);
    const visit = (node: ts.Node) => {
        if (ts.isCallExpression(node) && ts.isIdentifier(node.expression)) {
            const [name, args] = [node.expression.text, node.arguments];
            if (name === "say" && args.length === 1) {
                const p = pattern(args[0]);
                // A line of mostly substituted values ("    ${mark} ${path}") says nothing a test can hold.
                if (p.fixed >= 12) (/^Demo done in /.test(p.re) ? text.done : text.lines).push(full(p.re));
            }
            if (name === "check" && args.length === 3) {
                text.checks.push(full(`    [✓✗] ${pattern(args[1]).re} +${pattern(args[2]).re}`));
            }
            if (name === "step" && args.length === 2) text.titles.push(full(pattern(args[0]).re));
        }
        if (
            ts.isVariableDeclaration(node) &&
            ts.isIdentifier(node.name) &&
            node.name.text === "TOTAL" &&
            node.initializer &&
            ts.isNumericLiteral(node.initializer)
        ) {
            text.total = Number(node.initializer.text);
        }
        ts.forEachChild(node, visit);
    };
    visit(source);
    return text;
}

// ---------------------------------------------------------------- the README's excerpt

const EXCERPT_START = "<!-- demo-output:start";
const EXCERPT_END = "<!-- demo-output:end -->";

/** The excerpt's lines, from its fenced block between the markers. */
function excerpt(): string[] {
    const readme = read("README.md");
    const start = readme.indexOf(EXCERPT_START);
    const end = readme.indexOf(EXCERPT_END);
    expect(start, `README.md has the demo excerpt between ${EXCERPT_START} ... --> and ${EXCERPT_END}`).toBeGreaterThan(-1);
    expect(end).toBeGreaterThan(start);
    const block = readme.slice(start, end).match(/\n```[a-z]*\n([\s\S]*?)\n```\n/);
    expect(block, "a fenced block between the markers").not.toBeNull();
    return block![1].split("\n");
}

interface Section {
    number: number;
    title: string;
    lines: string[];
}

/** The excerpt cut at its step headers ("[4/9] pulumi up: ..."); section 0 is what comes before the first. */
function sections(lines: string[]): Section[] {
    const out: Section[] = [{ number: 0, title: "", lines: [] }];
    for (const line of lines) {
        const header = line.match(/^\[(\d+)\/(\d+)\] (.*)$/);
        if (header) out.push({ number: Number(header[1]), title: header[3], lines: [] });
        else out[out.length - 1].lines.push(line);
    }
    return out;
}

const OPERATION = /^ {4}(create|update|replace|delete) +(\S+) +\d+(?:\.\d)? s$/;
const RECORD = /^ {4}✓ (\S+)\. (\d+) IN ([A-Z]+) (.+)$/;
const TIMING = /^ {4}\((?:\d+\.\d s|\d+ min \d+ s)\)$/;
const ELIDED = /^ *…$/;

// ---------------------------------------------------------------- the demo's runs, on a fake host

/** A host that runs nothing and answers as the real one does where the runner reads the answer. */
const fakeExec: RemoteExec = async (_connection, commandLine, commandStdin) => {
    const split = splitStdinStep(commandLine, commandStdin);
    const script = split?.script ?? scriptOf(commandLine);
    const stdin = split?.stdin ?? commandStdin;
    // The key test prints a verdict for each `<domain> <selector> <digest>` line of its stdin.
    if (/# mailauth step: testkey/.test(script)) return { stdout: stdin.replace(/^(\S+) (\S+) \S+$/gm, "$1 $2 key OK"), stderr: "" };
    return { stdout: "", stderr: "" };
};
const noDns: RecordStore = { set: () => {}, unset: () => {} };

interface DemoRun {
    operations: Operation[];
    /** The stack's `records` output; an MX with the priority its DNS record resource was given. */
    records: { name: string; type: string; value: string; priority?: number }[];
    ttl: number;
}

/** The selector the demo rotates to: `const next = "..."` in test/demo/demo.ts's demoConfigs. */
function demoNextSelector(): string {
    const file = path.join(ROOT, "test/demo/demo.ts");
    const source = ts.createSourceFile(file, fs.readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
    let next: string | undefined;
    const visit = (node: ts.Node, inside: boolean) => {
        if (ts.isFunctionDeclaration(node) && node.name?.text === "demoConfigs") inside = true;
        if (
            inside &&
            ts.isVariableDeclaration(node) &&
            ts.isIdentifier(node.name) &&
            node.name.text === "next" &&
            node.initializer &&
            ts.isStringLiteral(node.initializer)
        ) {
            next = node.initializer.text;
        }
        ts.forEachChild(node, (child) => visit(child, inside));
    };
    visit(source, false);
    expect(next, 'demoConfigs in test/demo/demo.ts sets the rotated selector as const next = "..."').toBeDefined();
    return next!;
}

/**
 * The demo's three runs, as test/demo/demo.ts's story and demoConfigs make them (demoConfigs is
 * not exported; this follows it): the example stack's domains that the lab serves, at the
 * example's first selector; then rotated to the demo's next selector with the first kept
 * published; then destroy.
 */
async function demoRuns(dir: string): Promise<{ up: DemoRun; rotated: DemoRun; destroy: DemoRun }> {
    const next = demoNextSelector();
    const example = exampleConfig();
    const keys = { privateKey: TEST_SSH_PRIVATE_KEY, hostKey: (example["mailauth:ssh"] as { hostKey: string }).hostKey } as LabKeys;
    const domains = (example["mailauth:domains"] as { name: string; zoneId: string; selector: string }[]).filter((d) => DOMAINS.includes(d.name));
    const first = domains[0].selector;
    const up = labConfig(keys, { "mailauth:domains": domains.map(({ name, zoneId }) => ({ name, zoneId, selector: first })) });
    const rotated = labConfig(keys, {
        "mailauth:domains": domains.map(({ name, zoneId }) => ({ name, zoneId, selector: next, previousSelectors: [first] })),
    });
    const runner = new LabRunner(path.join(dir, "state.json"), noDns, keys, fakeExec);
    const ttl = up["mailauth:ttl"] as number;
    /** The stack's records after a run, each MX with the priority its DNS record resource holds in the state. */
    const records = (r: { outputs: Record<string, unknown> }) =>
        (r.outputs.records as DemoRun["records"]).map((rec) => {
            if (rec.type !== "MX") return rec;
            const resource = Object.values(runner.resources).find(
                (e) => e.type === "cloudflare:index/dnsRecord:DnsRecord" && e.inputs.type === "MX" && e.inputs.content === rec.value,
            );
            return { ...rec, priority: resource?.inputs.priority };
        });
    const a = await runner.up(up);
    const aRecords = records(a);
    const b = await runner.up(rotated);
    const bRecords = records(b);
    const c = await runner.destroy();
    return {
        up: { operations: a.operations, records: aRecords, ttl },
        rotated: { operations: b.operations, records: bRecords, ttl },
        destroy: { operations: c, records: [], ttl },
    };
}

/** Which run a demo step shows, by its title. */
function runOf(title: string): "up" | "rotated" | "destroy" | undefined {
    if (/^pulumi up: /.test(title)) return "up";
    if (/^Rotation: /.test(title)) return "rotated";
    if (/^pulumi destroy: /.test(title)) return "destroy";
    return undefined;
}

/** What is wrong with a record line of the excerpt, given the records the run published. */
function recordProblem(line: string, run: DemoRun): string | undefined {
    const [, name, ttl, type, rdata] = line.match(RECORD)!;
    const published = run.records.filter((r) => r.name === name && r.type === type);
    if (published.length === 0) return `no ${type} record ${name} in the run's records output`;
    if (Number(ttl) !== run.ttl) return `TTL ${ttl}, the demo's stack sets ${run.ttl}`;
    const dkim = rdata.match(/^"(v=DKIM1; k=rsa; p=[A-Za-z0-9+/]{12})…[A-Za-z0-9+/=]{8}" {2}\((\d+) strings, (\d+) characters\)$/);
    if (dkim) {
        // The key itself differs from run to run: its start (the RSA key's fixed header), its size and its strings.
        const value = published[0].value;
        if (!value.startsWith(dkim[1])) return `the published value does not start with ${dkim[1]}`;
        if (Number(dkim[3]) !== value.length) return `${dkim[3]} characters, the published value has ${value.length}`;
        if (Number(dkim[2]) !== Math.ceil(value.length / 255)) return `${dkim[2]} strings, ${value.length} characters make ${Math.ceil(value.length / 255)}`;
        return undefined;
    }
    const shown = (r: DemoRun["records"][number]) => (type === "TXT" ? `"${r.value}"` : type === "MX" ? `${r.priority} ${r.value}.` : r.value);
    return published.some((r) => shown(r) === rdata) ? undefined : `shows ${rdata}; the run published ${published.map(shown).join(", ")}`;
}

describe("the README's excerpt of npm run demo", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mailauth-readme-demo-"));
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
    let runs: Awaited<ReturnType<typeof demoRuns>>;
    // Three runs of the program and four RSA keys: seconds alone, more on a loaded machine.
    beforeAll(async () => {
        runs = await demoRuns(dir);
    }, 180_000);
    const text = demoText();
    let parts: Section[] = [];
    beforeAll(() => {
        parts = sections(excerpt());
    });

    it("reads test/demo/demo.ts: its lines, checks, step titles and step count", () => {
        // If the parse found nothing, every check below would pass on nothing.
        expect(text.lines.length).toBeGreaterThan(20);
        expect(text.checks.length).toBeGreaterThan(10);
        expect(text.titles.length).toBeGreaterThanOrEqual(8);
        expect(text.total).toBeGreaterThanOrEqual(text.titles.length);
        expect(text.done.length).toBeGreaterThan(0);
    });

    it("numbers and names each step as the demo does", () => {
        const steps = parts.slice(1);
        expect(steps.map((s) => runOf(s.title))).toEqual(expect.arrayContaining(["up", "rotated", "destroy"]));
        for (const s of steps) {
            const at = text.titles.findIndex((t) => t.test(s.title));
            expect(at, `[${s.number}/...] ${s.title}: not a step title of test/demo/demo.ts`).toBeGreaterThan(-1);
            expect(s.number, s.title).toBe(at + 1);
        }
        for (const line of excerpt().filter((l) => /^\[\d+\/\d+\] /.test(l))) expect(line, "step count").toMatch(new RegExp(`^\\[\\d+/${text.total}\\] `));
    });

    it("shows every host step of each run the demo makes, as the program and the runner make them", () => {
        const listed: string[] = [];
        for (const s of parts) {
            const shown = s.lines.filter((l) => OPERATION.test(l)).map((l) => l.match(OPERATION)!.slice(1, 3).join(" "));
            const run = runOf(s.title);
            if (!run) {
                expect(shown, `[${s.number}] ${s.title}: runs no host step`).toEqual([]);
                continue;
            }
            const made = runs[run].operations.map((o) => `${o.op} ${o.name}`);
            // A step may leave its list out (an elided "…" line), never show part of it.
            if (shown.length === 0 && s.lines.some((l) => ELIDED.test(l))) continue;
            // Independent steps run side by side: their order varies from run to run, the set does not.
            expect([...shown].sort(), `[${s.number}] ${s.title}`).toEqual([...made].sort());
            listed.push(run);
        }
        // The first pulumi up is the list the excerpt is there for.
        expect(listed).toContain("up");
    });

    it("shows records the demo's stack publishes, with their TTL and values", () => {
        let seen = 0;
        for (const s of parts) {
            const run = runOf(s.title);
            for (const line of s.lines.filter((l) => RECORD.test(l) && !text.checks.some((c) => c.test(l)))) {
                seen++;
                expect(run === "up" || run === "rotated", `${line}: in a step that shows no records`).toBe(true);
                expect(recordProblem(line, runs[run as "up" | "rotated"]), line).toBeUndefined();
            }
        }
        expect(seen).toBeGreaterThan(0);
    });

    it("has no line the demo cannot print", () => {
        const unknown = excerpt().filter(
            (l) =>
                l !== "" &&
                !ELIDED.test(l) &&
                !/^\[\d+\/\d+\] /.test(l) &&
                !OPERATION.test(l) &&
                !RECORD.test(l) &&
                !TIMING.test(l) &&
                ![...text.lines, ...text.checks, ...text.done].some((re) => re.test(l)),
        );
        expect(unknown).toEqual([]);
        expect(
            excerpt().some((l) => text.done.some((re) => re.test(l))),
            "ends with the demo's last line",
        ).toBe(true);
    });
});

// ---------------------------------------------------------------- links, cited sections, commands

const DOCS = [
    "README.md",
    "DEVELOPMENT.md",
    ...fs
        .readdirSync(path.join(ROOT, "docs"))
        .filter((f) => f.endsWith(".md"))
        .map((f) => `docs/${f}`),
];

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens, repeats numbered. */
function anchors(markdown: string): Set<string> {
    const seen = new Map<string, number>();
    const out = new Set<string>();
    const body = markdown.replace(/```[\s\S]*?```/g, "");
    for (const [, heading] of body.matchAll(/^#{1,6} (.+)$/gm)) {
        const slug = heading
            .trim()
            .toLowerCase()
            .replace(/[^\p{L}\p{N}\s_-]/gu, "")
            .replace(/\s/g, "-");
        const n = seen.get(slug) ?? 0;
        seen.set(slug, n + 1);
        out.add(n ? `${slug}-${n}` : slug);
    }
    return out;
}

function headings(markdown: string): string[] {
    return [...markdown.replace(/```[\s\S]*?```/g, "").matchAll(/^#{1,6} (.+)$/gm)].map((m) => m[1].trim());
}

describe("the documents' links", () => {
    it.each(DOCS)("%s: every relative link and anchor leads to a file and a heading", (doc) => {
        const text = read(doc).replace(/```[\s\S]*?```/g, "");
        const broken: string[] = [];
        for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
            if (/^[a-z]+:/.test(target)) continue;
            const [file, anchor] = target.split("#");
            const resolved = file ? path.normalize(path.join(path.dirname(doc), file)) : doc;
            if (!fs.existsSync(path.join(ROOT, resolved))) {
                broken.push(`${target}: no file ${resolved}`);
                continue;
            }
            if (anchor !== undefined && !anchors(read(resolved)).has(anchor)) broken.push(`${target}: no heading #${anchor} in ${resolved}`);
        }
        expect(broken).toEqual([]);
    });

    it.each(DOCS)("%s: every file of this repository it names in `code` exists", (doc) => {
        const named = [...read(doc).matchAll(/`((?:test|components|templates|docs|\.ci)\/[\w./-]+|[\w.-]+\.(?:ts|md|yaml|json|mts))`/g)].map((m) => m[1]);
        expect(named.filter((p) => !fs.existsSync(path.join(ROOT, p)))).toEqual([]);
    });

    it("every README section a message or comment of the stack cites exists", () => {
        const cited: string[] = [];
        const walk = (dir: string): string[] =>
            fs
                .readdirSync(path.join(ROOT, dir), { withFileTypes: true })
                .flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : /\.(ts|sh|js)$/.test(e.name) ? [path.join(dir, e.name)] : []));
        for (const file of [...walk("components"), ...walk("templates"), "index.ts"]) {
            for (const [, section] of read(file).matchAll(/README[:,]? \(?\\?"([^"\\]+)\\?"/g)) cited.push(section);
        }
        // components/dkimKey.ts and components/zone.ts cite these today: the check must see them.
        expect(cited).toEqual(expect.arrayContaining(["Rotating the DKIM key", "Your zone already has records"]));
        const readme = headings(read("README.md"));
        expect(cited.filter((c) => !readme.includes(c))).toEqual([]);
    });
});

/** The command lines of a document's bash blocks, comments and continuation lines left out. */
function commands(doc: string): string[] {
    return [...read(doc).matchAll(/```bash\n([\s\S]*?)```/g)]
        .flatMap((m) => m[1].split("\n"))
        .map((l) => l.replace(/\s+#.*$/, "").trim())
        .filter((l) => l && !l.startsWith("#"));
}

describe("the documents' npm commands", () => {
    const scripts = Object.keys(JSON.parse(read("package.json")).scripts as Record<string, string>);

    it.each(["README.md", "DEVELOPMENT.md"])("%s: every npm run is a script of package.json", (doc) => {
        const used = commands(doc).flatMap((l) => [...l.matchAll(/\bnpm run ([\w:-]+)/g)].map((m) => m[1]));
        expect(used.length).toBeGreaterThan(0);
        expect(used.filter((s) => !scripts.includes(s))).toEqual([]);
    });

    it.each(["README.md", "DEVELOPMENT.md"])("%s: CI (.ci/run) runs its test commands (npm ci, the demo, npm test, the lab)", (doc) => {
        const ci = read(".ci/run")
            .split("\n")
            .map((l) => l.trim());
        const tests = commands(doc)
            .flatMap((l) => l.split(/\s*&&\s*/))
            .filter((l) => /^npm (ci|test|run (demo|test:lab))$/.test(l));
        expect(tests).toEqual(expect.arrayContaining(doc === "README.md" ? ["npm run demo", "npm test"] : ["npm test", "npm run test:lab"]));
        // .ci/run adds options or a release: `npm ci --no-audit`, `MAILAUTH_LAB_RELEASE=bookworm npm run test:lab`.
        const ran = (command: string) => ci.some((l) => l === command || l.startsWith(`${command} `) || l.endsWith(` ${command}`));
        expect(
            tests.filter((c) => !ran(c)),
            "not run by .ci/run",
        ).toEqual([]);
    });
});

describe("the README's example of a zone that already has records", () => {
    it("is the message the program gives for that zone, word for word", async () => {
        const readme = read("README.md");
        const section = readme.slice(readme.indexOf("## Your zone already has records"));
        const shown = section.match(/\n```\n(mailauth: Cloudflare:[\s\S]*?)\n```\n/);
        expect(shown, "the example message's block").not.toBeNull();
        const id = shown![1].match(/\(record id ([0-9a-f]{32})\)/)![1];
        const cf = FakeCloudflare.forConfig(exampleConfig());
        cf.addRecord("example.com", { id, name: "example.com", type: "TXT", content: '"v=spf1 include:_spf.example.net ~all"' });
        const message = await programError(exampleConfig(), { preview: true, call: cf.call });
        expect(shown![1]).toBe(message);
    });
});
