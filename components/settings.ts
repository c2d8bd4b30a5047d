/**
 * Stack settings: the typed shape of the `mailauth:*` config and its validation.
 *
 * Each setting is declared once, in components/settingsTable.ts (key, kind, default, allowed values,
 * doc): the sections' types, the fields each section allows, and the reading of every value by its
 * kind come from there. What a value must be beyond that (a host name, an SPF mechanism, a key
 * size strong enough) is checked here, per section.
 *
 * Validation runs before any resource is made and reports every problem at once, each naming
 * the setting and what is allowed, so that nothing touches DNS or the host on bad input.
 */
import * as net from "net";
import * as pulumi from "@pulumi/pulumi";
import { hasControlCharacters, show } from "./validate/show";
import { checkHostKey, PrivateKeyClass } from "./validate/sshKeys";
import { ipFamily, isHostname, isSafeAddress, isSingleLabelHost } from "./validate/mail";
import { normalizeName } from "./records/name";
import { dkimRecordName } from "./records/dkim";
import { formatIpv6 } from "./ipv6";
import { isIpMechanism, relaySpfTerms, SPF_MAX, SPF_MAX_LOOKUPS, spfLookupCount, spfMechanismProblem, spfRecordValue, spfTerms } from "./records/spf";
import {
    DMARC_FO_OPTIONS,
    DMARC_REMOVED_TAGS,
    dmarcFoProblem,
    dmarcRecordValue,
    parseDmarcUri,
    ReportAuthorization,
    reportAuthorizations,
    reportHost,
} from "./records/dmarc";
import { addressProblem, asPrefix, Block, parseBlock, publicSpan } from "./validate/addresses";
import { aLabelProblem, hostnameProblem, sshHostProblem, trustedWildcardProblem } from "./validate/names";
import { MAX_PREVIOUS_SELECTORS, previousSelectorsProblem } from "./validate/limits";
import { readImportRecordsShape } from "./validate/imports";
import { DKIM_KEYS_SETTING, dkimKeyPath, DkimKeysRead, USER_KEY_RECOMMENDED_BITS, UserDkimKey } from "./validate/dkimKeys";
import {
    ADOPT_RECORDS,
    CHECK,
    DMARC,
    DOMAINS,
    HOSTS,
    MX,
    NO_MAIL,
    NOW,
    OPENDKIM,
    POLICYD_SPF,
    POLICYD_SPF_DEFAULT_SKIP,
    Read,
    ROTATION,
    Row,
    Section,
    SPF,
    SSH,
    TEST_KEY,
    TTL,
    Values,
} from "./settingsTable";
import { noMailDmarcName } from "./records/nomail";
import {
    dayOf,
    dayText,
    parseDay,
    parseDuration,
    parseNow,
    periodOfSelector,
    periodStart,
    resolveRotation,
    Rotation,
    ROTATION_DEFAULTS,
    RotationPlan,
} from "./rotation";

/**
 * A domain as the rest of the program sees it: on a calendar, its selectors as the calendar gives
 * them at `now` (components/rotation.ts), so that keys, records and the host's tables are made as
 * for a manual rotation.
 */
export type DomainSettings = Omit<Values<typeof DOMAINS>, "selector" | "rotation" | "revokeNow"> & {
    /** The selector that signs. */
    selector: string;
    /** Published with an empty p= (RFC 6376 3.6.1: revoked); no key, no key file. */
    revokedSelectors: string[];
    /** On a calendar: what it gives at `now`. */
    rotation?: RotationPlan;
};
/** hostname: "" only with mailauth:hosts (the view then gives the first MX host's). */
export type MxSettings = Omit<Values<typeof MX>, "hostname"> & { hostname: string };
export type SpfSettings = Values<typeof SPF> & {
    /** The full record value, e.g. `v=spf1 mx ~all`. */
    record: string;
    /** The terms for the relay hosts that are no MX (mailauth:hosts), after `mx`; none for the one host of ssh and mx. */
    hostTerms: string[];
};
export type DmarcSettings = Values<typeof DMARC> & {
    /** The full record value, e.g. `v=DMARC1; p=none`. */
    record: string;
};
/** `reportAddress` is always set: its default is derived from the first domain. */
export type OpenDkimSettings = Omit<Values<typeof OPENDKIM>, "reportAddress"> & { reportAddress: string };
export type SshSettings = Omit<Values<typeof SSH>, "host"> & { host: string };
/**
 * One mail host (issue 21): `mailauth:hosts[i]`, or the one host of mailauth:ssh and mx without it.
 * `id` is its component's name: `mailhost` for that one host, `mailhost-<hostname>` in list form.
 */
export interface HostSettings {
    id: string;
    hostname: string;
    ipv4?: string;
    ipv6?: string;
    /** Its MX priority; unset: not an MX. */
    mxPriority?: number;
    /** It sends the domains' mail: it signs (the DKIM keys) and SPF covers it. */
    relay: boolean;
    ssh: SshSettings;
    /** Where it was set, for messages: `mailauth:hosts[0]`, or `mailauth:ssh` for the one host. */
    path: string;
    /**
     * A relay's own key (`mailauth:hosts[i].selector`): it signs every domain's mail under this
     * selector, with a key of its own; unset: the domains' shared key. Never with a rotation calendar.
     */
    selector?: string;
    /** Its own old selectors, kept published and installed on it (set only with `selector`). */
    previousSelectors?: string[];
}

/** Every selector of the hosts' own keys (mailauth:hosts[i].selector, previousSelectors), in the list's order. */
export function hostOwnSelectors(hosts: readonly HostSettings[]): string[] {
    return hosts.flatMap((h) => (h.selector === undefined ? [] : [h.selector, ...(h.previousSelectors ?? [])]));
}
/** One name of mailauth:noMail, normalized (components/records/nomail.ts). */
export type NoMailSettings = Values<typeof NO_MAIL>;
export type PolicydSpfSettings = Values<typeof POLICYD_SPF> & {
    /**
     * The `skip_addresses` value to write (the package's entries, then the user's), or undefined
     * when that is the package's own list: the key is then left alone.
     */
    skipList?: string;
};
export type TestKeySettings = Values<typeof TEST_KEY>;
export type CheckSettings = Values<typeof CHECK>;

export type MilterTransport = OpenDkimSettings["milterTransport"];
export type DmarcPolicy = DmarcSettings["policy"];
export type SpfAll = SpfSettings["all"];

export interface Settings {
    domains: DomainSettings[];
    /**
     * The mail hosts: `mailauth:hosts`, or the one host of mailauth:ssh and mx (id `mailhost`), an
     * MX and a relay. New code reads these; `mx` and `ssh` are views of the first (MX) host.
     */
    hosts: HostSettings[];
    /** Whether the hosts come from `mailauth:hosts` (per-host resource names) rather than ssh and mx. */
    hostList: boolean;
    mx: MxSettings;
    spf: SpfSettings;
    dmarc: DmarcSettings;
    /** `mailauth:noMail`: names that send no mail (none by default). */
    noMail: NoMailSettings[];
    opendkim: OpenDkimSettings;
    policydSpf: PolicydSpfSettings;
    ssh: SshSettings;
    ttl: number;
    testKey: TestKeySettings;
    /** `mailauth:check`: the check of the published DNS after pulumi up (components/check). */
    check: CheckSettings;
    /** `mailauth:adoptRecords`: take over the records in the way (components/adoptRecords.ts). */
    adoptRecords: boolean;
    /** `mailauth:dkimKeys`: the user's own key per `<domain>/<selector>` (domain normalized, selector as configured). */
    dkimKeys: Record<string, UserDkimKey>;
    /** The instant the rotation calendar takes as now (ms since the epoch): `mailauth:now`, or the clock. */
    now: number;
}

/** The key `settings.dkimKeys` holds a selector's user key under. */
export const userKeyId = (domain: string, selector: string) => `${domain}/${selector}`;

/** Raw config values as read from `pulumi config`: anything may be missing or of the wrong type. */
export interface RawSettings {
    domains?: unknown;
    mx?: unknown;
    /** `mailauth:hosts`: several hosts, in place of ssh and mx's host fields. */
    hosts?: unknown;
    spf?: unknown;
    dmarc?: unknown;
    noMail?: unknown;
    opendkim?: unknown;
    policydSpf?: unknown;
    ssh?: unknown;
    ttl?: unknown;
    testKey?: unknown;
    check?: unknown;
    /** `mailauth:rotation`: the calendar for every domain. */
    rotation?: unknown;
    /** `mailauth:now`: the calendar's today (tests, planning); unset, the clock. */
    now?: unknown;
    /** `mailauth:importRecords` (its shape only: components/validate/imports.ts). */
    importRecords?: unknown;
    adoptRecords?: unknown;
    /** Whether the program has a Cloudflare API token (cloudflare:apiToken or CLOUDFLARE_API_TOKEN): adoptRecords needs it. */
    cloudflareToken?: boolean;
    /** What the SSH private key secret looks like; its value never passes through validation. */
    sshPrivateKey: PrivateKeyClass;
    /** `mailauth:dkimKeys`, each key already checked (components/validate/dkimKeys.ts); its text only in secret Outputs. */
    dkimKeys?: DkimKeysRead;
}

