/**
 * Names and addresses as the records and daemons that receive them define them: host names,
 * SPF domain-specs (RFC 7208 7.1), DMARC report URIs (RFC 7489 6.3, 6.4) and the address
 * OpenDKIM puts on a command line.
 */
import * as net from "net";
import { hostnameProblem } from "./names";

const HOSTNAME_LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;

/**
 * A host name of at least two labels whose last label has a letter; one trailing dot allowed; an
 * `xn--` label only as a valid, single-script A-label (components/validate/names.ts says why not).
 */
export function isHostname(value: string): boolean {
    return hostnameProblem(value) === undefined;
}

/** One label, as a name from /etc/hosts or a search domain (`mailserver`). */
export function isSingleLabelHost(value: string): boolean {
    return HOSTNAME_LABEL.test(value) && /[a-z]/i.test(value) && hostnameProblem(value, true) === undefined;
}

/**
 * An IP address as a DNS A/AAAA record or a resolver can hold it: no IPv6 zone id
 * (`fe80::1%eth0` is an interface-local name; Node's net.isIP accepts it), and for IPv6 no
 * link-local address (meaningless without a zone).
 */
export function ipFamily(value: string): 0 | 4 | 6 {
    if (value.includes("%")) return 0;
    const family = net.isIP(value);
    if (family === 6 && /^fe[89ab]/i.test(value)) return 0;
    return family as 0 | 4 | 6;
}

// --- SPF (RFC 7208) -------------------------------------------------------------------------

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

// --- Mail addresses ---------------------------------------------------------------------------

/**
 * A local part that stays inert everywhere we put it: letters, digits and `. _ + -`, no leading,
 * trailing or doubled dot. Narrower than RFC 5322 on purpose: OpenDKIM builds
 * "<MTACommand> -t -f<ReportAddress>" and runs it through popen(), i.e. a shell (opendkim.c,
 * report sending), and DMARC gives "!" and "," meanings of their own (RFC 7489 6.4).
 */
const SAFE_LOCAL = /^(?!\.)(?!.*\.\.)[A-Za-z0-9._+-]{1,64}(?<!\.)$/;

export function isSafeAddress(address: string): boolean {
    const at = address.lastIndexOf("@");
    if (at <= 0) return false;
    return SAFE_LOCAL.test(address.slice(0, at)) && isHostname(address.slice(at + 1));
}

export interface DmarcUri {
    /** `mailto:user@domain`, with the size limit when one was given (`!10m`). */
    uri: string;
    address: string;
}

/**
 * A DMARC aggregate-report destination: an address or a `mailto:` URI, with an optional size
 * limit (RFC 7489 6.4: dmarc-uri = URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ]). Addresses use
 * the safe local part above, so neither "!" nor "," can change the record's meaning (6.3).
 */
export function parseDmarcUri(value: string): DmarcUri | undefined {
    const m = value.match(/^(?:mailto:)?([^!]+)(![0-9]+[kmgt]?)?$/i);
    if (!m || !isSafeAddress(m[1])) return undefined;
    return { uri: `mailto:${m[1]}${m[2] ?? ""}`, address: m[1] };
}
