/**
 * Loading and rendering of the files in `templates/`: every file and script put on the host
 * lives there, once. Files use `{{name}}` placeholders; scripts get their values as shell
 * variables set in a generated header.
 */
import * as fs from "fs";
import * as path from "path";

const TEMPLATE_DIR = path.join(__dirname, "..", "templates");

export function loadTemplate(name: string): string {
    return fs.readFileSync(path.join(TEMPLATE_DIR, name), "utf8");
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