/**
 * Every problem with the settings, at once. A RunError: the Node.js language host prints its
 * message alone, with no "unhandled exception" and no stack trace (@pulumi/pulumi
 * cmd/run/run.js ~377-379), which is what a user with a typo should see.
 */
export class SettingsError extends pulumi.RunError {
    constructor(public readonly problems: string[]) {
        super(`mailauth: ${problems.length} configuration problem(s); nothing was changed:\n` + problems.map((p) => `  - ${p}`).join("\n"));
        this.name = "SettingsError";
    }
}

/** The most labels a domain name may have (each costs one zone lookup when its zone is found by name). */
export const MAX_DOMAIN_LABELS = 10;
/** A TXT record over this many characters may not fit one DNS answer over UDP (512 bytes). */
export const MAX_RECORD = 450;

const SELECTOR = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const ZONE_ID = /^[0-9a-f]{32}$/;
const USER = /^[a-z_][a-z0-9_-]{0,31}$/;

/** A TrustedHosts entry: an address, a CIDR block, a host name or a `*.` wildcard host name. */
function isTrustedHost(value: string): boolean {
    // An address or anything with a prefix length is a block, and parseBlock (validate/addresses.ts) says whether it is one.
    if (net.isIP(value) !== 0 || value.includes("/")) return parseBlock(value) !== undefined;
    return isHostname(value.startsWith("*.") ? value.slice(2) : value) || value === "localhost";
}

/**
 * The widest public address space the trusted hosts may cover, all blocks together (overlaps once;
 * private and special-purpose ranges not counted: components/validate/addresses.ts). OpenDKIM
 * signs their mail with the domains' keys, so a /16 of IPv4 (65,536 addresses, more than any one
 * site's relays) and a /48 of IPv6 (one site's allocation, RFC 6177). SPF's: records/spf.ts SPF_MAX.
 */
export const TRUSTED_MAX = { v4: 1n << 16n, v6: 1n << 80n };

/** What the blocks cover beyond the limit, as "N public IPv4 addresses (a /P)", or undefined. */
function overLimit(blocks: Block[], max: { v4: bigint; v6: bigint }): string | undefined {
    const span = publicSpan(blocks);
    const parts: string[] = [];
    if (span.v4 > max.v4) parts.push(`${span.v4} public IPv4 addresses (as many as a ${asPrefix(span.v4, 4)}; at most a ${asPrefix(max.v4, 4)} is allowed)`);
    if (span.v6 > max.v6) parts.push(`public IPv6 space as large as a ${asPrefix(span.v6, 6)} (at most a ${asPrefix(max.v6, 6)} is allowed)`);
    return parts.length > 0 ? parts.join(" and ") : undefined;
}

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
            problems.push(
                `${path}: ${show(v)} contains a control character (a newline, tab or escape) or an invisible one (zero-width, bidi mark, soft hyphen); remove it`,
            );
            return undefined;
        }
        return v.trim();
    }
    if (typeof v === "number" && Number.isSafeInteger(v)) return String(v);
    if (typeof v === "boolean") return String(v);
    if (typeof v === "number" && Number.isInteger(v)) {
        problems.push(`${path}: the number ${show(v)} is too long to keep exactly; set it as a string: pulumi config set --type string --path '${path}' VALUE`);
        return undefined;
    }
    problems.push(`${path}: must be a string, got ${show(v)}`);
    return undefined;
}

/** Reads typed fields out of one config object, recording a problem for each bad field. */
class Fields {
    constructor(
        private readonly obj: Record<string, unknown>,
        /** How a field is named in a message: `mailauth:mx.priority`, or `mailauth:ttl` for a value. */
        private readonly at: (key: string) => string,
        private readonly problems: Problems,
        allowed: string[],
    ) {
        for (const key of Object.keys(obj)) {
            if (!allowed.includes(key)) {
                problems.push(`${at(show(key).slice(1, -1))}: unknown setting; allowed here: ${allowed.join(", ")}`);
            }
        }
    }

    string(key: string, required: boolean): string | undefined {
        const v = this.obj[key];
        if (v === undefined || v === null || v === "") {
            if (required) this.problems.push(`${this.at(key)}: required, not set`);
            return undefined;
        }
        return typedString(v, this.at(key), this.problems);
    }

    integer(row: Pick<IntegerRowLike, "key" | "default" | "min" | "max" | "also" | "allowed" | "allowedText">): number | undefined {
        const { key, default: dflt, min, max } = row;
        const v = this.obj[key];
        if (v === undefined || v === null) return dflt;
        const n = typeof v === "string" && /^\d+$/.test(v.trim()) ? Number(v) : v;
        if (typeof n !== "number" || !Number.isInteger(n) || !((n >= min && n <= max) || row.also?.includes(n))) {
            this.problems.push(`${this.at(key)}: must be ${row.allowedText ?? `a whole number from ${min} to ${max}`}, got ${show(v)}`);
            return dflt;
        }
        if (row.allowed && !row.allowed.includes(n)) {
            this.problems.push(`${this.at(key)}: must be one of ${row.allowed.join(", ")}, got ${n}`);
            return dflt;
        }
        return n;
    }

    boolean(key: string, dflt: boolean): boolean {
        const v = this.obj[key];
        if (v === undefined || v === null) return dflt;
        if (v === true || v === "true") return true;
        if (v === false || v === "false") return false;
        this.problems.push(`${this.at(key)}: must be true or false, got ${show(v)}`);
        return dflt;
    }

    /** A list of strings; entries the CLI stored as numbers or booleans are taken as typed. */
    strings(key: string): string[] {
        const v = this.obj[key];
        if (v === undefined || v === null) return [];
        if (!Array.isArray(v)) {
            this.problems.push(`${this.at(key)}: must be a list of strings, got ${show(v)}`);
            return [];
        }
        const values: string[] = [];
        v.forEach((item, i) => {
            const s = item === null || item === undefined ? undefined : typedString(item, `${this.at(key)}[${i}]`, this.problems);
            if (item === null || item === undefined) this.problems.push(`${this.at(key)}[${i}]: empty entry`);
            if (s !== undefined) values.push(s);
        });
        return values;
    }

    oneOf<T extends string>(key: string, allowed: readonly T[], dflt: T | undefined): T | undefined {
        const v = this.obj[key];
        if (v === undefined || v === null) return dflt;
        if (typeof v !== "string" || !(allowed as readonly string[]).includes(v)) {
            this.problems.push(`${this.at(key)}: must be one of ${allowed.join(", ")}, got ${show(v)}`);
            return dflt;
        }
        return v as T;
    }

    /** One row of a section's table, read by its kind. */
    row(row: Row): unknown {
        const refusal = row.refuse?.(this.obj[row.key], this.at(row.key));
        if (refusal !== undefined) {
            this.problems.push(`${this.at(row.key)}: ${refusal}`);
            return "default" in row ? row.default : undefined;
        }
        switch (row.kind) {
            case "string":
                return this.string(row.key, row.required === true) ?? row.default;
            case "integer":
                return this.integer(row);
            case "boolean":
                return this.boolean(row.key, row.default);
            case "strings":
                return this.strings(row.key);
            case "choice":
                return this.oneOf(row.key, row.allowed, row.default);
            case "map":
                // Read by its section's reader (a domain's rotation: readRotation).
                return this.obj[row.key];
            case "secret":
                throw new Error(`mailauth: ${row.key} is read apart (components/settingsTable.ts)`);
        }
    }

    /** Every row of a section, by key. */
    rows<S extends Section>(section: S): Read<S> {
        return Object.fromEntries(section.rows.map((r) => [r.key, this.row(r)])) as Read<S>;
    }
}

type IntegerRowLike = Extract<Row, { kind: "integer" }>;

/**
 * The fields of one config section, read by its table. A missing or malformed section is reported
 * once, here; its fields then read from an empty object whose own complaints are dropped, not repeated.
 */
