/**
 * SPF records (RFC 7208): the record's name, its value, which TXT values are one, the terms it
 * holds, and what the stack accepts as a mechanism.
 */
import { show } from "../validate/show";
import { parseBlock } from "../validate/addresses";
import { spfTargetProblem } from "../validate/names";
import type { DomainSettings } from "../settings";
import { normalizeName } from "./name";
import { unquoteTxt } from "./txt";

/** SPF (RFC 7208 4.6.4): at most 10 terms that cause DNS lookups. */
export const SPF_MAX_LOOKUPS = 10;

/**
 * The widest block SPF may authorise as the domain's, as a prefix length: a /8 of IPv4 and a /16 of
 * IPv6, wider than any mail provider publishes (the widest blocks in large providers' SPF records
 * are /14 and /19 to /32 for IPv6), narrow enough that ip4:0.0.0.0/1 with 128.0.0.0/1 is refused.
 * One line for both kinds of term: the `ip4:`/`ip6:` blocks all together (SPF_MAX) and the block an
 * `a`/`mx` CIDR length makes of each address of the name (spfCidrProblem).
 */
export const SPF_WIDEST_PREFIX = { v4: 8, v6: 16 };

/**
 * The widest public address space the `ip4:`/`ip6:` mechanisms may cover, all blocks together
 * (components/validate/addresses.ts publicSpan), as a count of addresses: a block of
 * SPF_WIDEST_PREFIX (2^24 IPv4 addresses, 2^112 IPv6). Receivers accept mail from the blocks as
 * the domain's.
 */
export const SPF_MAX = { v4: 1n << BigInt(32 - SPF_WIDEST_PREFIX.v4), v6: 1n << BigInt(128 - SPF_WIDEST_PREFIX.v6) };

/** The version term every SPF record starts with (RFC 7208 4.5). */
export const SPF_VERSION = "v=spf1";

/** An SPF record sits at the domain itself (RFC 7208 3.1). */
export function spfRecordName(domain: string): string {
    return domain;
}

/**
 * The terms the stack's record holds: `mx` first (every MX host), then the relay hosts that are no
 * MX (`hostTerms`, relaySpfTerms), then the configured mechanisms (a second `mx` or host term dropped).
 */
export function spfTerms(mechanisms: string[], hostTerms: string[] = []): string[] {
    const have = new Set(["mx", ...hostTerms].map((t) => t.toLowerCase()));
    return ["mx", ...hostTerms, ...mechanisms.filter((m) => !have.has(m.toLowerCase()))];
}

/**
 * The terms that cover the relay hosts that are no MX (`mx` covers every MX host, RFC 7208 5.4):
 * `ip4:`/`ip6:` of each one's known addresses (no DNS lookup, RFC 7208 5.6), else `a:<hostname>`
 * (one lookup, counted in the 10: RFC 7208 4.6.4).
 */
export function relaySpfTerms(hosts: readonly { hostname: string; ipv4?: string; ipv6?: string; mxPriority?: number; relay: boolean }[]): string[] {
    const terms: string[] = [];
    for (const h of hosts) {
        if (!h.relay || h.mxPriority !== undefined) continue;
        if (h.ipv4 === undefined && h.ipv6 === undefined) terms.push(`a:${h.hostname}`);
        if (h.ipv4 !== undefined) terms.push(`ip4:${h.ipv4}`);
        if (h.ipv6 !== undefined) terms.push(`ip6:${h.ipv6.toLowerCase()}`);
    }
    return terms.filter((t, i) => terms.indexOf(t) === i);
}

/**
 * The MX host's own record, for the HELO check: a receiver checks the HELO name's SPF when MAIL FROM
 * is empty (bounces, DSNs, reports: RFC 7208 2.3, 2.4) and may check it first anyway. `a`: the
 * host's A/AAAA records, which the stack publishes beside it; `-all`: no other host says HELO with
 * this name. One DNS lookup. It sits at the host name, so it is published only where that name is
 * not one of the domains (whose own record, `mx` first, covers the host there).
 */
export const HELO_SPF_VALUE = `${SPF_VERSION} a -all`;

