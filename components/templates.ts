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
 * A template's text. A script (`.sh`) has the program's texts it shares (components/hostTexts.ts
 * SCRIPT_TEXTS, written `{{name}}`) filled in: the script as it runs.
 */
export function loadTemplate(name: string): string {
    const text = fs.readFileSync(path.join(TEMPLATE_DIR, name), "utf8");
    return name.endsWith(".sh") ? renderTemplate(text, SCRIPT_TEXTS) : text;
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