function section<S extends Section>(decl: S, raw: unknown, path: string, problems: Problems, required = decl.required === true): Read<S> {
    const allowed = decl.rows.map((r) => r.key);
    const at = (key: string) => `${path}.${key}`;
    if (raw === undefined || raw === null) {
        if (required) problems.push(`${path}: required, not set (an object with ${allowed.join(", ")})`);
        return new Fields({}, at, required ? [] : problems, allowed).rows(decl);
    }
    if (!isObject(raw)) {
        problems.push(
            `${path}: must be an object with ${allowed.join(", ")}, got ${show(raw)}; set its fields with pulumi config set --path '${path}.${allowed[0]}' VALUE`,
        );
        return new Fields({}, at, [], allowed).rows(decl);
    }
    return new Fields(raw, at, problems, allowed).rows(decl);
}

/** A setting that is one value (`mailauth:ttl`), read by its table's one row. */
function value<S extends Section>(decl: S, raw: unknown, problems: Problems): Read<S>[keyof Read<S>] {
    const row = decl.rows[0];
    return new Fields({ [row.key]: raw }, (key) => `mailauth:${key}`, problems, [row.key]).row(row) as Read<S>[keyof Read<S>];
}

interface DomainsRead {
    domains: DomainSettings[];
    /** False when some domain was refused: checks across domains would then only mislead. */
    complete: boolean;
}

type RotationKey = keyof typeof ROTATION_DEFAULTS | "start";
const ROTATION_KEYS: RotationKey[] = ROTATION.rows.map((r) => r.key);
const DURATION_TEXT = "a number of days such as 180d (1d to 3650d)";

/** A rotation object's fields, each parsed (undefined: unset or refused) with the path it was set at. */
type RotationFields = Partial<Record<RotationKey, { value: number; path: string }>>;

/** The fields of a rotation object at `path` (`mailauth:rotation`, `mailauth:domains[0].rotation`); each bad one is a problem. */
function rotationFields(raw: unknown, path: string, problems: Problems): RotationFields {
    if (raw === undefined || raw === null) return {};
    if (!isObject(raw)) {
        problems.push(
            `${path}: must be an object with ${ROTATION_KEYS.join(", ")}, got ${show(raw)}; set its fields with pulumi config set --path '${path}.start' 2027-01-01`,
        );
        return {};
    }
    const fields: RotationFields = {};
    const read = new Fields(raw, (key) => `${path}.${key}`, problems, ROTATION_KEYS);
    for (const key of ROTATION_KEYS) {
        const text = read.string(key, false);
        if (text === undefined) continue;
        const value = key === "start" ? parseDay(text) : parseDuration(text);
        if (value === undefined) {
            problems.push(
                key === "start"
                    ? `${path}.start: must be a UTC date YYYY-MM-DD (the first period starts at its midnight, UTC), got ${show(text)}`
                    : `${path}.${key}: must be ${DURATION_TEXT}, got ${show(text)}`,
            );
        } else {
            fields[key] = { value, path: `${path}.${key}` };
        }
    }
    return fields;
}

/**
 * A domain's calendar: its own rotation fields over mailauth:rotation's, the defaults for the rest;
 * undefined when neither sets anything (manual rotation) or a field is refused. A problem across
 * fields names where the later one was set; one the global calendar has is said once.
 */
function readRotation(global: RotationFields, own: RotationFields, problems: Problems, ownPath: string): Rotation | undefined {
    const merged: RotationFields = { ...global, ...own };
    if (Object.keys(merged).length === 0) return undefined;
    const push = (p: string) => {
        if (!problems.includes(p)) problems.push(p);
    };
    const at = (key: RotationKey) => merged[key]?.path ?? (Object.keys(own).length > 0 ? `${ownPath}.${key}` : `mailauth:rotation.${key}`);
    if (merged.start === undefined) {
        push(
            `${at("start")}: required for a rotation calendar, not set: the first period's start, a UTC date YYYY-MM-DD (or remove the rotation settings for manual rotation)`,
        );
    }
    const days = (key: keyof typeof ROTATION_DEFAULTS) => merged[key]?.value ?? parseDuration(ROTATION_DEFAULTS[key])!;
    const r = { every: days("every"), publishAhead: days("publishAhead"), retire: days("retire"), revoke: days("revoke") };
    let ok = merged.start !== undefined;
    if (r.publishAhead >= r.every) {
        push(`${at("publishAhead")}: ${r.publishAhead}d must be less than every (${r.every}d): the next key is published within the period before its own`);
        ok = false;
    }
    if (r.retire >= r.revoke) {
        push(`${at("revoke")}: ${r.revoke}d must be more than retire (${r.retire}d): the old key is revoked after it is retired, then removed`);
        ok = false;
    }
    // An old selector stays in the zone retire + revoke days after its period (components/rotation.ts holdUntil).
    if (Math.ceil((r.retire + r.revoke) / r.every) > MAX_PREVIOUS_SELECTORS) {
        push(
            `${at("revoke")}: ${r.revoke}d with retire ${r.retire}d and every ${r.every}d keeps ${Math.ceil((r.retire + r.revoke) / r.every)} old selectors in the zone at once; at most ${MAX_PREVIOUS_SELECTORS} (retire + revoke at most ${MAX_PREVIOUS_SELECTORS} times every)`,
        );
        ok = false;
    }
    return ok ? { start: merged.start!.value, ...r } : undefined;
}

function readDomains(raw: unknown, problems: Problems, rawRotation: unknown, now: number): DomainsRead {
    const globalRotation = rotationFields(rawRotation, "mailauth:rotation", problems);
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
        const { name: rawName, zoneId, selector, previousSelectors, keyBits, rotation: rawOwn, revokeNow } = section(DOMAINS, item, p, problems, true);
        const ownRotation = rotationFields(rawOwn, `${p}.rotation`, problems);
        const calendar = Object.keys({ ...globalRotation, ...ownRotation }).length > 0;
        const rotation = readRotation(globalRotation, ownRotation, problems, `${p}.rotation`);
        // Unset (a value refused has its own message): required unless the domain rotates on a calendar.
        const unset = !isObject(item) || item.selector === undefined || item.selector === null || item.selector === "";
        if (selector === undefined && unset && !calendar) problems.push(`${p}.selector: required, not set`);
        const name = rawName === undefined ? undefined : normalizeName(rawName);
        const tooMany = previousSelectorsProblem(p, previousSelectors);
        if (tooMany) problems.push(tooMany);
        if (name !== undefined && hostnameProblem(rawName!) !== undefined) {
            problems.push(
                `${p}.name: ${show(rawName)} is not a domain name (letters, digits and hyphens in dot-separated labels): ${hostnameProblem(rawName!)}`,
            );
        } else if (name !== undefined && name.split(".").length > MAX_DOMAIN_LABELS) {
            // Finding its zone asks Cloudflare for each parent name in turn (components/zone.ts).
            problems.push(
                `${p}.name: ${show(rawName)} has ${name.split(".").length} labels; at most ${MAX_DOMAIN_LABELS} are allowed (each costs a zone lookup)`,
            );
        } else if (name !== undefined) {
            // The longest name the stack publishes: <selector>._domainkey.<name> (RFC 1035 2.3.4: 253 characters as text).
            const longest = Math.max(7, ...[selector ?? "", ...previousSelectors, ...revokeNow, calendar ? "k20261201" : ""].map((sel) => sel.length + 12));
            if (name.length + longest > 253) {
                problems.push(
                    `${p}.name: ${show(rawName)} is ${name.length} characters; with ${longest === 7 ? "_dmarc." : "its selector's ._domainkey."} in front the record name would be ${name.length + longest}, over DNS's 253`,
                );
            }
        }
        if (zoneId !== undefined && !ZONE_ID.test(zoneId)) {
            problems.push(`${p}.zoneId: must be a Cloudflare zone id (32 lowercase hex characters), got ${show(zoneId)}`);
        }
        for (const [key, sel] of [
            ["selector", selector],
            ...previousSelectors.map((s) => ["previousSelectors", s]),
            ...revokeNow.map((s) => ["revokeNow", s]),
        ]) {
            if (sel !== undefined && (!SELECTOR.test(sel) || aLabelProblem(sel) !== undefined)) {
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
        // A revoked selector publishes an empty p= and has no key: it cannot also be published with its key.
        const revokedSeen = new Set<string>();
        for (const sel of revokeNow) {
            const low = sel.toLowerCase();
            if (revokedSeen.has(low)) problems.push(`${p}.revokeNow: lists the selector ${show(sel)} twice`);
            revokedSeen.add(low);
            if (previousSelectors.some((x) => x.toLowerCase() === low)) {
                problems.push(`${p}.revokeNow: ${show(sel)} is also in previousSelectors (published with its key); list it in one of them`);
            } else if (!calendar && selector !== undefined && selector.toLowerCase() === low) {
                problems.push(
                    `${p}.revokeNow: ${show(sel)} is the selector that signs; set a new selector in the same change (pulumi config set --path '${p}.selector' <new>) and the old one is revoked while the new one signs`,
                );
            }
        }
        if (keyBits < 2048) {
            problems.push(`${p}.keyBits: ${keyBits}-bit RSA keys are too weak for DKIM (RFC 8301); use 2048 or more`);
        }
        const period = rotation && selector !== undefined ? periodOfSelector(rotation, selector) : undefined;
        if (rotation && period !== undefined) {
            problems.push(
                `${p}.selector: ${show(selector)} is the calendar's own selector of the period starting ${dayText(periodStart(rotation, period))}; on a calendar, selector is the one that signs before rotation.start: give that one, or leave selector out`,
            );
        }
        if (problems.length === before && name && rotation) {
            const plan = resolveRotation(rotation, dayOf(now), selector, revokeNow);
            const inPlan = new Set(plan.stages.map((st) => st.selector.toLowerCase()));
            const clash = previousSelectors.find((x) => inPlan.has(x.toLowerCase()));
            if (clash !== undefined) {
                problems.push(`${p}.previousSelectors: ${show(clash)} is a selector of the rotation calendar; drop it from previousSelectors`);
            } else {
                domains.push({
                    name,
                    zoneId,
                    selector: plan.selector,
                    // The user's own kept selectors stay as listed (those of before the calendar).
                    previousSelectors: [...plan.previousSelectors, ...previousSelectors],
                    // revokeNow entries outside the calendar stay revoked while listed; the calendar's own end with their period.
                    revokedSelectors: [
                        ...plan.revokedSelectors,
                        ...revokeNow.filter((x) => !inPlan.has(x.toLowerCase()) && periodOfSelector(rotation, x) === undefined),
                    ],
                    keyBits,
                    rotation: plan,
                });
            }
        } else if (!calendar && problems.length === before && name && selector) {
            domains.push({ name, zoneId, selector, previousSelectors, revokedSelectors: revokeNow, keyBits });
        }
    });
    const names = domains.map((d) => d.name);
    for (const dup of new Set(names.filter((n, i) => names.indexOf(n) !== i))) {
        problems.push(`${path}: domain ${show(dup)} is listed twice (names are compared without case and trailing dot)`);
    }
    return { domains, complete: domains.length === raw.length };
}