/** The stack's record: `v=spf1 mx <relay hosts> <mechanisms> <all>` (no relay host terms: `v=spf1 mx <mechanisms> <all>`). */
export function spfRecordValue(mechanisms: string[], all: string, hostTerms: string[] = []): string {
    return [SPF_VERSION, ...spfTerms(mechanisms, hostTerms), all].join(" ");
}

/**
 * Whether a TXT value is an SPF record (RFC 7208 4.5: `v=spf1` then a space or the end; `v=spf10` is not;
 * any white space is taken as the space, as a lenient receiver would).
 */
export function isSpfValue(value: string): boolean {
    return /^v=spf1(\s|$)/i.test(value.trim());
}

/** The terms of an SPF record (TXT content or value) after its `v=spf1`. */
export function parseSpfTerms(contentOrValue: string): string[] {
    return unquoteTxt(contentOrValue).trim().split(/\s+/).slice(1);
}

/** Terms of an existing record that the stack's record would not carry. */
export function lostSpfTerms(existing: string, configured: string[]): string[] {
    const have = new Set(["mx", ...configured].map((m) => m.toLowerCase()));
    // Each term once: a record repeating one (any text fits in 2,048 characters) must not make the way out repeat it.
    const terms = parseSpfTerms(existing).filter(
        (t) => !/^[+?~-]?all$/i.test(t) && !have.has(t.toLowerCase()) && !have.has(t.replace(/^\+/, "").toLowerCase()),
    );
    return terms.filter((t, i) => terms.findIndex((u) => u.toLowerCase() === t.toLowerCase()) === i);
}

/** Counts the SPF terms that cost a DNS lookup (RFC 7208 4.6.4). */
export function spfLookupCount(terms: string[]): number {
    return terms.filter((t) => /^[+?~-]?(a|mx|ptr|include|exists)([:/]|$)|^redirect=/i.test(t)).length;
}

/** RFC 7208 5: a, mx (optional domain-spec and CIDR lengths), include, exists, ip4, ip6. */
const SPF_MECHANISM = /^[?~-]?(?:(a|mx)(?::([^/\s]+))?(\/\d{1,2})?(\/\/\d{1,3})?|(include|exists):(\S+)|(ip4|ip6):(\S+))$/i;

/** The `ip4:`/`ip6:` mechanisms of a list. */
export function isIpMechanism(m: string): boolean {
    return /^(ip4|ip6):/i.test(m);
}

/**
 * Why an a/mx term's CIDR lengths (`/N`, `//M` as written) authorise too much, or undefined: wider
 * than SPF_WIDEST_PREFIX around each address of the name (RFC 7208 5.6: `a/N` matches every client
 * in the /N block around each A record; `a/0` is every address).
 */
export function spfCidrProblem(v4len: string | undefined, v6len: string | undefined): string | undefined {
    const v4 = v4len === undefined ? undefined : Number(v4len.slice(1));
    const v6 = v6len === undefined ? undefined : Number(v6len.slice(2));
    const parts: string[] = [];
    if (v4 !== undefined && v4 < SPF_WIDEST_PREFIX.v4) parts.push(`each IPv4 address of the name to its /${v4} (${2n ** BigInt(32 - v4)} addresses)`);
    if (v6 !== undefined && v6 < SPF_WIDEST_PREFIX.v6) parts.push(`each IPv6 address of the name to its /${v6}`);
    if (parts.length === 0) return undefined;
    return (
        `widens ${parts.join(" and ")}: receivers would pass mail from every host there as your domain's, as +all would` +
        ` (RFC 7208 5.6). At most /${SPF_WIDEST_PREFIX.v4} for IPv4 and //${SPF_WIDEST_PREFIX.v6} for IPv6, the line ip4:/ip6: blocks keep too; better, no CIDR length at all`
    );
}

