/**
 * DMARC records (RFC 7489): the record's name, its value built from the settings, which TXT values
 * are one, and the report addresses it takes.
 *
 * A tag is one row of DMARC_TAGS, naming the `mailauth:dmarc` setting it is made of (a row of the
 * dmarc section in components/settingsTable.ts): a new tag is a row here and a row there.
 */
import { isSafeAddress } from "../validate/mail";

/** The version tag every DMARC record starts with (RFC 7489 6.3). */
export const DMARC_VERSION = "v=DMARC1";

/** The DMARC record sits at `_dmarc.<domain>` (RFC 7489 6.1). */
export function dmarcRecordName(domain: string): string {
    return `_dmarc.${domain}`;
}

/**
 * The tags the stack writes after `v=DMARC1`, in this order (RFC 7489 6.3: `p` must come first
 * after `v`), each from one `mailauth:dmarc` setting; a setting that is unset or an empty list
 * writes no tag, a list is written comma-separated (6.4: dmarc-uri *("," dmarc-uri)).
 */
export const DMARC_TAGS = [
    { tag: "p", setting: "policy" },
    { tag: "rua", setting: "rua" },
] as const;

/**
 * Tags RFC 7489 had and RFC 9989 (DMARCbis, May 2026) removed, with what replaces each: a setting
 * named after one is refused with this text rather than as an unknown setting, so a user who copies
 * an old guide learns what to use instead. The stack never writes them. Source: the team's reference
 * /work/shared/reference/domain-facts.md (DMARC is RFC 9989: `pct`, `rf`, `ri` removed; `t=y` is the
 * test switch); RFC 9989 itself was not readable here.
 */
export const DMARC_REMOVED_TAGS: Readonly<Record<string, string>> = {
    pct: "RFC 9989 removed `pct` (partial enforcement); its replacement, the test flag `t=y` (receivers are asked not to apply the policy yet), is not a setting of this stack yet: remove `pct`",
    ri: "RFC 9989 removed `ri` (report interval); there is no replacement: receivers send aggregate reports about once a day",
    rf: "RFC 9989 removed `rf` (failure report format); there is no replacement: failure reports have one format",
};

/** The stack's record, e.g. `v=DMARC1; p=none; rua=mailto:dmarc@example.com`. */
export function dmarcRecordValue(settings: { readonly [K in (typeof DMARC_TAGS)[number]["setting"]]: string | readonly string[] | undefined }): string {
    const tags: string[] = [];
    for (const { tag, setting } of DMARC_TAGS) {
        const v = settings[setting];
        if (v === undefined || (Array.isArray(v) && v.length === 0)) continue;
        tags.push(`${tag}=${Array.isArray(v) ? v.join(",") : v}`);
    }
    return [DMARC_VERSION, ...tags].join("; ");
}

/** Whether a TXT value is a DMARC record (RFC 7489 6.4: `v=DMARC1` then `;` or the end; `v=DMARC1x` is not). */
export function isDmarcValue(value: string): boolean {
    return /^v=DMARC1[ \t]*(;|$)/i.test(value.trim());
}

export interface DmarcUri {
    /** `mailto:user@domain`, with the size limit when one was given (`!10m`). */
    uri: string;
    address: string;
}

/**
 * A DMARC aggregate-report destination: an address or a `mailto:` URI, with an optional size
 * limit (RFC 7489 6.4: dmarc-uri = URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ]). Addresses use
 * the safe local part (components/validate/mail.ts isSafeAddress), so neither "!" nor "," can
 * change the record's meaning (6.3).
 */
export function parseDmarcUri(value: string): DmarcUri | undefined {
    const m = value.match(/^(?:mailto:)?([^!]+)(![0-9]+[kmgt]?)?$/i);
    if (!m || !isSafeAddress(m[1])) return undefined;
    return { uri: `mailto:${m[1]}${m[2] ?? ""}`, address: m[1] };
}