/**
 * A host's addresses as DNS and the check take them (`mx.ipv4`/`mx.ipv6`, or a host's `ipv4`/`ipv6`
 * under `path`): the family each key says, reachable from the internet (private ranges allowed).
 */
function hostAddressProblems(path: string, ipv4: string | undefined, ipv6: string | undefined, problems: Problems): void {
    if (ipv4 !== undefined && ipFamily(ipv4) !== 4) problems.push(`${path}.ipv4: ${show(ipv4)} is not an IPv4 address`);
    for (const [key, ip, family] of [
        ["ipv4", ipv4, 4],
        ["ipv6", ipv6, 6],
    ] as const) {
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
}

/** mx's fields that mailauth:hosts replaces (each host has its own); publish and heloSpf stay global. */
const MX_HOST_FIELDS = ["hostname", "priority", "ipv4", "ipv6"] as const;

/** Unset, or the `{}` Pulumi.yaml gives a section left out (components/settingsDocs.ts configDefault). */
function unsetSection(raw: unknown): boolean {
    return raw === undefined || raw === null || (isObject(raw) && Object.keys(raw).length === 0);
}

function readMx(raw: unknown, domains: DomainsRead, problems: Problems, hostList: boolean): MxSettings {
    const path = "mailauth:mx";
    if (!hostList && unsetSection(raw)) {
        problems.push(`${path}: required, not set (an object with ${MX.rows.map((r) => r.key).join(", ")}; or several hosts in mailauth:hosts)`);
    }
    if (hostList && isObject(raw)) {
        for (const key of MX_HOST_FIELDS) {
            if (raw[key] !== undefined && raw[key] !== null) {
                problems.push(
                    `${path}.${key}: set together with mailauth:hosts, which replaces it (each host has its own hostname, mx priority and ipv4/ipv6; mx.publish and mx.heloSpf stay); remove it: pulumi config rm --path '${path}.${key}'`,
                );
            }
        }
    }
    const { hostname: rawHostname = "", priority, ipv4, ipv6, publish, heloSpf } = section(MX, raw, path, problems);
    if (hostList) return { hostname: "", priority, publish, heloSpf };
    if (isObject(raw) && !unsetSection(raw) && (raw.hostname === undefined || raw.hostname === null || raw.hostname === ""))
        problems.push(`${path}.hostname: required, not set`);
    const hostname = normalizeName(rawHostname);
    if (rawHostname && !hostname)
        problems.push(`${path}.hostname: ${show(rawHostname)} is the DNS root, not a host name; give the server's name, e.g. mail.example.com`);
    if (hostname && hostnameProblem(rawHostname) !== undefined)
        problems.push(`${path}.hostname: ${show(rawHostname)} is not a host name: ${hostnameProblem(rawHostname)}`);
    hostAddressProblems(path, ipv4, ipv6, problems);
    // Only against the whole list: a refused domain must not make the MX look misplaced.
    if ((ipv4 || ipv6) && hostname && isHostname(hostname) && domains.complete && !zoneFor(hostname, domains.domains)) {
        problems.push(
            `${path}.hostname: ${show(hostname)} must lie inside one of the configured domains (${domains.domains.map((d) => d.name).join(", ")}) for its A/AAAA record to be published; drop ipv4/ipv6 or use such a host name`,
        );
    }
    return { hostname, priority, ipv4, ipv6, publish, heloSpf };
}

/** The component name of a host of mailauth:hosts (state identity: keep it); the one host of ssh and mx is `mailhost`. */
export function hostComponentName(hostname: string): string {
    return `mailhost-${hostname}`;
}

/**
 * The per-host record ids (components/mailDns.ts) are `mx-<hostname>`, `mx-a-<hostname>`,
 * `mx-aaaa-<hostname>`, `mx-spf-<hostname>`: a host named `a-<other host>` would share a resource
 * name with the other's A record.
 */
const RECORD_ID_PREFIXES = ["a-", "aaaa-", "spf-"];

/**
 * `mailauth:hosts`: each entry a host with its addresses, MX priority, role and SSH connection.
 * At least one MX and one relay; hostnames unique. Undefined when unset (the one host of ssh and mx).
 */
function readHosts(raw: unknown, problems: Problems, domains: DomainsRead): HostSettings[] | undefined {
    const path = "mailauth:hosts";
    // Unset: the `[]` Pulumi.yaml gives it (components/settingsDocs.ts configDefault).
    if (raw === undefined || raw === null || raw === "" || (Array.isArray(raw) && raw.length === 0)) return undefined;
    if (!Array.isArray(raw)) {
        problems.push(
            `${path}: must be a list of {${HOSTS.rows.map((r) => r.key).join(", ")}}, got ${show(raw)}; add one with pulumi config set --path '${path}[0].hostname' mail.example.com`,
        );
        return [];
    }
    const hosts: HostSettings[] = [];
    raw.forEach((item, i) => {
        const p = `${path}[${i}]`;
        const before = problems.length;
        const read = section(HOSTS, item, p, problems, true);
        const { hostname: rawHostname, ipv4, ipv6, mx, relay, sshHost, sshPort, sshUser, sshHostKey, selector, previousSelectors } = read;
        const hostname = rawHostname === undefined ? undefined : normalizeName(rawHostname);
        if (rawHostname !== undefined && !hostname) {
            problems.push(`${p}.hostname: ${show(rawHostname)} is the DNS root, not a host name; give the server's name, e.g. mail.example.com`);
        } else if (hostname && hostnameProblem(rawHostname!) !== undefined) {
            problems.push(`${p}.hostname: ${show(rawHostname)} is not a host name: ${hostnameProblem(rawHostname!)}`);
        }
        hostAddressProblems(p, ipv4, ipv6, problems);
        const host = sshHost ?? ipv4 ?? hostname ?? "";
        if (sshHost !== undefined && net.isIP(sshHost) === 0 && sshHostProblem(sshHost) !== undefined) {
            problems.push(`${p}.sshHost: ${show(sshHost)} is not an IP address or host name: ${sshHostProblem(sshHost)}`);
        }
        if (!USER.test(sshUser)) problems.push(`${p}.sshUser: ${show(sshUser)} is not a Unix user name`);
        const check = sshHostKey === undefined ? undefined : checkHostKey(sshHostKey);
        if (check && !check.ok) problems.push(`${p}.sshHostKey: ${check.problem}`);
        hostSelectorProblems(p, relay, selector, previousSelectors, problems);
        if (problems.length === before && hostname) {
            hosts.push({
                id: hostComponentName(hostname),
                hostname,
                ...(ipv4 !== undefined ? { ipv4 } : {}),
                ...(ipv6 !== undefined ? { ipv6 } : {}),
                ...(mx !== undefined ? { mxPriority: mx } : {}),
                relay,
                ssh: { host, port: sshPort, user: sshUser, ...(sshHostKey !== undefined ? { hostKey: sshHostKey } : {}) },
                path: p,
                ...(selector !== undefined ? { selector, previousSelectors } : {}),
            });
        }
    });
    // Across entries: only against the whole list (a refused entry must not make a role look missing).
    if (hosts.length === raw.length) {
        const names = hosts.map((h) => h.hostname);
        for (const dup of new Set(names.filter((n, i) => names.indexOf(n) !== i))) {
            problems.push(
                `${path}: ${show(dup)} is listed twice (${hosts
                    .filter((h) => h.hostname === dup)
                    .map((h) => `${h.path}.hostname`)
                    .join(", ")}; names are compared without case and trailing dot): one entry per host`,
            );
        }
        for (const h of hosts) {
            const other = hosts.find((o) => RECORD_ID_PREFIXES.some((pre) => h.hostname === `${pre}${o.hostname}`));
            if (other) {
                problems.push(
                    `${h.path}.hostname: ${h.hostname} and ${other.hostname} (${other.path}) would give two records one resource name (mx-${h.hostname}); rename one of the hosts`,
                );
            }
        }
        hostSelectorClashes(hosts, domains, problems);
        if (!hosts.some((h) => h.mxPriority !== undefined)) {
            problems.push(`${path}: no host receives mail: give at least one its MX priority, e.g. pulumi config set --path '${path}[0].mx' 10`);
        }
        if (!hosts.some((h) => h.relay)) {
            problems.push(
                `${path}: no host sends the domains' mail (every one has relay false): at least one must sign and send, e.g. pulumi config set --path '${path}[0].relay' true`,
            );
        }
    }
    return hosts;
}

/**
 * One host's own selectors (mailauth:hosts[i].selector, previousSelectors), alone: each a valid
 * selector (as a domain's), on a relay only, previousSelectors only beside a selector, none twice.
 */
function hostSelectorProblems(p: string, relay: boolean, selector: string | undefined, previous: string[], problems: Problems): void {
    for (const [key, sel] of [["selector", selector], ...previous.map((s) => ["previousSelectors", s])]) {
        if (sel !== undefined && (!SELECTOR.test(sel) || aLabelProblem(sel) !== undefined)) {
            problems.push(`${p}.${key}: ${show(sel)} is not a valid selector (a DNS label: letters, digits, hyphens, at most 63)`);
        }
    }
    const tooMany = previousSelectorsProblem(p, previous);
    if (tooMany) problems.push(tooMany);
    if (selector !== undefined && !relay) {
        problems.push(
            `${p}.selector: set on a host with relay false: a host that does not sign has no key; remove it: pulumi config rm --path '${p}.selector'`,
        );
    }
    if (selector === undefined && previous.length > 0) {
        problems.push(
            `${p}.previousSelectors: set without ${p}.selector: a host's old selectors are kept only beside its own; to go back to the shared key, move them to the domains' previousSelectors (mailauth:domains[i].previousSelectors: the same keys, now on every relay)`,
        );
    }
    // DNS names ignore case (RFC 4343), as for a domain's selectors (readDomains).
    const seen = new Map<string, string>();
    for (const sel of [...(selector !== undefined ? [selector] : []), ...previous]) {
        const other = seen.get(sel.toLowerCase());
        if (other === undefined) seen.set(sel.toLowerCase(), sel);
        else if (other === sel) {
            problems.push(
                sel === selector
                    ? `${p}.previousSelectors: must not contain the host's selector ${show(selector)}`
                    : `${p}.previousSelectors: lists the selector ${show(sel)} twice`,
            );
        } else {
            problems.push(
                `${p}: selectors ${show(other)} and ${show(sel)} differ only in case; DNS ignores case, so both keys would be published at one name (${sel.toLowerCase()}._domainkey); pick a selector with another name`,
            );
        }
    }
}

/**
 * The hosts' own selectors against the domains' and each other's: one DNS name is one record, so a
 * host selector is no domain's selector (active, previous, revoked) and no other host's; and none with
 * a rotation calendar (it rotates the key every relay shares; a host's own key rotates by hand).
 */
function hostSelectorClashes(hosts: HostSettings[], domains: DomainsRead, problems: Problems): void {
    const onCalendar = domains.domains.filter((d) => d.rotation).map((d) => d.name);
    const owners = new Map<string, HostSettings>();
    for (const h of hosts) {
        if (h.selector === undefined) continue;
        if (onCalendar.length > 0) {
            problems.push(
                `${h.path}.selector: set together with a rotation calendar (mailauth:rotation or mailauth:domains[i].rotation; ${onCalendar.join(", ")} rotate${onCalendar.length === 1 ? "s" : ""} on one): the calendar rotates the key every relay shares, and a host's own selector is rotated by hand; remove one of them`,
            );
            continue;
        }
        for (const [key, sel] of [["selector", h.selector], ...h.previousSelectors!.map((s) => ["previousSelectors", s])] as const) {
            const low = sel.toLowerCase();
            const domain = domains.domains.find((d) => [d.selector, ...d.previousSelectors, ...d.revokedSelectors].some((x) => x.toLowerCase() === low));
            const other = owners.get(low);
            if (domain) {
                problems.push(
                    `${h.path}.${key}: ${show(sel)} is also a selector of ${domain.name} (mailauth:domains[].selector or previousSelectors); give the host a selector of its own`,
                );
            } else if (other && other !== h) {
                problems.push(
                    `${h.path}.${key}: ${show(sel)} is also a selector of ${other.path} (DNS ignores case: one name, one record); give each host its own`,
                );
            } else {
                owners.set(low, h);
            }
            // The longest name: <selector>._domainkey.<domain> (RFC 1035 2.3.4: 253 characters as text).
            const long = domains.domains.map((d) => dkimRecordName(sel, d.name)).find((n) => n.length > 253);
            if (long) problems.push(`${h.path}.${key}: ${show(sel)} would give the record name ${long}, ${long.length} characters, over DNS's 253`);
        }
    }
}

/** The configured domain whose Cloudflare zone holds `hostname`, if any (longest match). */
export function zoneFor(hostname: string, domains: DomainSettings[]): DomainSettings | undefined {
    return domains.filter((d) => hostname === d.name || hostname.endsWith(`.${d.name}`)).sort((a, b) => b.name.length - a.name.length)[0];
}

/**
 * The DMARC report authorizations the stack publishes: for each domain, each rua/ruf address at a
 * host in a managed zone that no configured domain holds together with the domain (components/records/dmarc.ts reportAuthorizations).
 * None while DMARC is off: no record names the addresses then.
 */
export function reportAuthorizationsOf(settings: Pick<Settings, "domains" | "dmarc">): ReportAuthorization[] {
    if (!settings.dmarc.enabled) return [];
    return reportAuthorizations(
        settings.domains.map((d) => d.name),
        [...settings.dmarc.rua, ...settings.dmarc.ruf],
        (host) => zoneFor(host, settings.domains)?.name,
    );
}

function readSpf(raw: unknown, domains: DomainSettings[], problems: Problems, hosts: HostSettings[], hostList: boolean): SpfSettings {
    const path = "mailauth:spf";
    const { mechanisms, all } = section(SPF, raw, path, problems);
    const own = spfMechanismsProblems(mechanisms, all, domains, path);
    problems.push(...own);
    const hostTerms = hostList ? relaySpfTerms(hosts) : [];
    if (hostTerms.length > 0 && own.length === 0) {
        // The mechanisms alone pass; with the relay hosts' terms the record may not.
        const lookups = spfLookupCount(spfTerms(mechanisms, hostTerms));
        const byName = hostTerms.filter((t) => t.startsWith("a:"));
        if (lookups > SPF_MAX_LOOKUPS) {
            problems.push(
                `mailauth:hosts: with the relay hosts that are no MX (${byName.join(" ")}, one DNS lookup each, having no ipv4/ipv6), the SPF record would need ${lookups} DNS lookups (mx, a, include, exists each count); SPF allows at most ${SPF_MAX_LOOKUPS}, receivers return permerror above that. Give those hosts their addresses (ipv4/ipv6: ip4:/ip6: terms cost none), or drop lookup terms from mailauth:spf.mechanisms`,
            );
        }
        const record = spfRecordValue(mechanisms, all, hostTerms);
        if (record.length > MAX_RECORD) {
            problems.push(
                `mailauth:hosts: with the relay hosts' terms (${hostTerms.join(" ")}) the SPF record is ${record.length} characters; keep SPF under ${MAX_RECORD} so it fits one DNS answer over UDP`,
            );
        }
    }
    return { mechanisms, all, hostTerms, record: spfRecordValue(mechanisms, all, hostTerms) };
}

/**
 * Every problem of `mailauth:spf.mechanisms` as a whole: each term, their combined address space, the
 * lookups, the record's length. What the settings refuse, and what the zone check's suggestions are
 * held to, since the user pastes them into the settings (components/zone.ts findConflicts).
 */
export function spfMechanismsProblems(mechanisms: string[], all: SpfAll, domains: readonly DomainSettings[], path = "mailauth:spf"): string[] {
    const problems: string[] = [];
    for (const m of mechanisms) {
        const problem = spfMechanismProblem(m, path, domains);
        if (problem) problems.push(problem);
    }
    const ipTerms = mechanisms.filter(isIpMechanism);
    const blocks = ipTerms.map((m) => parseBlock(m.slice(4))).filter((b): b is Block => b !== undefined);
    const wide = overLimit(blocks, SPF_MAX);
    if (wide) {
        problems.push(
            `${path}.mechanisms: ${ipTerms.join(" ")} together authorise ${wide}. Receivers would pass mail from anyone there as your domain's, as +all would: any host in that space can forge your domains past SPF and DMARC. List your server's own addresses and your providers' blocks, or include: the records they publish`,
        );
    }
    const lookups = spfLookupCount(spfTerms(mechanisms));
    if (lookups > SPF_MAX_LOOKUPS) {
        problems.push(
            `${path}.mechanisms: the record would need ${lookups} DNS lookups (mx, a, include, exists each count); SPF allows at most ${SPF_MAX_LOOKUPS}, receivers return permerror above that`,
        );
    }
    const record = spfRecordValue(mechanisms, all);
    if (record.length > MAX_RECORD) {
        problems.push(`${path}.mechanisms: the record is ${record.length} characters; keep SPF under 450 so it fits one DNS answer over UDP`);
    }
    return problems;
}

function readDmarc(raw: unknown, problems: Problems): DmarcSettings {
    const path = "mailauth:dmarc";
    // A tag RFC 9989 removed gets its own message (naming its replacement), not "unknown setting".
    if (isObject(raw)) {
        const removed = Object.keys(raw).filter((k) => Object.prototype.hasOwnProperty.call(DMARC_REMOVED_TAGS, k));
        for (const k of removed) problems.push(`${path}.${k}: ${DMARC_REMOVED_TAGS[k]}`);
        if (removed.length > 0) raw = Object.fromEntries(Object.entries(raw).filter(([k]) => !removed.includes(k)));
    }
    const read = section(DMARC, raw, path, problems);
    const reportUris = (key: "rua" | "ruf"): string[] => {
        const uris: string[] = [];
        for (const r of read[key]) {
            const parsed = parseDmarcUri(r);
            if (parsed) {
                uris.push(parsed.uri);
            } else {
                problems.push(
                    `${path}.${key}: ${show(r)} is not a report address: user@domain or mailto:user@domain, optionally with a size limit such as !10m (letters, digits and . _ + - before the @)`,
                );
            }
        }
        return uris;
    };
    const rua = reportUris("rua");
    const ruf = reportUris("ruf");
    let fo = read.fo;
    if (fo !== undefined) {
        const why = dmarcFoProblem(fo);
        if (why) {
            problems.push(
                `${path}.fo: ${show(fo)}: ${why}; allowed: ${DMARC_FO_OPTIONS.join(", ")}, colon-separated, each at most once and not both 0 and 1 (e.g. 1 or 1:d:s)`,
            );
            fo = undefined;
        } else if (read.ruf.length === 0) {
            // RFC 9989 4.7: the fo tag's content "MUST be ignored if a ruf tag is not also specified".
            problems.push(
                `${path}.fo: ${show(fo)} is set without ${path}.ruf: receivers ignore fo unless ruf says where failure reports go (RFC 9989 4.7); add the addresses to ${path}.ruf or remove ${path}.fo`,
            );
        }
    }
    const dmarc = { ...read, rua, ruf, fo };
    const record = dmarcRecordValue(dmarc);
    if (record.length > MAX_RECORD) {
        const key = ruf.length > 0 ? "rua/ruf" : "rua";
        problems.push(
            `${path}.${key}: the ${rua.length + ruf.length} addresses make the record ${record.length} characters; keep DMARC under ${MAX_RECORD} so it fits one DNS answer over UDP (list fewer addresses)`,
        );
    }
    return { ...dmarc, record };
}

function readOpenDkim(raw: unknown, domains: DomainSettings[], problems: Problems): OpenDkimSettings {
    const path = "mailauth:opendkim";
    const read = section(OPENDKIM, raw, path, problems);
    const { trustedHosts, nameservers, milterTransport } = read;
    const reportAddress = read.reportAddress ?? (domains[0] ? `postmaster@${domains[0].name}` : "");
    if (reportAddress && !isSafeAddress(reportAddress)) {
        problems.push(
            `${path}.reportAddress: ${show(reportAddress)} is not a plain mail address user@domain (letters, digits and . _ + - before the @; OpenDKIM passes it to a shell when it sends reports)`,
        );
    }
    for (const h of trustedHosts) {
        if (!isTrustedHost(h)) {
            problems.push(`${path}.trustedHosts: ${show(h)} is not an address, CIDR block, host name or *.domain wildcard`);
        } else if (
            trustedWildcardProblem(
                h,
                domains.map((d) => d.name),
            )
        ) {
            problems.push(
                `${path}.trustedHosts: ${trustedWildcardProblem(
                    h,
                    domains.map((d) => d.name),
                )}`,
            );
        }
    }
    const wide = overLimit(
        trustedHosts.map(parseBlock).filter((b): b is Block => b !== undefined),
        TRUSTED_MAX,
    );
    if (wide) {
        problems.push(
            `${path}.trustedHosts: ${trustedHosts.filter((h) => parseBlock(h)).join(" ")} together cover ${wide}. OpenDKIM signs with your domains' real keys any mail from a trusted host, so anyone there who reaches this server could send mail as your domains that passes DKIM and DMARC. List the server's own addresses and your relays' blocks (private ranges such as 10.0.0.0/8, 192.168.0.0/16 and fc00::/7 may be any size)`,
        );
    }
    for (const ns of nameservers) {
        const why = ipFamily(ns) === 0 ? undefined : addressProblem(ns, "resolver");
        if (ipFamily(ns) === 0) problems.push(`${path}.nameservers: ${show(ns)} is not an IP address`);
        else if (why)
            problems.push(
                `${path}.nameservers: ${show(ns)} is ${why}, where no resolver answers; give a resolver's address (one on the server itself, 127.0.0.1, is fine)`,
            );
    }
    return { reportAddress, trustedHosts, nameservers, milterTransport };
}

/**
 * `mailauth:noMail`: each entry `{name, nullMx?}` or the name alone. A name must be one the stack
 * may say sends no mail: not a mail domain, not the MX host (its HELO name: it sends bounces), not
 * the domain of a DMARC report address (receivers send reports there; with a null MX they would
 * bounce), not a parent of a mail domain while DMARC is off (its p=reject would then be the policy
 * receivers find for that domain, RFC 9989 4.10). Its zone: a configured domain's, or found by name
 * by the zone check (components/zone.ts resolveZone), which says so when none holds it.
 */
function readNoMail(
    raw: unknown,
    domains: DomainSettings[],
    hosts: HostSettings[],
    hostList: boolean,
    dmarc: DmarcSettings,
    opendkim: OpenDkimSettings,
    problems: Problems,
): NoMailSettings[] {
    const path = "mailauth:noMail";
    if (raw === undefined || raw === null || raw === "") return [];
    if (!Array.isArray(raw)) {
        problems.push(
            `${path}: must be a list of {name, nullMx?} (or of names), got ${show(raw)}; add one with pulumi config set --path '${path}[0].name' parked.example.com`,
        );
        return [];
    }
    const found: NoMailSettings[] = [];
    const reportHosts = new Map<string, string>();
    for (const uri of dmarc.rua) reportHosts.set(reportHost(uri) ?? "", "mailauth:dmarc.rua");
    for (const uri of dmarc.ruf) if (!reportHosts.has(reportHost(uri) ?? "")) reportHosts.set(reportHost(uri) ?? "", "mailauth:dmarc.ruf");
    const opendkimHost = normalizeName(opendkim.reportAddress.slice(opendkim.reportAddress.lastIndexOf("@") + 1));
    raw.forEach((item, i) => {
        const p = `${path}[${i}]`;
        const before = problems.length;
        // The name alone is an entry too (pulumi config set --path 'mailauth:noMail[0]' NAME), named so in messages.
        const alone = typeof item === "string" || typeof item === "number";
        if (item === "") problems.push(`${p}: empty entry`);
        const { name: rawName, nullMx } = alone
            ? { name: item === "" ? undefined : typedString(item, p, problems), nullMx: false }
            : section(NO_MAIL, item, p, problems, true);
        const at = alone ? p : `${p}.name`;
        const name = rawName === undefined ? undefined : normalizeName(rawName);
        if (name === undefined) {
            // reported by section()
        } else if (hostnameProblem(rawName!) !== undefined) {
            problems.push(`${at}: ${show(rawName)} is not a domain name (letters, digits and hyphens in dot-separated labels): ${hostnameProblem(rawName!)}`);
        } else if (name.split(".").length > MAX_DOMAIN_LABELS) {
            problems.push(`${at}: ${show(rawName)} has ${name.split(".").length} labels; at most ${MAX_DOMAIN_LABELS} are allowed (each costs a zone lookup)`);
        } else if (noMailDmarcName(name).length > 253) {
            problems.push(
                `${at}: ${show(rawName)} is ${name.length} characters; with _dmarc. in front the record name would be ${name.length + 7}, over DNS's 253`,
            );
        } else {
            const domain = domains.findIndex((d) => d.name === name);
            if (domain >= 0) {
                problems.push(
                    `${at}: ${name} is a mail domain (mailauth:domains[${domain}]): the stack publishes its SPF, DKIM and DMARC records for the mail it sends; a name cannot both send mail and say it sends none. Remove it from mailauth:noMail (pulumi config rm --path '${p}') or from mailauth:domains`,
                );
            } else if (!hostList && hosts.some((h) => h.hostname === name)) {
                problems.push(
                    `${at}: ${name} is the MX host (mailauth:mx.hostname): it receives your domains' mail and sends bounces under that name (the HELO check, RFC 7208 2.3); remove it from mailauth:noMail (pulumi config rm --path '${p}')`,
                );
            } else if (hosts.some((h) => h.hostname === name)) {
                problems.push(
                    `${at}: ${name} is a mail host (${hosts.find((h) => h.hostname === name)!.path}.hostname): it sends mail or bounces under that name (the HELO check, RFC 7208 2.3); remove it from mailauth:noMail (pulumi config rm --path '${p}')`,
                );
            } else if (dmarc.enabled && reportHosts.has(name)) {
                problems.push(
                    `${at}: ${name} receives your DMARC reports (${reportHosts.get(name)}): a name that accepts no mail would make receivers' reports bounce; remove it from mailauth:noMail (pulumi config rm --path '${p}') or send the reports elsewhere`,
                );
            } else if (name === opendkimHost) {
                problems.push(
                    `${at}: ${name} is the domain of mailauth:opendkim.reportAddress, from which OpenDKIM sends its reports: mail from it would be rejected; remove it from mailauth:noMail (pulumi config rm --path '${p}') or set another reportAddress`,
                );
            } else if (!dmarc.enabled && domains.some((d) => d.name.endsWith(`.${name}`))) {
                const child = domains.find((d) => d.name.endsWith(`.${name}`))!.name;
                problems.push(
                    `${at}: ${name} holds the mail domain ${child}, which has no DMARC record of its own while mailauth:dmarc.enabled is false: receivers would take ${name}'s p=reject as ${child}'s policy (RFC 9989 4.10) and reject its mail; turn DMARC on or remove ${name} from mailauth:noMail (pulumi config rm --path '${p}')`,
                );
            }
        }
        if (problems.length === before && name) found.push({ name, nullMx });
    });
    const names = found.map((n) => n.name);
    for (const dup of new Set(names.filter((n, i) => names.indexOf(n) !== i))) {
        problems.push(`${path}: ${show(dup)} is listed twice (names are compared without case and trailing dot)`);
    }
    return found;
}

/**
 * `mailauth:policydSpf`. Each skip_addresses entry must be what policyd-spf can read: it splits the
 * list on commas, blanks kept (spf_engine/__init__.py:212, python3-spf-engine 3.0.4-2), and reads
 * each with ipaddress.IPv4Network, else IPv6Network (:71-79), strict: a host bit set, a blank or
 * anything else it cannot read ends the whole list there (:240-243, "Aborting whitelist
 * processing"), so the entries after it are checked no more. Hence a network in plain CIDR, no host
 * bits, written without blanks; the package's own entries (spf_engine/policydspfsupp.py:38) first.
 */
function readPolicydSpf(raw: unknown, problems: Problems): PolicydSpfSettings {
    const path = "mailauth:policydSpf";
    const read = section(POLICYD_SPF, raw, path, problems);
    const blocks: Block[] = POLICYD_SPF_DEFAULT_SKIP.map((d) => parseBlock(d)!);
    const list: string[] = [...POLICYD_SPF_DEFAULT_SKIP];
    for (const entry of read.skipAddresses) {
        const block = parseBlock(entry);
        const [addr] = entry.split("/");
        if (block === undefined) {
            problems.push(
                `${path}.skipAddresses: ${show(entry)} is not an IPv4 or IPv6 network; give an address or a CIDR block such as 192.0.2.17, 198.51.100.0/24 or 2001:db8:1::/48`,
            );
        } else if (parseBlock(addr)!.first !== block.first) {
            const [, bits] = entry.split("/");
            const first = block.family === 4 ? v4Text(block.first) : formatIpv6(block.first);
            problems.push(
                `${path}.skipAddresses: ${show(entry)} has host bits set, which policyd-spf refuses (and with it every entry after it); write the network, ${first}/${bits}`,
            );
        } else if (block.first === 0n && block.last === (block.family === 4 ? (1n << 32n) - 1n : (1n << 128n) - 1n)) {
            problems.push(
                `${path}.skipAddresses: ${show(entry)} is every address: no mail would be SPF-checked; list your backup MX and relays, or set heloReject and mailFromReject to No_Check to stop checking`,
            );
        } else if (!blocks.some((b) => b.family === block.family && b.first === block.first && b.last === block.last)) {
            blocks.push(block);
            list.push(entry);
        }
    }
    const skipList = list.length > POLICYD_SPF_DEFAULT_SKIP.length ? list.join(",") : undefined;
    return { ...read, skipList };
}

function v4Text(n: bigint): string {
    return [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 255n)).join(".");
}

