/**
 * Stack settings: the typed shape of the `mailauth:*` config and its validation.
 *
 * Validation runs before any resource is made and reports every problem at once, each naming
 * the setting and what is allowed, so that nothing touches DNS or the host on bad input.
 */
import * as net from "net";
import * as pulumi from "@pulumi/pulumi";
import { hasControlCharacters, show } from "./validate/show";
import { checkHostKey, PrivateKeyClass } from "./validate/sshKeys";
import { ipFamily, isHostname, isSafeAddress, isSingleLabelHost, isSpfDomainSpec, parseDmarcUri } from "./validate/mail";
import { addressProblem, asPrefix, Block, parseBlock, publicSpan } from "./validate/addresses";

export { isHostname } from "./validate/mail";
export { classifyPrivateKey } from "./validate/sshKeys";

export type MilterTransport = "auto" | "unix" | "inet";
export type DmarcPolicy = "none" | "quarantine" | "reject";
export type SpfAll = "~all" | "-all";

export interface DomainSettings {
    /** The mail domain, e.g. `example.com`. */
    name: string;
    /** Cloudflare zone id of the zone that holds the domain's records; unset: found by name (components/zone.ts). */
    zoneId?: string;
    /** DKIM selector that signs outgoing mail, e.g. `20261127`. */
    selector: string;
    /** Selectors whose records (and keys) stay published after a rotation. */
    previousSelectors: string[];
    /** RSA key size in bits. */
    keyBits: number;
}

export interface MxSettings {
    hostname: string;
    priority: number;
    ipv4?: string;
    ipv6?: string;
    /** Publish the MX (and A/AAAA) records; false when they already exist outside this stack. */
    publish: boolean;
}

export interface SpfSettings {
    /** Mechanisms between `mx` and the `all` term, e.g. `ip4:192.0.2.10`, `include:_spf.example.net`. */
    mechanisms: string[];
    all: SpfAll;
    /** The full record value, e.g. `v=spf1 mx ~all`. */
    record: string;
}

export interface DmarcSettings {
    enabled: boolean;
    policy: DmarcPolicy;
    /** Aggregate report addresses (`mailto:` URIs). */
    rua: string[];
    /** The full record value, e.g. `v=DMARC1; p=none`. */
    record: string;
}

export interface OpenDkimSettings {
    reportAddress: string;
    trustedHosts: string[];
    /** Resolvers OpenDKIM queries (its `Nameservers`); empty = its built-in recursive resolver. */
    nameservers: string[];
    milterTransport: MilterTransport;
}

export interface SshSettings {
    host: string;
    port: number;
    user: string;
    /** Pinned host key, an `authorized_keys`-style line (`ssh-ed25519 AAAA...`). */
    hostKey?: string;
}

export interface TestKeySettings {
    enabled: boolean;
    timeoutSeconds: number;
}

export interface Settings {
    domains: DomainSettings[];
    mx: MxSettings;
    spf: SpfSettings;
    dmarc: DmarcSettings;
    opendkim: OpenDkimSettings;
    ssh: SshSettings;
    ttl: number;
    testKey: TestKeySettings;
}

/** Raw config values as read from `pulumi config`: anything may be missing or of the wrong type. */
export interface RawSettings {
    domains?: unknown;
    mx?: unknown;
    spf?: unknown;
    dmarc?: unknown;
    opendkim?: unknown;
    ssh?: unknown;
    ttl?: unknown;
    testKey?: unknown;
    /** What the SSH private key secret looks like; its value never passes through validation. */
    sshPrivateKey: PrivateKeyClass;
}

/**
 * Every problem with the settings, at once. A RunError: the Node.js language host prints its
 * message alone, with no "unhandled exception" and no stack trace (@pulumi/pulumi
 * cmd/run/run.js ~377-379), which is what a user with a typo should see.
 */
