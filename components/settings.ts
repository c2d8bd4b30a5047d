/**
 * Stack settings: the typed shape of the `mailauth:*` config and its validation.
 *
 * Validation runs before any resource is made and reports every problem at once, each naming
 * the setting and what is allowed, so that nothing touches DNS or the host on bad input.
 */
import * as net from "net";

export type MilterTransport = "auto" | "unix" | "inet";
export type DmarcPolicy = "none" | "quarantine" | "reject";
export type SpfAll = "~all" | "-all";

export interface DomainSettings {
    /** The mail domain, e.g. `example.com`. */
    name: string;
    /** Cloudflare zone id of the zone that holds the domain's records. */
    zoneId: string;
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
    sshPrivateKey: "missing" | "invalid" | "ok";
}

export class SettingsError extends Error {
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

const HOSTNAME_LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;
const SELECTOR = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const ZONE_ID = /^[0-9a-f]{32}$/;
const EMAIL = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$/;
const USER = /^[a-z_][a-z0-9_-]{0,31}$/;
const HOST_KEY = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,2}( .*)?$/;

export function isHostname(value: string): boolean {
    if (value.length === 0 || value.length > 253) return false;
    const labels = value.replace(/\.$/, "").split(".");
    return labels.length >= 2 && labels.every((l) => HOSTNAME_LABEL.test(l)) && /[a-z]/i.test(labels[labels.length - 1]);
}

/** A TrustedHosts entry: an address, a CIDR block, a host name or a `*.` wildcard host name. */
function isTrustedHost(value: string): boolean {
    const [addr, bits, ...rest] = value.split("/");
    if (rest.length === 0 && net.isIP(addr) !== 0) {
        if (bits === undefined) return true;
        const max = net.isIPv4(addr) ? 32 : 128;
        return /^\d{1,3}$/.test(bits) && Number(bits) <= max;
    }
    if (bits !== undefined) return false;
    return isHostname(value.startsWith("*.") ? value.slice(2) : value) || value === "localhost";
}

/** Counts the SPF terms that cost a DNS lookup (RFC 7208 4.6.4). */
export function spfLookupCount(terms: string[]): number {
    return terms.filter((t) => /^[+?~-]?(a|mx|ptr|include|exists)([:/]|$)|^redirect=/i.test(t)).length;
}

const SPF_MECHANISM =
    /^[?~-]?(a(:[^\s/]+)?(\/\d{1,2})?(\/\/\d{1,3})?|mx(:[^\s/]+)?(\/\d{1,2})?(\/\/\d{1,3})?|include:[^\s]+|exists:[^\s]+|ip4:[^\s]+|ip6:[^\s]+)$/i;

type Problems = string[];

function isObject(v: unknown): v is Record<string, unknown> {
    return typeof v === "object" && v !== null && !Array.isArray(v);
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
                problems.push(`${path}.${key}: unknown setting; allowed here: ${allowed.join(", ")}`);
            }
        }
    }

    string(key: string, required: boolean): string | undefined {
        const v = this.obj[key];
        if (v === undefined || v === null || v === "") {
            if (required) this.problems.push(`${this.path}.${key}: required, not set`);
            return undefined;
        }
        if (typeof v !== "string") {
            this.problems.push(`${this.path}.${key}: must be a string, got ${JSON.stringify(v)}`);
            return undefined;
        }
        return v.trim();
    }

    integer(key: string, dflt: number, min: number, max: number): number {
        const v = this.obj[key];
        if (v === undefined || v === null) return dflt;
        const n = typeof v === "string" && /^\d+$/.test(v) ? Number(v) : v;
        if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) {
            this.problems.push(`${this.path}.${key}: must be a whole number from ${min} to ${max}, got ${JSON.stringify(v)}`);
            return dflt;
        }
        return n;
    }

    boolean(key: string, dflt: boolean): boolean {
        const v = this.obj[key];
        if (v === undefined || v === null) return dflt;
        if (v === true || v === "true") return true;
        if (v === false || v === "false") return false;
        this.problems.push(`${this.path}.${key}: must be true or false, got ${JSON.stringify(v)}`);
        return dflt;
    }

    strings(key: string): string[] {
        const v = this.obj[key];
        if (v === undefined || v === null) return [];
        if (!Array.isArray(v) || !v.every((s) => typeof s === "string")) {
            this.problems.push(`${this.path}.${key}: must be a list of strings, got ${JSON.stringify(v)}`);
            return [];
        }
        return v.map((s: string) => s.trim());
    }

    oneOf<T extends string>(key: string, allowed: readonly T[], dflt: T): T {
        const v = this.obj[key];
        if (v === undefined || v === null) return dflt;
        if (typeof v !== "string" || !(allowed as readonly string[]).includes(v)) {
            this.problems.push(`${this.path}.${key}: must be one of ${allowed.join(", ")}, got ${JSON.stringify(v)}`);
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
        problems.push(`${path}: must be an object with ${allowed.join(", ")}, got ${JSON.stringify(raw)}`);
        return new Fields({}, path, [], allowed);
    }
    return new Fields(raw, path, problems, allowed);
}