function readSsh(raw: unknown, problems: Problems, hostList: boolean): SshSettings {
    const path = "mailauth:ssh";
    if (hostList) {
        if (!unsetSection(raw))
            problems.push(
                `${path}: set together with mailauth:hosts, which replaces it (each host's sshHost, sshPort, sshUser, sshHostKey); remove it: pulumi config rm ${path}`,
            );
        return { host: "", port: 22, user: "root" };
    }
    if (unsetSection(raw)) {
        problems.push(`${path}: required, not set (an object with ${SSH.rows.map((r) => r.key).join(", ")}; or several hosts in mailauth:hosts)`);
    }
    const { host = "", port, user, hostKey } = section(SSH, raw, path, problems);
    if (isObject(raw) && !unsetSection(raw) && (raw.host === undefined || raw.host === null || raw.host === ""))
        problems.push(`${path}.host: required, not set`);
    if (host && net.isIP(host) === 0 && sshHostProblem(host) !== undefined) {
        problems.push(`${path}.host: ${show(host)} is not an IP address or host name: ${sshHostProblem(host)}`);
    }
    if (!USER.test(user)) problems.push(`${path}.user: ${show(user)} is not a Unix user name`);
    const check = hostKey === undefined ? undefined : checkHostKey(hostKey);
    if (check && !check.ok) problems.push(`${path}.hostKey: ${check.problem}`);
    return { host, port, user, hostKey };
}