export class SettingsError extends pulumi.RunError {
    constructor(public readonly problems: string[]) {
        super(
            `mailauth: ${problems.length} configuration problem(s); nothing was changed:\n` +
                problems.map((p) => `  - ${p}`).join("\n"),
        );
        this.name = "SettingsError";
    }
}

export const DEFAULT_KEY_BITS = 2048;
export const ALLOWED_KEY_BITS = [1024, 2048, 3072, 4096];
export const DEFAULT_TTL = 1;
/** SPF (RFC 7208 4.6.4): at most 10 terms that cause DNS lookups. */
export const SPF_MAX_LOOKUPS = 10;

/** The most labels a domain name may have (each costs one zone lookup when its zone is found by name). */
export const MAX_DOMAIN_LABELS = 10;
/** The longest the key test may wait for DNS to show a key (it holds `pulumi up` that long). */
export const MAX_TEST_SECONDS = 1800;
/** A TXT record over this many characters may not fit one DNS answer over UDP (512 bytes). */
export const MAX_RECORD = 450;

const SELECTOR = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const ZONE_ID = /^[0-9a-f]{32}$/;
const USER = /^[a-z_][a-z0-9_-]{0,31}$/;

/** A domain or host name as written by a user: case and one trailing dot do not matter. */
export function normalizeName(value: string): string {
    return value.toLowerCase().replace(/\.$/, "");
}

/** A TrustedHosts entry: an address, a CIDR block, a host name or a `*.` wildcard host name. */
function isTrustedHost(value: string): boolean {
    const [addr, bits] = value.split("/");
    if (net.isIP(addr) !== 0 || bits !== undefined) return parseBlock(value) !== undefined;
    return isHostname(value.startsWith("*.") ? value.slice(2) : value) || value === "localhost";
}

/**
 * The widest public address space each list may cover, all its blocks together (overlaps once;
 * private and special-purpose ranges not counted: components/validate/addresses.ts).
 * Trusted hosts: OpenDKIM signs their mail with the domains' keys, so a /16 of IPv4 (65,536
 * addresses, more than any one site's relays) and a /48 of IPv6 (one site's allocation, RFC 6177).
 * SPF: receivers accept mail from the blocks as the domain's; a /8 of IPv4 and a /16 of IPv6,
 * wider than any mail provider publishes (the widest blocks in large providers' SPF records
 * are /14 and /19 to /32 for IPv6), narrow enough that ip4:0.0.0.0/1 with 128.0.0.0/1 is refused.
 */
export const TRUSTED_MAX = { v4: 1n << 16n, v6: 1n << 80n };
export const SPF_MAX = { v4: 1n << 24n, v6: 1n << 112n };

/** What the blocks cover beyond the limit, as "N public IPv4 addresses (a /P)", or undefined. */
function overLimit(blocks: Block[], max: { v4: bigint; v6: bigint }): string | undefined {
    const span = publicSpan(blocks);
    const parts: string[] = [];
    if (span.v4 > max.v4) parts.push(`${span.v4} public IPv4 addresses (as many as a ${asPrefix(span.v4, 4)}; at most a ${asPrefix(max.v4, 4)} is allowed)`);
    if (span.v6 > max.v6) parts.push(`public IPv6 space as large as a ${asPrefix(span.v6, 6)} (at most a ${asPrefix(max.v6, 6)} is allowed)`);
    return parts.length > 0 ? parts.join(" and ") : undefined;
}

/** Counts the SPF terms that cost a DNS lookup (RFC 7208 4.6.4). */
export function spfLookupCount(terms: string[]): number {
    return terms.filter((t) => /^[+?~-]?(a|mx|ptr|include|exists)([:/]|$)|^redirect=/i.test(t)).length;
}

/** RFC 7208 5: a, mx (optional domain-spec and CIDR lengths), include, exists, ip4, ip6. */
const SPF_MECHANISM = /^[?~-]?(?:(a|mx)(?::([^/\s]+))?(\/\d{1,2})?(\/\/\d{1,3})?|(include|exists):(\S+)|(ip4|ip6):(\S+))$/i;

