/**
 * DMARC records (RFC 9989, DMARCbis, May 2026; it obsoletes RFC 7489): the record's name, its value
 * built from the settings, which TXT values are one, the report addresses it takes, and the name of
 * the record that authorizes reports to another domain.
 *
 * A tag is one row of DMARC_TAGS, naming the `mailauth:dmarc` setting it is made of (a row of the
 * dmarc section in components/settingsTable.ts): a new tag is a row here and a row there.
 *
 * Sources: draft-ietf-dmarc-dmarcbis-41 (github.com/ietf-wg-dmarc/draft-ietf-dmarc-dmarcbis at
 * 9491807, the text published as RFC 9989; RFC 9989 itself was not readable here), sections 4.7
 * "DMARC Policy Record Format" and 4.8 "Formal Definition" (section numbers of the -41 text).
 */
import { isSafeAddress } from "../validate/mail";
import { normalizeName } from "./name";

/** The version tag every DMARC record starts with (RFC 9989 4.7: `v` must be the first tag, value `DMARC1`, case sensitive). */
export const DMARC_VERSION = "v=DMARC1";

/** The DMARC record sits at `_dmarc.<domain>` (RFC 7489 6.1; RFC 9989 keeps it). */
export function dmarcRecordName(domain: string): string {
    return `_dmarc.${domain}`;
}

/** `dkimAlignment` / `spfAlignment` as the tags write them (RFC 9989 4.8: dmarc-rors = "r" / "s"). */
const ALIGNMENT = { relaxed: "r", strict: "s" } as const;

/**
 * The tags the stack writes after `v=DMARC1`, in this order (`p` first after `v`, as RFC 7489 6.3
 * required; RFC 9989 4.7 lets the others come in any order), each from one `mailauth:dmarc`
 * setting. A setting that is unset, `false` or an empty list writes no tag, so that the receiver's
 * default applies (RFC 9989 4.7: adkim and aspf `r`, t `n`, fo `0`; sp falls back to p, np to sp
 * then p); `true` writes `y` (the `t` tag, dmarc-yorn); a list is written comma-separated
 * (dmarc-urilist); `values` maps a setting's word to the tag's letter.
 */
export const DMARC_TAGS: readonly { tag: string; setting: DmarcTagSetting; values?: Readonly<Record<string, string>> }[] = [
    { tag: "p", setting: "policy" },
    { tag: "sp", setting: "subdomainPolicy" },
    { tag: "np", setting: "nonexistentPolicy" },
    { tag: "t", setting: "testing" },
    { tag: "adkim", setting: "dkimAlignment", values: ALIGNMENT },
    { tag: "aspf", setting: "spfAlignment", values: ALIGNMENT },
    { tag: "rua", setting: "rua" },
    { tag: "ruf", setting: "ruf" },
    { tag: "fo", setting: "fo" },
];

/** The `mailauth:dmarc` settings a tag is made of. */
export type DmarcTagSetting = "policy" | "subdomainPolicy" | "nonexistentPolicy" | "testing" | "dkimAlignment" | "spfAlignment" | "rua" | "ruf" | "fo";

/**
 * Tags RFC 7489 had and RFC 9989 (DMARCbis, May 2026) removed, with what replaces each: a setting
 * named after one is refused with this text rather than as an unknown setting, so a user who copies
 * an old guide learns what to use instead. The stack never writes them. Source: draft-ietf-dmarc-dmarcbis-41
 * A.6 "Removal of the pct Tag" (`t=y` is meant as `pct=0` was, `t=n` as `pct=100`) and C.5.2
 * "Tags Removed" (pct, rf, ri); /work/shared/reference/domain-facts.md.
 */
export const DMARC_REMOVED_TAGS: Readonly<Record<string, string>> = {
    pct: "RFC 9989 removed `pct` (partial enforcement); its replacement is the test flag `t=y` (receivers are asked to apply the policy one step softer while you test it): remove `pct` and set mailauth:dmarc.testing to true instead (pulumi config set --path mailauth:dmarc.testing true)",
    ri: "RFC 9989 removed `ri` (report interval); there is no replacement: receivers send aggregate reports about once a day",
    rf: "RFC 9989 removed `rf` (failure report format); there is no replacement: failure reports have one format",
};

/** The stack's record, e.g. `v=DMARC1; p=none; rua=mailto:dmarc@example.com`. */
export function dmarcRecordValue(settings: { readonly [K in DmarcTagSetting]?: string | boolean | readonly string[] }): string {
    const tags: string[] = [];
    for (const { tag, setting, values } of DMARC_TAGS) {
        const v = settings[setting];
        if (v === undefined || v === false || (Array.isArray(v) && v.length === 0)) continue;
        const text = v === true ? "y" : Array.isArray(v) ? v.join(",") : String(v);
        tags.push(`${tag}=${values?.[text] ?? text}`);
    }
    return [DMARC_VERSION, ...tags].join("; ");
}

/** The failure-report options (RFC 9989 4.7 `fo`; 4.8 dmarc-fo): `0` or `1`, `d` and `s`, colon-separated. */
export const DMARC_FO_OPTIONS = ["0", "1", "d", "s"] as const;

/**
 * Why a `fo` value is not one RFC 9989 allows, or undefined: its options colon-separated, each one
 * of 0, 1, d, s and at most once, and not both 0 and 1 (4.7: "0" and "1" are mutually exclusive;
 * 4.8: dmarc-afrf "each may appear at most once"; the values may come in any order).
 */