function readDomains(raw: unknown, problems: Problems): DomainSettings[] {
    const path = "mailauth:domains";
    if (raw === undefined || raw === null) {
        problems.push(`${path}: required, not set (a list of {name, zoneId, selector})`);
        return [];
    }
    if (!Array.isArray(raw) || raw.length === 0) {
        problems.push(`${path}: must be a non-empty list of {name, zoneId, selector}, got ${JSON.stringify(raw)}`);
        return [];
    }
    const domains: DomainSettings[] = [];
    raw.forEach((item, i) => {
        const p = `${path}[${i}]`;
        const f = section(item, p, problems, ["name", "zoneId", "selector", "previousSelectors", "keyBits"], true);
        const name = f.string("name", true)?.toLowerCase();
        const zoneId = f.string("zoneId", true);
        const selector = f.string("selector", true);
        const previousSelectors = f.strings("previousSelectors");
        const keyBits = f.integer("keyBits", DEFAULT_KEY_BITS, 1024, 4096);
        if (name !== undefined && !isHostname(name)) {
            problems.push(`${p}.name: "${name}" is not a domain name (letters, digits and hyphens in dot-separated labels)`);
        }
        if (zoneId !== undefined && !ZONE_ID.test(zoneId)) {
            problems.push(`${p}.zoneId: must be a Cloudflare zone id (32 lowercase hex characters), got "${zoneId}"`);
        }
        for (const [key, sel] of [["selector", selector], ...previousSelectors.map((s) => ["previousSelectors", s])]) {
            if (sel !== undefined && !SELECTOR.test(sel)) {
                problems.push(`${p}.${key}: "${sel}" is not a valid selector (a DNS label: letters, digits, hyphens, at most 63)`);
            }
        }
        if (selector !== undefined && previousSelectors.includes(selector)) {
            problems.push(`${p}.previousSelectors: must not contain the active selector "${selector}"`);
        }
        if (new Set(previousSelectors).size !== previousSelectors.length) {
            problems.push(`${p}.previousSelectors: lists a selector twice`);
        }
        if (!ALLOWED_KEY_BITS.includes(keyBits)) {
            problems.push(`${p}.keyBits: must be one of ${ALLOWED_KEY_BITS.join(", ")}, got ${keyBits}`);
        } else if (keyBits < 2048) {
            problems.push(`${p}.keyBits: ${keyBits}-bit RSA keys are too weak for DKIM (RFC 8301); use 2048 or more`);
        }
        if (name && zoneId && selector) domains.push({ name, zoneId, selector, previousSelectors, keyBits });
    });
    const names = domains.map((d) => d.name);
    for (const dup of new Set(names.filter((n, i) => names.indexOf(n) !== i))) {
        problems.push(`${path}: domain "${dup}" is listed twice`);
    }
    return domains;
}