type Problems = string[];

function isObject(v: unknown): v is Record<string, unknown> {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * A scalar as `pulumi config set --path` may have stored it, back as the string the user typed.
 * The CLI turns "true"/"false" into booleans and base-10 integers without a leading zero into
 * numbers (pulumi/pulumi sdk/go/common/resource/config/object.go ~560-591, used for --path by
 * value.go ~143-166 and map.go ~240), so `selector 20270601` arrives as the number 20270601.
 * Integers past 2^53 lose digits on their way through JSON into JavaScript: refused with the
 * way to keep them a string.
 */
function typedString(v: unknown, path: string, problems: Problems): string | undefined {
    if (typeof v === "string") {
        if (hasControlCharacters(v)) {
            problems.push(`${path}: ${show(v)} contains a control character (a newline, tab or escape); remove it`);
            return undefined;
        }
        return v.trim();
    }
    if (typeof v === "number" && Number.isSafeInteger(v)) return String(v);
    if (typeof v === "boolean") return String(v);
    if (typeof v === "number" && Number.isInteger(v)) {
        problems.push(
            `${path}: the number ${show(v)} is too long to keep exactly; set it as a string: pulumi config set --type string --path '${path}' VALUE`,
        );
        return undefined;
    }
    problems.push(`${path}: must be a string, got ${show(v)}`);
    return undefined;
}

/** Reads typed fields out of one config object, recording a problem for each bad field. */
class Fields {
    constructor(
        private readonly obj: Record<string, unknown>,
        private readonly path: string,
        private readonly problems: Problems,
        allowed: string[],
    ) {
        for (const key of Object.keys(obj)) {
            if (!allowed.includes(key)) {
                problems.push(`${path}.${show(key).slice(1, -1)}: unknown setting; allowed here: ${allowed.join(", ")}`);
            }
        }
    }

    /** Whether this field is present and set (an empty string counts as not set). */
    has(key: string): boolean {
        const v = this.obj[key];
        return v !== undefined && v !== null && v !== "";
    }

    string(key: string, required: boolean): string | undefined {
        const v = this.obj[key];
        if (v === undefined || v === null || v === "") {
            if (required) this.problems.push(`${this.path}.${key}: required, not set`);
            return undefined;
        }
        return typedString(v, `${this.path}.${key}`, this.problems);
    }

    integer(key: string, dflt: number, min: number, max: number): number {
        const v = this.obj[key];
        if (v === undefined || v === null) return dflt;
        const n = typeof v === "string" && /^\d+$/.test(v.trim()) ? Number(v) : v;
        if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) {
            this.problems.push(`${this.path}.${key}: must be a whole number from ${min} to ${max}, got ${show(v)}`);
            return dflt;
        }
        return n;
    }

    boolean(key: string, dflt: boolean): boolean {
        const v = this.obj[key];
        if (v === undefined || v === null) return dflt;
        if (v === true || v === "true") return true;
        if (v === false || v === "false") return false;
        this.problems.push(`${this.path}.${key}: must be true or false, got ${show(v)}`);
        return dflt;
    }

    /** A list of strings; entries the CLI stored as numbers or booleans are taken as typed. */
    strings(key: string): string[] {
        const v = this.obj[key];
        if (v === undefined || v === null) return [];
        if (!Array.isArray(v)) {
            this.problems.push(`${this.path}.${key}: must be a list of strings, got ${show(v)}`);
            return [];
        }
        const values: string[] = [];
        v.forEach((item, i) => {
            const s = item === null || item === undefined ? undefined : typedString(item, `${this.path}.${key}[${i}]`, this.problems);
            if (item === null || item === undefined) this.problems.push(`${this.path}.${key}[${i}]: empty entry`);
            if (s !== undefined) values.push(s);
        });
        return values;
    }

    oneOf<T extends string>(key: string, allowed: readonly T[], dflt: T): T {
        const v = this.obj[key];
        if (v === undefined || v === null) return dflt;
        if (typeof v !== "string" || !(allowed as readonly string[]).includes(v)) {
            this.problems.push(`${this.path}.${key}: must be one of ${allowed.join(", ")}, got ${show(v)}`);
            return dflt;
        }
        return v as T;
    }
}

