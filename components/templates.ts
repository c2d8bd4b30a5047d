/**
 * Loading and rendering of the files in `templates/`: every file and script put on the host
 * lives there, once. Files use `{{name}}` placeholders; scripts get their values as shell
 * variables set in a generated header, and the texts they share with the program as `{{name}}`.
 */
import * as fs from "fs";
import * as path from "path";
import { SCRIPT_TEXTS } from "./hostTexts";

const TEMPLATE_DIR = path.join(__dirname, "..", "templates");

/**
 * What a script's conditional blocks are asked (`#@if <name>`): `signing`, whether the host signs
 * (MailHostArgs.sign). The default is a signing host's, the only kind there was before: its
 * scripts are the template's lines less the markers, byte for byte what they were.
 */
export interface TemplateConditions {
    signing: boolean;
}
export const SIGNING_HOST: TemplateConditions = { signing: true };

/**
 * A template's text. A script (`.sh`) has its conditional blocks resolved (`selectBlocks`) and the
 * program's texts it shares (components/hostTexts.ts SCRIPT_TEXTS, written `{{name}}`) filled in:
 * the script as it runs.
 */
export function loadTemplate(name: string, conditions: TemplateConditions = SIGNING_HOST): string {
    const text = fs.readFileSync(path.join(TEMPLATE_DIR, name), "utf8");
    return name.endsWith(".sh") ? renderTemplate(selectBlocks(text, conditions, name), SCRIPT_TEXTS) : text;
}

/** Whether a template has conditional blocks (`#@if`): its text then differs per host kind. */
export function hasConditionalBlocks(name: string): boolean {
    return /^#@if /m.test(fs.readFileSync(path.join(TEMPLATE_DIR, name), "utf8"));
}

/**
 * Keeps, of each block `#@if <name>` ... [`#@else` ...] `#@end` (whole lines, not nested), the part
 * the condition asks for, and drops the marker lines; every other line stays as it is. The markers
 * are shell comments: the template file itself is still bash (shellcheck reads it whole).
 */
export function selectBlocks(text: string, conditions: TemplateConditions, name = "template"): string {
    const out: string[] = [];
    let block: { keep: boolean; inElse: boolean } | undefined;
    const lines = text.split("\n");
    lines.forEach((line, i) => {
        const where = `${name}:${i + 1}`;
        const m = line.match(/^#@(if|else|end)\b ?(.*)$/);
        if (!m) {
            if (!block || block.keep !== block.inElse) out.push(line);
            return;
        }
        if (m[1] === "if") {
            if (block) throw new Error(`${where}: #@if inside another #@if block`);
            if (!(m[2] in conditions)) throw new Error(`${where}: unknown condition ${JSON.stringify(m[2])}`);
            block = { keep: conditions[m[2] as keyof TemplateConditions], inElse: false };
        } else if (m[1] === "else") {
            if (!block || block.inElse) throw new Error(`${where}: #@else outside an #@if block`);
            block.inElse = true;
        } else {
            if (!block) throw new Error(`${where}: #@end outside an #@if block`);
            block = undefined;
        }
    });
    if (block) throw new Error(`${name}: #@if block without #@end`);
    return out.join("\n");
}

/** Fills `{{name}}` placeholders; a placeholder without a value is a programming error. */
export function renderTemplate(text: string, values: Record<string, string>): string {
    return text.replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
        const value = values[key];
        if (value === undefined) throw new Error(`template placeholder {{${key}}} has no value`);
        return value;
    });
}

/** Quotes a string for a POSIX shell: single quotes, with embedded ones closed and escaped. */
export function shellQuote(value: string): string {
    return `'${value.replace(/'/g, `'\\''`)}'`;
}
