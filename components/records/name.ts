/**
 * A domain or host name as written by a user or held by a zone: case and one trailing dot do not
 * matter (RFC 4343; a zone's names are fully qualified). Every name the stack compares goes through it.
 */
export function normalizeName(value: string): string {
    return value.toLowerCase().replace(/\.$/, "");
}