/**
 * The fields of one config section. A missing or malformed section is reported once, here; its
 * fields then read from an empty object whose own complaints are dropped, not repeated.
 */
function section(raw: unknown, path: string, problems: Problems, allowed: string[], required: boolean): Fields {
    if (raw === undefined || raw === null) {
        if (required) problems.push(`${path}: required, not set (an object with ${allowed.join(", ")})`);
        return new Fields({}, path, required ? [] : problems, allowed);
    }
    if (!isObject(raw)) {
        problems.push(
            `${path}: must be an object with ${allowed.join(", ")}, got ${show(raw)}; set its fields with pulumi config set --path '${path}.${allowed[0]}' VALUE`,
        );
        return new Fields({}, path, [], allowed);
    }
    return new Fields(raw, path, problems, allowed);
}

interface DomainsRead {
    domains: DomainSettings[];
    /** False when some domain was refused: checks across domains would then only mislead. */
    complete: boolean;
}

function readDomains(raw: unknown, problems: Problems): DomainsRead {
    const path = "mailauth:domains";
    if (raw === undefined || raw === null) {
        problems.push(`${path}: required, not set (a list of {name, selector, zoneId?})`);
        return { domains: [], complete: false };
    }
    if (!Array.isArray(raw) || raw.length === 0) {
        problems.push(`${path}: must be a non-empty list of {name, selector, zoneId?}, got ${show(raw)}`);
        return { domains: [], complete: false };
    }
    const domains: DomainSettings[] = [];
    raw.forEach((item, i) => {
        const p = `${path}[${i}]`;
        const before = problems.length;
        const f = section(item, p, problems, ["name", "zoneId", "selector", "previousSelectors", "keyBits"], true);
        const rawName = f.string("name", true);
        const name = rawName === undefined ? undefined : normalizeName(rawName);
        const zoneId = f.string("zoneId", false);
        const selector = f.string("selector", true);
        const previousSelectors = f.strings("previousSelectors");
        const keyBits = f.integer("keyBits", DEFAULT_KEY_BITS, 1024, 4096);
        if (name !== undefined && !isHostname(name)) {
            problems.push(`${p}.name: ${show(rawName)} is not a domain name (letters, digits and hyphens in dot-separated labels)`);
        } else if (name !== undefined && name.split(".").length > MAX_DOMAIN_LABELS) {
            // Finding its zone asks Cloudflare for each parent name in turn (components/zone.ts).
            problems.push(`${p}.name: ${show(rawName)} has ${name.split(".").length} labels; at most ${MAX_DOMAIN_LABELS} are allowed (each costs a zone lookup)`);
        } else if (name !== undefined) {
            // The longest name the stack publishes: <selector>._domainkey.<name> (RFC 1035 2.3.4: 253 characters as text).
            const longest = Math.max(7, ...[selector ?? "", ...previousSelectors].map((sel) => sel.length + 12));
            if (name.length + longest > 253) {
                problems.push(
                    `${p}.name: ${show(rawName)} is ${name.length} characters; with ${longest === 7 ? "_dmarc." : "its selector's ._domainkey."} in front the record name would be ${name.length + longest}, over DNS's 253`,
                );
            }
        }
        if (zoneId !== undefined && !ZONE_ID.test(zoneId)) {
            problems.push(`${p}.zoneId: must be a Cloudflare zone id (32 lowercase hex characters), got ${show(zoneId)}`);
        }
        for (const [key, sel] of [["selector", selector], ...previousSelectors.map((s) => ["previousSelectors", s])]) {
            if (sel !== undefined && !SELECTOR.test(sel)) {
                problems.push(`${p}.${key}: ${show(sel)} is not a valid selector (a DNS label: letters, digits, hyphens, at most 63)`);
            }
        }
        // DNS names ignore case (RFC 4343): selectors equal but for case share one record name.
        const all = [...(selector !== undefined ? [selector] : []), ...previousSelectors];
        const seen = new Map<string, string>();
        for (const sel of all) {
            const other = seen.get(sel.toLowerCase());
            if (other === undefined) {
                seen.set(sel.toLowerCase(), sel);
            } else if (other === sel) {
                problems.push(
                    sel === selector
                        ? `${p}.previousSelectors: must not contain the active selector ${show(selector)}`
                        : `${p}.previousSelectors: lists the selector ${show(sel)} twice`,
                );
            } else {
                problems.push(
                    `${p}: selectors ${show(other)} and ${show(sel)} differ only in case; DNS ignores case, so both keys would be published at one name (${sel.toLowerCase()}._domainkey) and verification would fail. Pick a selector with another name`,
                );
            }
        }
        if (!ALLOWED_KEY_BITS.includes(keyBits)) {
            problems.push(`${p}.keyBits: must be one of ${ALLOWED_KEY_BITS.join(", ")}, got ${keyBits}`);
        } else if (keyBits < 2048) {
            problems.push(`${p}.keyBits: ${keyBits}-bit RSA keys are too weak for DKIM (RFC 8301); use 2048 or more`);
        }
        if (problems.length === before && name && selector) {
            domains.push({ name, zoneId, selector, previousSelectors, keyBits });
        }
    });
    const names = domains.map((d) => d.name);
    for (const dup of new Set(names.filter((n, i) => names.indexOf(n) !== i))) {
        problems.push(`${path}: domain ${show(dup)} is listed twice (names are compared without case and trailing dot)`);
    }
    return { domains, complete: domains.length === raw.length };
}

