/**
 * TXT content as Cloudflare stores it: quoted character-strings of at most 255 bytes each
 * (RFC 1035 3.3.14), `"..." "..."`. Sending it pre-split keeps the next preview free of diffs.
 *
 * One rule to read it back, for the stack's own records and for anybody's: content that starts
 * with a quote is its quoted strings joined, escapes undone; any other content is taken as it is.
 * The adopt step's script (components/adopt.js, `txt`) applies the same rule; its text is state
 * (components/adoptRecords.ts), so it keeps its own copy, and test/unit/adopt.test.ts checks that
 * both read every sample alike.
 */
export const TXT_CHUNK_BYTES = 255;

export function txtChunks(value: string): string[] {
    const chunks: string[] = [];
    let current = "";
    for (const ch of value) {
        if (Buffer.byteLength(current + ch) > TXT_CHUNK_BYTES) {
            chunks.push(current);
            current = "";
        }
        current += ch;
    }
    chunks.push(current);
    return chunks;
}

/** A value as TXT content: its character-strings, each quoted, `\` and `"` escaped. */
export function quoteTxt(value: string): string {
    return txtChunks(value)
        .map((c) => `"${c.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`)
        .join(" ");
}

/** The value of TXT content (`"chunk" "chunk"` or bare); the inverse of `quoteTxt`. */
export function unquoteTxt(content: string): string {
    const chunks = [...content.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1].replace(/\\(.)/g, "$1"));
    return chunks.length > 0 && /^\s*"/.test(content) ? chunks.join("") : content;
}