/** One problem for a mechanism that is not allowed or not well-formed, else undefined. */
export function spfMechanismProblem(m: string, path: string, domains: readonly DomainSettings[] = []): string | undefined {
    if (/^[+?~-]?all$/i.test(m)) return `${path}.mechanisms: ${show(m)} is not allowed here; the all term is set by ${path}.all`;
    if (/^[+?~-]?ptr/i.test(m)) return `${path}.mechanisms: ${show(m)}: the ptr mechanism is deprecated (RFC 7208 5.5) and slow; use ip4:/ip6:/a: instead`;
    if (/^redirect=/i.test(m)) return `${path}.mechanisms: ${show(m)}: redirect= is ignored when an all term is present; list the mechanisms instead`;
    if (m.startsWith("+")) return `${path}.mechanisms: ${show(m)}: write it without the "+" qualifier (pass is the default)`;
    const x = m.match(SPF_MECHANISM);
    if (!x) {
        return `${path}.mechanisms: ${show(m)} is not an SPF mechanism (allowed: a, mx, ip4:, ip6:, include:, exists:, with an optional -, ~ or ? qualifier)`;
    }
    const [, aMx, aMxTarget, v4len, v6len, , target, ipKind, ip] = x;
    if (ipKind) {
        const family = ipKind.toLowerCase() === "ip4" ? 4 : 6;
        const b = parseBlock(ip);
        return b && b.family === family
            ? undefined
            : `${path}.mechanisms: ${show(m)} does not hold a valid IPv${family} address or block (the prefix length a plain number, no leading zero)`;
    }
    const spec = aMx ? aMxTarget : target;
    if (target !== undefined && x[5].toLowerCase() === "include") {
        const t = normalizeName(target);
        const self = /^%\{[do]\}$/i.test(target) ? target : domains.find((d) => d.name === t)?.name;
        if (self !== undefined) {
            return `${path}.mechanisms: ${show(m)} includes the domain's own record (${self}), a loop receivers answer with permerror (RFC 7208 5.2): every message then fails SPF. List that record's mechanisms here instead`;
        }
    }
    if (spec !== undefined && !isSpfDomainSpec(spec)) {
        return `${path}.mechanisms: ${show(m)}: ${show(spec)} is not a domain name or RFC 7208 macro domain-spec (e.g. _spf.example.net)`;
    }
    const badTarget = spec === undefined ? undefined : spfTargetProblem(spec);
    if (badTarget) return `${path}.mechanisms: ${show(m)}: ${show(spec)} is not a name receivers can look up: ${badTarget}`;
    if ((v4len && Number(v4len.slice(1)) > 32) || (v6len && Number(v6len.slice(2)) > 128)) {
        return `${path}.mechanisms: ${show(m)}: the prefix length is out of range (/0-32 for IPv4, //0-128 for IPv6)`;
    }
    const wide = spfCidrProblem(v4len, v6len);
    if (wide) return `${path}.mechanisms: ${show(m)} ${wide}`;
    return undefined;
}

/** RFC 7208 7.1: macro-expand = "%{" macro-letter transformers *delimiter "}" / "%%" / "%_" / "%-". */
const MACRO_EXPAND = /%\{[slodiphcrtv]\d*r?[.\-+,/_=]*\}|%%|%_|%-/gi;
/** RFC 7208 7.1: macro-literal = %x21-24 / %x26-7E (visible characters but "%"). */
const MACRO_LITERAL = /^[\x21-\x24\x26-\x7e]*$/;
/** RFC 7208 7.1: toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum ). */
const TOPLABEL = /^(?:[A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*|[A-Za-z0-9]+-[A-Za-z0-9-]*[A-Za-z0-9])$/;
/** A DNS label as SPF targets use them (underscore allowed: `_spf.example.net`). */
const SPF_LABEL = /^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$/;

/**
 * An SPF domain-spec (the target of include:, a:, mx:, exists:). Without macros it must be a
 * DNS name of at least two labels; with macros, RFC 7208's grammar: macro-strings ending in
 * "." toplabel or in a macro.
 */
export function isSpfDomainSpec(spec: string): boolean {
    if (spec.length === 0 || spec.length > 253) return false;
    if (!spec.includes("%")) {
        const labels = spec.replace(/\.$/, "").split(".");
        return labels.length >= 2 && labels.every((l) => SPF_LABEL.test(l)) && TOPLABEL.test(labels[labels.length - 1]);
    }
    const literals = spec.replace(MACRO_EXPAND, "\u0000");
    if (literals.includes("%")) return false;
    if (!literals.split("\u0000").every((part) => MACRO_LITERAL.test(part))) return false;
    // domain-end = ( "." toplabel [ "." ] ) / macro-expand
    if (literals.endsWith("\u0000")) return true;
    const m = spec.match(/\.([^.]+)\.?$/);
    return m !== null && TOPLABEL.test(m[1]) && !m[1].includes("%");
}