/** `mailauth:sshPrivateKey`: one key for every host. */
function readSshPrivateKey(privateKey: RawSettings["sshPrivateKey"], problems: Problems): void {
    if (privateKey === "missing") {
        problems.push(`mailauth:sshPrivateKey: required, not set; run: pulumi config set --secret mailauth:sshPrivateKey < ~/.ssh/id_ed25519`);
    } else if (privateKey === "encrypted") {
        problems.push(
            `mailauth:sshPrivateKey: the key is protected by a passphrase, which pulumi-command cannot use here; give the stack a key of its own without one (ssh-keygen -t ed25519 -N '' -f ~/.ssh/mailauth) and add its .pub to the server's authorized_keys`,
        );
    } else if (privateKey === "invalid") {
        problems.push(
            `mailauth:sshPrivateKey: is not a private key (expected the contents of a file such as ~/.ssh/id_ed25519, "-----BEGIN ... PRIVATE KEY-----")`,
        );
    }
}

/**
 * `mailauth:adoptRecords` and the token it needs. An empty value is unset (false), as it was when
 * zoneGate read it apart; the CLI refuses other non-booleans itself (Pulumi.yaml `type: boolean`).
 */
function readAdoptRecords(raw: RawSettings, problems: Problems): boolean {
    const enabled = value(ADOPT_RECORDS, raw.adoptRecords === "" ? undefined : raw.adoptRecords, problems);
    if (enabled && !raw.cloudflareToken) {
        problems.push(
            `mailauth:adoptRecords: needs the Cloudflare API token as cloudflare:apiToken (pulumi config set --secret cloudflare:apiToken) or CLOUDFLARE_API_TOKEN`,
        );
    }
    return enabled;
}