function readMx(raw: unknown, domains: DomainsRead, problems: Problems): MxSettings {
    const path = "mailauth:mx";
    const f = section(raw, path, problems, ["hostname", "priority", "ipv4", "ipv6", "publish"], true);
    const rawHostname = f.string("hostname", true) ?? "";
    const hostname = normalizeName(rawHostname);
    const priority = f.integer("priority", 10, 0, 65535);
    const ipv4 = f.string("ipv4", false);
    const ipv6 = f.string("ipv6", false);
    const publish = f.boolean("publish", true);
    if (rawHostname && !hostname) problems.push(`${path}.hostname: ${show(rawHostname)} is the DNS root, not a host name; give the server's name, e.g. mail.example.com`);
    if (hostname && !isHostname(hostname)) problems.push(`${path}.hostname: ${show(rawHostname)} is not a host name`);
    if (ipv4 !== undefined && ipFamily(ipv4) !== 4) problems.push(`${path}.ipv4: ${show(ipv4)} is not an IPv4 address`);
    for (const [key, ip, family] of [["ipv4", ipv4, 4], ["ipv6", ipv6, 6]] as const) {
        const why = ip !== undefined && ipFamily(ip) === family ? addressProblem(ip, "dns") : undefined;
        if (why) {
            problems.push(
                `${path}.${key}: ${show(ip)} is ${why}, which no server on the internet can reach; give the server's public address, or drop ${key} if it has none`,
            );
        }
    }
    if (ipv6 !== undefined && ipFamily(ipv6) !== 6) {
        problems.push(
            ipv6.includes("%") || /^fe[89ab]/i.test(ipv6)
                ? `${path}.ipv6: ${show(ipv6)} is an interface-local (link-local or zoned) address, useless in DNS; give the server's global IPv6 address`
                : `${path}.ipv6: ${show(ipv6)} is not an IPv6 address`,
        );
    }
    // Only against the whole list: a refused domain must not make the MX look misplaced.
    if ((ipv4 || ipv6) && hostname && isHostname(hostname) && domains.complete && !zoneFor(hostname, domains.domains)) {
        problems.push(
            `${path}.hostname: ${show(hostname)} must lie inside one of the configured domains (${domains.domains.map((d) => d.name).join(", ")}) for its A/AAAA record to be published; drop ipv4/ipv6 or use such a host name`,
        );
    }
    return { hostname, priority, ipv4, ipv6, publish };
}