function readMx(raw: unknown, domains: DomainSettings[], problems: Problems): MxSettings {
    const path = "mailauth:mx";
    const f = section(raw, path, problems, ["hostname", "priority", "ipv4", "ipv6", "publish"], true);
    const hostname = (f.string("hostname", true) ?? "").toLowerCase();
    const priority = f.integer("priority", 10, 0, 65535);
    const ipv4 = f.string("ipv4", false);
    const ipv6 = f.string("ipv6", false);
    const publish = f.boolean("publish", true);
    if (hostname && !isHostname(hostname)) problems.push(`${path}.hostname: "${hostname}" is not a host name`);
    if (ipv4 !== undefined && !net.isIPv4(ipv4)) problems.push(`${path}.ipv4: "${ipv4}" is not an IPv4 address`);
    if (ipv6 !== undefined && !net.isIPv6(ipv6)) problems.push(`${path}.ipv6: "${ipv6}" is not an IPv6 address`);
    if ((ipv4 || ipv6) && hostname && isHostname(hostname) && domains.length > 0 && !zoneFor(hostname, domains)) {
        problems.push(
            `${path}.hostname: "${hostname}" must lie inside one of the configured domains (${domains.map((d) => d.name).join(", ")}) for its A/AAAA record to be published; drop ipv4/ipv6 or use such a host name`,
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

function readSpf(raw: unknown, problems: Problems): SpfSettings {
    const path = "mailauth:spf";
    const f = section(raw, path, problems, ["mechanisms", "all"], false);
    const mechanisms = f.strings("mechanisms");
    const allRaw = (isObject(raw) ? raw.all : undefined) as unknown;
    let all: SpfAll = "~all";
    if (allRaw === "+all" || allRaw === "all") {
        problems.push(`${path}.all: "${allRaw}" lets every host on the internet send as your domain; use "~all" (soft fail, the default) or "-all"`);
    } else if (allRaw === "?all") {
        problems.push(`${path}.all: "?all" (neutral) gives receivers nothing to act on; use "~all" (soft fail, the default) or "-all"`);
    } else {
        all = f.oneOf("all", ["~all", "-all"] as const, "~all");
    }
    for (const m of mechanisms) {
        if (/^[+?~-]?all$/i.test(m)) {
            problems.push(`${path}.mechanisms: "${m}" is not allowed here; the all term is set by ${path}.all`);
        } else if (/^[+?~-]?ptr/i.test(m)) {
            problems.push(`${path}.mechanisms: "${m}": the ptr mechanism is deprecated (RFC 7208 5.5) and slow; use ip4:/ip6:/a: instead`);
        } else if (/^redirect=/i.test(m)) {
            problems.push(`${path}.mechanisms: "${m}": redirect= is ignored when an all term is present; list the mechanisms instead`);
        } else if (m.startsWith("+")) {
            problems.push(`${path}.mechanisms: "${m}": write it without the "+" qualifier (pass is the default)`);
        } else if (!SPF_MECHANISM.test(m)) {
            problems.push(
                `${path}.mechanisms: "${m}" is not an SPF mechanism (allowed: a, mx, ip4:, ip6:, include:, exists:, with an optional -, ~ or ? qualifier)`,
            );
        } else if (/^ip4:/i.test(m) && !isCidr(m.slice(4), 4)) {
            problems.push(`${path}.mechanisms: "${m}" does not hold a valid IPv4 address or block`);
        } else if (/^ip6:/i.test(m) && !isCidr(m.slice(4), 6)) {
            problems.push(`${path}.mechanisms: "${m}" does not hold a valid IPv6 address or block`);
        }
    }
    const terms = ["mx", ...mechanisms.filter((m) => m.toLowerCase() !== "mx")];
    const lookups = spfLookupCount(terms);
    if (lookups > SPF_MAX_LOOKUPS) {
        problems.push(
            `${path}.mechanisms: the record would need ${lookups} DNS lookups (mx, a, include, exists each count); SPF allows at most ${SPF_MAX_LOOKUPS}, receivers return permerror above that`,
        );
    }
    const record = ["v=spf1", ...terms, all].join(" ");
    if (record.length > 450) {
        problems.push(`${path}.mechanisms: the record is ${record.length} characters; keep SPF under 450 so it fits one DNS answer over UDP`);
    }
    return { mechanisms, all, record };
}

function isCidr(value: string, family: 4 | 6): boolean {
    const [addr, bits, ...rest] = value.split("/");
    if (rest.length > 0 || net.isIP(addr) !== family) return false;
    return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128));
}

function readDmarc(raw: unknown, problems: Problems): DmarcSettings {
    const path = "mailauth:dmarc";
    const f = section(raw, path, problems, ["enabled", "policy", "rua"], false);
    const enabled = f.boolean("enabled", true);
    const policy = f.oneOf("policy", ["none", "quarantine", "reject"] as const, "none");
    const rua = f.strings("rua").map((r) => (r.startsWith("mailto:") ? r : `mailto:${r}`));
    for (const r of rua) {
        if (!EMAIL.test(r.slice("mailto:".length))) {
            problems.push(`${path}.rua: "${r}" is not a mail address (mailto:user@domain)`);
        }
    }
    const record = [`v=DMARC1`, `p=${policy}`, ...(rua.length > 0 ? [`rua=${rua.join(",")}`] : [])].join("; ");
    return { enabled, policy, rua, record };
}

function readOpenDkim(raw: unknown, domains: DomainSettings[], problems: Problems): OpenDkimSettings {
    const path = "mailauth:opendkim";
    const f = section(raw, path, problems, ["reportAddress", "trustedHosts", "nameservers", "milterTransport"], false);
    const reportAddress = f.string("reportAddress", false) ?? (domains[0] ? `postmaster@${domains[0].name}` : "");
    const trustedHosts = f.strings("trustedHosts");
    const nameservers = f.strings("nameservers");
    const milterTransport = f.oneOf("milterTransport", ["auto", "unix", "inet"] as const, "auto");
    if (reportAddress && !EMAIL.test(reportAddress)) {
        problems.push(`${path}.reportAddress: "${reportAddress}" is not a mail address (user@domain)`);
    }
    for (const h of trustedHosts) {
        if (!isTrustedHost(h)) {
            problems.push(`${path}.trustedHosts: "${h}" is not an address, CIDR block, host name or *.domain wildcard`);
        }
    }
    for (const ns of nameservers) {
        if (net.isIP(ns) === 0) problems.push(`${path}.nameservers: "${ns}" is not an IP address`);
    }
    return { reportAddress, trustedHosts, nameservers, milterTransport };
}

function readSsh(raw: unknown, privateKey: RawSettings["sshPrivateKey"], problems: Problems): SshSettings {
    const path = "mailauth:ssh";
    const f = section(raw, path, problems, ["host", "port", "user", "hostKey"], true);
    const host = f.string("host", true) ?? "";
    const port = f.integer("port", 22, 1, 65535);
    const user = f.string("user", false) ?? "root";
    const hostKey = f.string("hostKey", false);
    if (host && net.isIP(host) === 0 && !isHostname(host) && host !== "localhost") {
        problems.push(`${path}.host: "${host}" is not an IP address or host name`);
    }
    if (!USER.test(user)) problems.push(`${path}.user: "${user}" is not a Unix user name`);
    if (hostKey !== undefined && !HOST_KEY.test(hostKey)) {
        problems.push(`${path}.hostKey: must be one public key line as in known_hosts without the host ("ssh-ed25519 AAAA..."), e.g. from ssh-keyscan`);
    }
    if (privateKey === "missing") {
        problems.push(`mailauth:sshPrivateKey: required, not set; run: pulumi config set --secret mailauth:sshPrivateKey < ~/.ssh/id_ed25519`);
    } else if (privateKey === "invalid") {
        problems.push(`mailauth:sshPrivateKey: is not an unencrypted private key (expected the contents of a file such as ~/.ssh/id_ed25519, "-----BEGIN ... PRIVATE KEY-----")`);
    }
    return { host, port, user, hostKey };
}

function readTestKey(raw: unknown, problems: Problems): TestKeySettings {
    const f = section(raw, "mailauth:testKey", problems, ["enabled", "timeoutSeconds"], false);
    return { enabled: f.boolean("enabled", true), timeoutSeconds: f.integer("timeoutSeconds", 300, 0, 86400) };
}

function readTtl(raw: unknown, problems: Problems): number {
    if (raw === undefined || raw === null) return DEFAULT_TTL;
    const n = typeof raw === "string" && /^\d+$/.test(raw) ? Number(raw) : raw;
    if (typeof n !== "number" || !Number.isInteger(n) || !(n === 1 || (n >= 60 && n <= 86400))) {
        problems.push(`mailauth:ttl: must be 1 (automatic) or a number of seconds from 60 to 86400, got ${JSON.stringify(raw)}`);
        return DEFAULT_TTL;
    }
    return n;
}

/** Classifies the SSH private key without revealing it: set at all, and shaped like a private key. */
export function classifyPrivateKey(key: string | undefined): RawSettings["sshPrivateKey"] {
    if (key === undefined || key.trim() === "") return "missing";
    const pem = /^-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]+-----END [A-Z ]*PRIVATE KEY-----\s*$/.test(key.trim());
    return pem && !/ENCRYPTED/.test(key) ? "ok" : "invalid";
}

/** Validates raw config; throws one SettingsError listing every problem. */
export function validateSettings(raw: RawSettings): Settings {
    const problems: Problems = [];
    const domains = readDomains(raw.domains, problems);
    const settings: Settings = {
        domains,
        mx: readMx(raw.mx, domains, problems),
        spf: readSpf(raw.spf, problems),
        dmarc: readDmarc(raw.dmarc, problems),
        opendkim: readOpenDkim(raw.opendkim, domains, problems),
        ssh: readSsh(raw.ssh, raw.sshPrivateKey, problems),
        ttl: readTtl(raw.ttl, problems),
        testKey: readTestKey(raw.testKey, problems),
    };
    if (problems.length > 0) throw new SettingsError(problems);
    return settings;
}
