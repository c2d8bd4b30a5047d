/**
 * What the settings table (components/settingsTable.ts) says, as Pulumi.yaml's `config:` block and
 * as the README's settings table. `npm run docs:settings` (scripts/docs-settings.js) writes both;
 * test/unit/settings.test.ts fails when either no longer matches the table.
 */
import { Row, Section, SECTIONS } from "./settingsTable";

/** A setting as Pulumi.yaml declares it: the schema's configTypeDeclaration (pulumi/pulumi sdk/go/common/workspace/project.json: type, description, default, secret, items, value). */
export interface ConfigDeclaration {
    type?: string;
    description: string;
    default?: unknown;
    secret?: boolean;
}

const isRequired = (r: Row) => "required" in r && r.required === true;

/** `{name, zoneId?, ...}`: a section's fields, `?` on those that may be left out. */
function fieldList(s: Section): string {
    return `{${s.rows.map((r) => `${r.key}${isRequired(r) ? "" : "?"}`).join(", ")}}`;
}

/** Rows in order, those next to each other that say the same joined: `[[ipv4, ipv6], doc]`. */
function grouped(rows: readonly Row[], text: (r: Row) => string): [Row[], string][] {
    const out: [Row[], string][] = [];
    for (const r of rows) {
        const last = out[out.length - 1];
        if (last && last[1] === text(r)) last[0].push(r);
        else out.push([[r], text(r)]);
    }
    return out;
}

export function configDescription(s: Section): string {
    if (s.shape === "value") return s.summary;
    const rows = grouped(s.rows, (r) => r.brief)
        .map(([rs, brief]) => `${rs.map((r) => r.key).join("/")} - ${brief}`)
        .join("; ");
    return `${s.summary} ${fieldList(s)}.${s.note ? ` ${s.note}` : ""} ${rows}.`;
}

/** The `default:` Pulumi.yaml gives: `{}` for a section that may be left out, a value's own default. */
export function configDefault(s: Section): unknown {
    if (s.shape === "value") {
        const r = s.rows[0];
        return r.kind === "map" ? {} : "default" in r ? r.default : undefined;
    }
    // A key without a default is one the CLI requires (pkg/workspace/config.go mergeConfig); an optional list's is `[]`,
    // which an untyped key may have (sdk/go/common/workspace/project.go Project.Validate checks only typed defaults).
    return s.required ? undefined : s.shape === "list" ? [] : {};
}

export function pulumiConfig(): Record<string, ConfigDeclaration> {
    const out: Record<string, ConfigDeclaration> = {};
    for (const s of SECTIONS) {
        const d: ConfigDeclaration = { description: configDescription(s) };
        if (s.type) d.type = s.type;
        const dflt = configDefault(s);
        if (dflt !== undefined) d.default = dflt;
        if (s.raw === "secret") d.secret = true;
        out[`mailauth:${s.name}`] = d;
    }
    return out;
}

/** Words of `text` on lines of at most `width` characters after `indent`. */
function wrap(text: string, indent: string, width = 100): string[] {
    const lines: string[] = [];
    let line = "";
    for (const word of text.split(" ")) {
        // A line never starts with the "-" of `key - brief`: it would read as a YAML list item.
        if (line && word !== "-" && indent.length + line.length + 1 + word.length > width) {
            lines.push(indent + line);
            line = word;
        } else line = line ? `${line} ${word}` : word;
    }
    if (line) lines.push(indent + line);
    return lines;
}

/** Pulumi.yaml with its `config:` block (everything after the line `config:`) written from the table. */
export function pulumiYaml(current: string): string {
    const at = current.search(/^config:\n/m);
    if (at < 0) throw new Error("Pulumi.yaml has no `config:` line");
    const lines: string[] = [];
    for (const [key, d] of Object.entries(pulumiConfig())) {
        if (/ {2}|\n/.test(d.description)) throw new Error(`${key}: a description must be one line with single spaces (it is written folded)`);
        lines.push(`  ${key}:`);
        if (d.type) lines.push(`    type: ${d.type}`);
        lines.push(`    description: >-`, ...wrap(d.description, "      "));
        if (d.default !== undefined) lines.push(`    default: ${JSON.stringify(d.default)}`);
        if (d.secret) lines.push(`    secret: true`);
    }
    return `${current.slice(0, at)}config:\n${lines.join("\n")}\n`;
}

function readmeDefault(s: Section, r: Row): string {
    if (r.readmeDefault) return r.readmeDefault;
    if (s.shape === "list" ? s.required : isRequired(r)) return "(required)";
    if (r.kind === "strings") return "`[]`";
    if (r.kind === "map") return "`{}`";
    return "default" in r && r.default !== undefined ? `\`${r.default}\`` : "none";
}

/** The README's settings table: a row per setting (a list section's fields in one). */
export function readmeTable(): string {
    const rows: string[] = ["| Setting | Default | What it is |", "|---|---|---|"];
    for (const s of SECTIONS) {
        if (s.shape === "list") {
            rows.push(
                `| \`${s.name}\` | ${readmeDefault(s, s.rows[0])} | List of \`${fieldList(s)}\`. ${s.rows
                    .map((r) => r.doc)
                    .filter((d) => d !== "")
                    .join(" ")} |`,
            );
            continue;
        }
        const name = (r: Row) => `\`${s.shape === "value" ? s.name : `${s.name}.${r.key}`}\``;
        for (const [rs, doc] of grouped(s.rows, (r) => `${readmeDefault(s, r)} | ${r.doc}`)) rows.push(`| ${rs.map(name).join(", ")} | ${doc} |`);
    }
    return rows.join("\n");
}

export const README_START = "<!-- settings:start -->";
export const README_END = "<!-- settings:end -->";

/** The README with the table between its markers written anew. */
export function readmeWithTable(readme: string): string {
    const a = readme.indexOf(README_START);
    const b = readme.indexOf(README_END);
    if (a < 0 || b < a) throw new Error(`README.md has no ${README_START} ... ${README_END}`);
    return `${readme.slice(0, a + README_START.length)}\n${readmeTable()}\n${readme.slice(b)}`;
}
