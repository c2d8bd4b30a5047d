/**
 * How a user's value appears inside a problem message: quoted, with control characters
 * escaped (a newline or an ESC sequence in a value must not reshape or recolour the CLI's
 * output), shortened when long, and never shown at all when it looks like a private key
 * pasted into the wrong setting.
 */

const MAX_SHOWN = 80;
/**
 * Controls (Unicode Cc: C0, DEL, C1), format characters (Cf: bidi marks and overrides, zero-width
 * space and joiners, the soft hyphen, BOM) and line/paragraph separators (Zl, Zp): each either
 * reshapes the terminal's output or is invisible, so that a value holding one looks like another.
 */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;

function escapeString(s: string): string {
    const escaped = s
        .replace(/\\/g, "\\\\")
        .replace(/"/g, '\\"')
        .replace(UNSAFE, (c) => {
            switch (c) {
                case "\n":
                    return "\\n";
                case "\r":
                    return "\\r";
                case "\t":
                    return "\\t";
                default: {
                    const cp = c.codePointAt(0)!;
                    return cp > 0xffff ? `\\u{${cp.toString(16)}}` : `\\u${cp.toString(16).padStart(4, "0")}`;
                }
            }
        });
    return escaped.length > MAX_SHOWN ? `${escaped.slice(0, MAX_SHOWN)}...(${s.length} characters)` : escaped;
}

/** A value as shown in a problem message. */
export function show(value: unknown): string {
    if (typeof value === "string") {
        if (/PRIVATE KEY/.test(value)) return "(a private key; not shown)";
        return `"${escapeString(value)}"`;
    }
    if (value === undefined) return "nothing";
    let text: string;
    try {
        text = JSON.stringify(value) ?? String(value);
    } catch {
        text = String(value);
    }
    if (/PRIVATE KEY/.test(text)) return "(a value holding a private key; not shown)";
    return escapeString(text);
}

/** True when the string holds a character that has no business in a setting. */
export function hasControlCharacters(value: string): boolean {
    return new RegExp(UNSAFE.source, "u").test(value);
}