/** An IP address with an optional port, as dns.Resolver.setServers takes it: `192.0.2.53`, `192.0.2.53:5353`, `2001:db8::53`, `[2001:db8::53]:5353`. */
export function resolverAddressProblem(text: string): string | undefined {
    const m = text.match(/^\[([^\]]+)\]:(\d+)$/) ?? text.match(/^(\d+\.\d+\.\d+\.\d+):(\d+)$/);
    const [address, port] = m ? [m[1], Number(m[2])] : [text, undefined];
    if (ipFamily(address) === 0 || (m && !m[0].startsWith("[") && ipFamily(address) !== 4))
        return "is not an IP address with an optional port (192.0.2.53, 192.0.2.53:5353, 2001:db8::53 or [2001:db8::53]:5353)";
    if (port !== undefined && (port < 1 || port > 65535)) return `has port ${port}, not 1 to 65535`;
    const why = addressProblem(address, "resolver");
    return why ? `is ${why}, where no resolver answers` : undefined;
}

function readCheck(raw: unknown, problems: Problems): CheckSettings {
    const path = "mailauth:check";
    const read = section(CHECK, raw, path, problems);
    for (const r of read.resolvers) {
        const why = resolverAddressProblem(r);
        if (why) problems.push(`${path}.resolvers: ${show(r)} ${why}`);
    }
    return read;
}