/** The configured domain whose Cloudflare zone holds `hostname`, if any (longest match). */
export function zoneFor(hostname: string, domains: DomainSettings[]): DomainSettings | undefined {
    return domains
        .filter((d) => hostname === d.name || hostname.endsWith(`.${d.name}`))
        .sort((a, b) => b.name.length - a.name.length)[0];
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
    if ((v4len && Number(v4len.slice(1)) > 32) || (v6len && Number(v6len.slice(2)) > 128)) {
        return `${path}.mechanisms: ${show(m)}: the prefix length is out of range (/0-32 for IPv4, //0-128 for IPv6)`;
    }
    return undefined;
}

function readSpf(raw: unknown, domains: DomainSettings[], problems: Problems): SpfSettings {
    const path = "mailauth:spf";
    const f = section(raw, path, problems, ["mechanisms", "all"], false);
    const mechanisms = f.strings("mechanisms");
    const allRaw = (isObject(raw) ? raw.all : undefined) as unknown;
    let all: SpfAll = "~all";
    if (allRaw === "+all" || allRaw === "all") {
        problems.push(`${path}.all: ${show(allRaw)} lets every host on the internet send as your domain; use "~all" (soft fail, the default) or "-all"`);
    } else if (allRaw === "?all") {
        problems.push(`${path}.all: "?all" (neutral) gives receivers nothing to act on; use "~all" (soft fail, the default) or "-all"`);
    } else {
        all = f.oneOf("all", ["~all", "-all"] as const, "~all");
    }
    problems.push(...spfMechanismsProblems(mechanisms, all, domains, path));
    const terms = ["mx", ...mechanisms.filter((m) => m.toLowerCase() !== "mx")];
    return { mechanisms, all, record: ["v=spf1", ...terms, all].join(" ") };
}

/**
 * Every problem of `mailauth:spf.mechanisms` as a whole: each term, their combined address space, the
 * lookups, the record's length. What the settings refuse, and what the zone check's suggestions are
 * held to, since the user pastes them into the settings (components/zone.ts findConflicts).
 */
export function spfMechanismsProblems(mechanisms: string[], all: string, domains: readonly DomainSettings[], path = "mailauth:spf"): string[] {
    const problems: string[] = [];
    for (const m of mechanisms) {
        const problem = spfMechanismProblem(m, path, domains);
        if (problem) problems.push(problem);
    }
    const ipTerms = mechanisms.filter((m) => /^(ip4|ip6):/i.test(m));
    const blocks = ipTerms.map((m) => parseBlock(m.slice(4))).filter((b): b is Block => b !== undefined);
    const wide = overLimit(blocks, SPF_MAX);
    if (wide) {
        problems.push(
            `${path}.mechanisms: ${ipTerms.join(" ")} together authorise ${wide}. Receivers would pass mail from anyone there as your domain's, as +all would: any host in that space can forge your domains past SPF and DMARC. List your server's own addresses and your providers' blocks, or include: the records they publish`,
        );
    }
    const terms = ["mx", ...mechanisms.filter((m) => m.toLowerCase() !== "mx")];
    const lookups = spfLookupCount(terms);
    if (lookups > SPF_MAX_LOOKUPS) {
        problems.push(
            `${path}.mechanisms: the record would need ${lookups} DNS lookups (mx, a, include, exists each count); SPF allows at most ${SPF_MAX_LOOKUPS}, receivers return permerror above that`,
        );
    }
    const record = ["v=spf1", ...terms, all].join(" ");
    if (record.length > MAX_RECORD) {
        problems.push(`${path}.mechanisms: the record is ${record.length} characters; keep SPF under 450 so it fits one DNS answer over UDP`);
    }
    return problems;
}

