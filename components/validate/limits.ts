/**
 * Counts a setting may not exceed, each with what it costs past the line.
 *
 * Previous selectors: each one stays a key file on the host, a KeyTable line and a TXT record in the
 * zone (components/mailDomain.ts). A selector is kept after a rotation only while mail signed with it
 * may still be verified, days to a few weeks (receivers verify on arrival; RFC 6376 3.5 x= lets a
 * signature expire); ten rotations' worth is far past that. More is a list pasted by mistake, which
 * would publish and install hundreds of keys in one run.
 */
import { show } from "./show";

export const MAX_PREVIOUS_SELECTORS = 10;

/** The problem with a domain's previousSelectors list (at `path`), or undefined. */
export function previousSelectorsProblem(path: string, selectors: readonly string[]): string | undefined {
    if (selectors.length <= MAX_PREVIOUS_SELECTORS) return undefined;
    return `${path}.previousSelectors: ${selectors.length} selectors; at most ${MAX_PREVIOUS_SELECTORS} are kept (each stays a key on the host and a record in the zone). Keep only those whose mail may still be verified (the last one or two rotations), e.g. ${selectors
        .slice(-2)
        .map((s) => show(s))
        .join(" and ")}`;
}