/**
 * `mailauth:dkimKeys`: each entry must name a configured domain and one of its selectors, and hold a
 * key that passed its check. Keys under 2048 bits pass (RFC 8301 3.2 allows 1024), with a warning.
 */
function readUserKeys(raw: DkimKeysRead | undefined, domains: DomainsRead, problems: Problems, warnings: string[]): Record<string, UserDkimKey> {
    const out: Record<string, UserDkimKey> = {};
    if (!raw) return out;
    problems.push(...raw.problems);
    for (const [key, check] of Object.entries(raw.entries)) {
        const path = dkimKeyPath(key);
        const parts = key.split("/");
        const domain = parts.length === 2 ? domains.domains.find((d) => d.name === normalizeName(parts[0])) : undefined;
        const selector = domain && [domain.selector, ...domain.previousSelectors].find((s) => s.toLowerCase() === parts[1].toLowerCase());
        if (!domain || !selector) {
            // A domain refused for its own problem is not configured either: say nothing more about it.
            if (domains.complete || parts.length !== 2) {
                const all = domains.domains.flatMap((d) => [d.selector, ...d.previousSelectors].map((sel) => userKeyId(d.name, sel)));
                const known = all.length > 10 ? [...all.slice(0, 10), `… (${all.length} in all)`] : all;
                problems.push(
                    `${path}: ${parts.length === 2 ? "names no configured domain and selector" : `must be named "<domain>/<selector>", got ${show(key)}`}; one of: ${known.join(", ")} (the selector in mailauth:domains[].selector or previousSelectors)`,
                );
            }
            continue;
        }
        if (!check.ok) {
            problems.push(check.problem);
            continue;
        }
        const id = userKeyId(domain.name, selector);
        if (out[id]) {
            problems.push(`${path}: ${id} has two keys in ${DKIM_KEYS_SETTING} (names are compared without case); keep one`);
            continue;
        }
        out[id] = { privateKeyPem: check.privateKeyPem, recordValue: check.recordValue, bits: check.bits };
        if (check.bits < USER_KEY_RECOMMENDED_BITS) {
            warnings.push(
                `${path}: a ${check.bits}-bit RSA key: allowed (RFC 8301 3.2), but signers should use ${USER_KEY_RECOMMENDED_BITS} bits or more and some receivers treat weaker signatures as none; rotate to a new selector soon (README: "Rotating the DKIM key")`,
            );
        }
    }
    return out;
}

/** Validates raw config; throws one SettingsError listing every problem. */
export function validateSettings(raw: RawSettings, warn: (message: string) => void = (m) => pulumi.log.warn(m)): Settings {
    const problems: Problems = [];
    const warnings: string[] = [];
    const nowText = value(NOW, raw.now === "" ? undefined : raw.now, problems);
    const now = nowText === undefined || nowText === "" ? Date.now() : parseNow(nowText);
    if (now === undefined) {
        problems.push(`mailauth:now: must be a UTC date YYYY-MM-DD or date-time YYYY-MM-DDTHH:MM[:SS]Z (no other time zone), got ${show(nowText)}`);
    }
    const domains = readDomains(raw.domains, problems, raw.rotation, now ?? Date.now());
    const listed = readHosts(raw.hosts, problems, domains);
    const hostList = listed !== undefined;
    const mx = readMx(raw.mx, domains, problems, hostList);
    const settings: Settings = {
        domains: domains.domains,
        // Set below, once ssh is read (the problems keep the order they had before mailauth:hosts).
        hosts: [],
        hostList,
        mx,
        spf: readSpf(raw.spf, domains.domains, problems, listed ?? [], hostList),
        dmarc: readDmarc(raw.dmarc, problems),
        noMail: [],
        opendkim: readOpenDkim(raw.opendkim, domains.domains, problems),
        policydSpf: readPolicydSpf(raw.policydSpf, problems),
        ssh: (() => {
            const ssh = readSsh(raw.ssh, problems, hostList);
            readSshPrivateKey(raw.sshPrivateKey, problems);
            return ssh;
        })(),
        ttl: value(TTL, raw.ttl, problems),
        testKey: section(TEST_KEY, raw.testKey, "mailauth:testKey", problems),
        check: readCheck(raw.check, problems),
        adoptRecords: readAdoptRecords(raw, problems),
        dkimKeys: readUserKeys(raw.dkimKeys, domains, problems, warnings),
        now: now ?? Date.now(),
    };
    // Without mailauth:hosts, ssh and mx are one host with both roles, named as before (id mailhost).
    settings.hosts = listed ?? [
        {
            id: "mailhost",
            hostname: mx.hostname,
            ...(mx.ipv4 !== undefined ? { ipv4: mx.ipv4 } : {}),
            ...(mx.ipv6 !== undefined ? { ipv6: mx.ipv6 } : {}),
            mxPriority: mx.priority,
            relay: true,
            ssh: settings.ssh,
            path: "mailauth:ssh",
        },
    ];
    const hosts = settings.hosts;
    // Views for code that still reads one host: the first MX host's name and addresses, the first host's connection.
    const firstMx = hosts.find((h) => h.mxPriority !== undefined) ?? hosts[0];
    if (hostList && firstMx) {
        settings.mx = { ...mx, hostname: firstMx.hostname, priority: firstMx.mxPriority ?? mx.priority, ipv4: firstMx.ipv4, ipv6: firstMx.ipv6 };
        settings.ssh = hosts[0].ssh;
    }
    settings.noMail = readNoMail(raw.noMail, settings.domains, hosts, hostList, settings.dmarc, settings.opendkim, problems);
    // An authorization record's name over DNS's 253 characters cannot be looked up (aggregate reporting,
    // "Verifying External Destinations" step 4: no positive determination): the reports would be lost.
    if (domains.complete) {
        const ruaHosts = settings.dmarc.rua.map(reportHost);
        for (const a of reportAuthorizationsOf(settings)) {
            if (a.name.length > 253) {
                problems.push(
                    `mailauth:dmarc.${ruaHosts.includes(a.host) ? "rua" : "ruf"}: reports for ${a.domain} go to an address at ${a.host}, whose authorization record ${a.name} would be ${a.name.length} characters, over DNS's 253: receivers could not check it and would send no reports there; use a report address at a shorter domain`,
                );
            }
        }
    }
    // Its names are checked once the records are planned (zoneGate.ts), after this: its shape joins other problems here.
    if (problems.length > 0) problems.push(...readImportRecordsShape(raw.importRecords).problems);
    if (problems.length > 0) throw new SettingsError(problems);
    for (const w of warnings) warn(w);
    return settings;
}