function readDmarc(raw: unknown, problems: Problems): DmarcSettings {
    const path = "mailauth:dmarc";
    const f = section(raw, path, problems, ["enabled", "policy", "rua"], false);
    const enabled = f.boolean("enabled", true);
    const policy = f.oneOf("policy", ["none", "quarantine", "reject"] as const, "none");
    const rua: string[] = [];
    for (const r of f.strings("rua")) {
        const parsed = parseDmarcUri(r);
        if (parsed) {
            rua.push(parsed.uri);
        } else {
            problems.push(
                `${path}.rua: ${show(r)} is not a report address: user@domain or mailto:user@domain, optionally with a size limit such as !10m (letters, digits and . _ + - before the @)`,
            );
        }
    }
    const record = [`v=DMARC1`, `p=${policy}`, ...(rua.length > 0 ? [`rua=${rua.join(",")}`] : [])].join("; ");
    if (record.length > MAX_RECORD) {
        problems.push(`${path}.rua: the ${rua.length} addresses make the record ${record.length} characters; keep DMARC under ${MAX_RECORD} so it fits one DNS answer over UDP (list fewer addresses)`);
    }
    return { enabled, policy, rua, record };
}

function readOpenDkim(raw: unknown, domains: DomainSettings[], problems: Problems): OpenDkimSettings {
    const path = "mailauth:opendkim";
    const f = section(raw, path, problems, ["reportAddress", "trustedHosts", "nameservers", "milterTransport"], false);
    const reportAddress = f.string("reportAddress", false) ?? (domains[0] ? `postmaster@${domains[0].name}` : "");
    const trustedHosts = f.strings("trustedHosts");
    const nameservers = f.strings("nameservers");
    const milterTransport = f.oneOf("milterTransport", ["auto", "unix", "inet"] as const, "auto");
    if (reportAddress && !isSafeAddress(reportAddress)) {
        problems.push(
            `${path}.reportAddress: ${show(reportAddress)} is not a plain mail address user@domain (letters, digits and . _ + - before the @; OpenDKIM passes it to a shell when it sends reports)`,
        );
    }
    for (const h of trustedHosts) {
        if (!isTrustedHost(h)) {
            problems.push(`${path}.trustedHosts: ${show(h)} is not an address, CIDR block, host name or *.domain wildcard`);
        }
    }
    const wide = overLimit(trustedHosts.map(parseBlock).filter((b): b is Block => b !== undefined), TRUSTED_MAX);
    if (wide) {
        problems.push(
            `${path}.trustedHosts: ${trustedHosts.filter((h) => parseBlock(h)).join(" ")} together cover ${wide}. OpenDKIM signs with your domains' real keys any mail from a trusted host, so anyone there who reaches this server could send mail as your domains that passes DKIM and DMARC. List the server's own addresses and your relays' blocks (private ranges such as 10.0.0.0/8, 192.168.0.0/16 and fc00::/7 may be any size)`,
        );
    }
    for (const ns of nameservers) {
        const why = ipFamily(ns) === 0 ? undefined : addressProblem(ns, "resolver");
        if (ipFamily(ns) === 0) problems.push(`${path}.nameservers: ${show(ns)} is not an IP address`);
        else if (why) problems.push(`${path}.nameservers: ${show(ns)} is ${why}, where no resolver answers; give a resolver's address (one on the server itself, 127.0.0.1, is fine)`);
    }
    return { reportAddress, trustedHosts, nameservers, milterTransport };
}