export function dmarcFoProblem(value: string): string | undefined {
    const parts = value.split(":");
    const bad = parts.filter((p) => !(DMARC_FO_OPTIONS as readonly string[]).includes(p));
    if (bad.length > 0) return `${bad.map((b) => JSON.stringify(b)).join(", ")} ${bad.length === 1 ? "is not an option" : "are not options"}`;
    const twice = parts.filter((p, i) => parts.indexOf(p) !== i);
    if (twice.length > 0) return `${JSON.stringify(twice[0])} is given twice`;
    if (parts.includes("0") && parts.includes("1")) return "0 and 1 exclude each other";
    return undefined;
}

/**
 * The preview's warning while the record only watches: `p=none` with reports going somewhere.
 * `p=none` is monitoring mode (RFC 9989 3.2.12): receivers apply no policy, and the reports are
 * there to find every sender before enforcement (5.1.5 "Collect and Analyze Reports", 5.1.7
 * "Decide Whether to Update Domain Owner Assessment Policy to Enforcement"). The path it names uses
 * `t=y` (4.7: a quarantine policy is then applied as none) as RFC 9989 A.6 meant `pct=0`.
 * Undefined when DMARC is off, enforcing, or without `rua` (no reports to read: nothing to move on from).
 */
export function dmarcEnforcementWarning(dmarc: { enabled: boolean; policy: string; rua: readonly string[] }): string | undefined {
    if (!dmarc.enabled || dmarc.policy !== "none" || dmarc.rua.length === 0) return undefined;
    return (
        "mailauth:dmarc.policy is none: receivers deliver mail that fails DMARC as if there were no record, and only send the reports (rua). " +
        "Once the reports show all your mail passing, move to enforcement step by step, a few weeks of reports each: " +
        "none -> quarantine with testing (t=y: receivers still apply none) -> quarantine -> reject. " +
        "First step: pulumi config set --path mailauth:dmarc.policy quarantine; pulumi config set --path mailauth:dmarc.testing true. " +
        'See README: "From p=none to reject"'
    );
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

/**
 * Report authorization (draft-ietf-dmarc-aggregate-reporting, github.com/ietf-wg-dmarc at 3a508cd,
 * "Verifying External Destinations", the text published as RFC 9990; failure reports follow the same
 * procedure with `ruf`: draft-ietf-dmarc-failure-reporting "Verifying External Destinations"; RFC 7489
 * 7.1 before them). A receiver sends `<domain>`'s reports to an address at another organizational
 * domain only if `<domain>._report._dmarc.<host>` holds a TXT record starting `v=DMARC1`: the host
 * of the address, `_report._dmarc`, and the domain whose policy asked for them, prepended in that
 * order (steps 1-3).
 */
export function reportAuthorizationName(domain: string, reportDomain: string): string {
    return `${domain}._report._dmarc.${reportDomain}`;
}

/** The authorization record's value: `v=DMARC1` alone (step 6: it must come first; no `rua` here, so the address stays the domain's own). */
export const REPORT_AUTHORIZATION_VALUE = DMARC_VERSION;

/** The host part of a report URI's address (`mailto:user@Host!10m` gives `host`), as the DNS compares it. */
export function reportHost(uri: string): string | undefined {
    const parsed = parseDmarcUri(uri);
    return parsed ? normalizeName(parsed.address.slice(parsed.address.lastIndexOf("@") + 1)) : undefined;
}

/** One report authorization the stack publishes: reports for `domain` go to `host`, whose record sits in `zone`'s zone. */
export interface ReportAuthorization {
    /** The domain whose DMARC record names the address. */
    domain: string;
    /** The address's host. */
    host: string;
    /** The configured domain whose zone holds `host` (components/settings.ts zoneFor). */
    zone: string;
    /** `<domain>._report._dmarc.<host>`. */
    name: string;
}

/**
 * The authorizations for report addresses (rua and ruf) at hosts the stack manages (`zoneOf`: the
 * configured domain whose zone holds a host, if any), in the order of the domains, then of the
 * addresses; each once. A receiver asks for one only when the host's organizational domain is not
 * the domain's (aggregate reporting, "Verifying External Destinations": "not identical to the
 * Organizational Domain of the host"). The stack does not walk the DNS tree that decides
 * organizational domains (RFC 9989 4.10), but where one configured domain is or contains both the
 * domain and the host, both walks meet its `_dmarc` record (the stack publishes it, without `psd`)
 * and go on along the same names above it: the organizational domain (4.10.2: of the records found,
 * the one with the fewest labels) is the same, and no record is needed (1,000 subdomains reporting
 * to their parent publish none). Otherwise one is published, also where the two might share an
 * organizational domain the stack cannot see: a record nobody asks for is harmless. A host outside
 * every managed zone gets none: its owner has to publish it.
 */
export function reportAuthorizations(domains: readonly string[], uris: readonly string[], zoneOf: (host: string) => string | undefined): ReportAuthorization[] {
    const hosts = [...new Set(uris.map(reportHost).filter((h): h is string => h !== undefined))];
    const under = (name: string, parent: string) => name === parent || name.endsWith(`.${parent}`);
    // Each host's zone once, and the configured domains as a set: looked up per domain along its own
    // name and parents, not searched per domain (1,000 domains made that a million comparisons).
    const zones = new Map(hosts.map((h) => [h, zoneOf(h)]));
    const configured = new Set(domains);
    const parents = (name: string) => name.split(".").map((_, i, labels) => labels.slice(i).join("."));
    const found: ReportAuthorization[] = [];
    for (const domain of domains) {
        const holders = parents(domain).filter((d) => configured.has(d));
        for (const host of hosts) {
            const zone = zones.get(host);
            if (zone === undefined || holders.some((d) => under(host, d))) continue;
            found.push({ domain, host, zone, name: reportAuthorizationName(domain, host) });
        }
    }
    return found;
}
