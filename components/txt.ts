/**
 * TXT content as Cloudflare stores it: quoted character-strings of at most 255 bytes each
 * (RFC 1035 3.3.14), `"..." "..."`. Sending it pre-split keeps the next preview free of diffs.
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

export function quoteTxt(value: string): string {
    return txtChunks(value)
        .map((c) => `"${c.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`)
        .join(" ");
}

/**
 * The value of TXT content as `quoteTxt` writes it (and Cloudflare keeps it): the quoted
 * character-strings joined, escapes undone. Content without quotes is returned as it is.
 */
export function unquoteTxt(content: string): string {
    const strings = [...content.matchAll(/"((?:[^"\\]|\\.)*)"/g)];
    if (strings.length === 0) return content;
    return strings.map((m) => m[1].replace(/\\(.)/g, "$1")).join("");
}