function readSsh(raw: unknown, privateKey: RawSettings["sshPrivateKey"], problems: Problems): SshSettings {
    const path = "mailauth:ssh";
    const f = section(raw, path, problems, ["host", "port", "user", "hostKey"], true);
    const host = f.string("host", true) ?? "";
    const port = f.integer("port", 22, 1, 65535);
    const user = f.string("user", false) ?? "root";
    const hostKeyRaw = isObject(raw) ? raw.hostKey : undefined;
    if (host && net.isIP(host) === 0 && !isHostname(host) && !isSingleLabelHost(host)) {
        problems.push(`${path}.host: ${show(host)} is not an IP address or host name`);
    }
    if (!USER.test(user)) problems.push(`${path}.user: ${show(user)} is not a Unix user name`);
    let hostKey: string | undefined;
    if (typeof hostKeyRaw === "string" && hostKeyRaw.trim() === "") {
        // What `ssh-keyscan ... | cut` leaves when it finds nothing (wrong port, key type, host):
        // taken as "no pin", it would turn host-key checking off without a word.
        problems.push(
            `${path}.hostKey: is empty (did ssh-keyscan find nothing? check its -p PORT and -t ed25519,ecdsa); set the server's key, or remove the setting to connect without checking it: pulumi config rm --path '${path}.hostKey'`,
        );
    } else {
        hostKey = f.string("hostKey", false);
        const check = hostKey === undefined ? undefined : checkHostKey(hostKey);
        if (check && !check.ok) problems.push(`${path}.hostKey: ${check.problem}`);
    }
    if (privateKey === "missing") {
        problems.push(`mailauth:sshPrivateKey: required, not set; run: pulumi config set --secret mailauth:sshPrivateKey < ~/.ssh/id_ed25519`);
    } else if (privateKey === "encrypted") {
        problems.push(
            `mailauth:sshPrivateKey: the key is protected by a passphrase, which pulumi-command cannot use here; give the stack a key of its own without one (ssh-keygen -t ed25519 -N '' -f ~/.ssh/mailauth) and add its .pub to the server's authorized_keys`,
        );
    } else if (privateKey === "invalid") {
        problems.push(`mailauth:sshPrivateKey: is not a private key (expected the contents of a file such as ~/.ssh/id_ed25519, "-----BEGIN ... PRIVATE KEY-----")`);
    }
    return { host, port, user, hostKey };
}

function readTestKey(raw: unknown, problems: Problems): TestKeySettings {
    const f = section(raw, "mailauth:testKey", problems, ["enabled", "timeoutSeconds"], false);
    return { enabled: f.boolean("enabled", true), timeoutSeconds: f.integer("timeoutSeconds", 300, 0, MAX_TEST_SECONDS) };
}

function readTtl(raw: unknown, problems: Problems): number {
    if (raw === undefined || raw === null) return DEFAULT_TTL;
    const n = typeof raw === "string" && /^\d+$/.test(raw.trim()) ? Number(raw) : raw;
    if (typeof n !== "number" || !Number.isInteger(n) || !(n === 1 || (n >= 60 && n <= 86400))) {
        problems.push(`mailauth:ttl: must be 1 (automatic) or a number of seconds from 60 to 86400, got ${show(raw)}`);
        return DEFAULT_TTL;
    }
    return n;
}

/** Validates raw config; throws one SettingsError listing every problem. */
export function validateSettings(raw: RawSettings): Settings {
    const problems: Problems = [];
    const domains = readDomains(raw.domains, problems);
    const settings: Settings = {
        domains: domains.domains,
        mx: readMx(raw.mx, domains, problems),
        spf: readSpf(raw.spf, domains.domains, problems),
        dmarc: readDmarc(raw.dmarc, problems),
        opendkim: readOpenDkim(raw.opendkim, domains.domains, problems),
        ssh: readSsh(raw.ssh, raw.sshPrivateKey, problems),
        ttl: readTtl(raw.ttl, problems),
        testKey: readTestKey(raw.testKey, problems),
    };
    if (problems.length > 0) throw new SettingsError(problems);
    return settings;
}
