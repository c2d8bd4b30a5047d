/**
 * The zone as it is: before any record is made, each domain's Cloudflare zone is found (by id, or
 * by the domain's name) and read, and every record at a name the stack publishes that the stack
 * does not manage is reported, with the way out, before anything changes.
 *
 * Reads go through the provider's own data sources (pulumi-cloudflare 6.x, bridged from
 * terraform-provider-cloudflare 5.x): `cloudflare:index/getZone:getZone` (GET /zones/{id}),
 * `cloudflare:index/getZones:getZones` (GET /zones?name=...) and
 * `cloudflare:index/getDnsRecords:getDnsRecords` (GET /zones/{id}/dns_records?name.endswith=...);
 * tokens and response shapes: node_modules/@pulumi/cloudflare/getZone.js:86, getZones.js:58,
 * getDnsRecords.js:83, types/output.d.ts (GetDnsRecordsResult ~10613, GetZonesResult ~37834).
 */
import * as pulumi from "@pulumi/pulumi";
import * as cloudflare from "@pulumi/cloudflare";
import { dkimPublicKey, dkimSelectorOf } from "./records/dkim";
import { isDmarcValue } from "./records/dmarc";
import { normalizeName } from "./records/name";
import { isSpfValue, lostSpfTerms, spfMechanismProblem } from "./records/spf";
import { unquoteTxt } from "./records/txt";
import { DomainSettings, SpfAll, spfMechanismsProblems } from "./settings";
import { asMarker, isOwn, OwnMarker, recordOwner } from "./stackMarker";
import { dkimKeyPath, FINGERPRINT_COMMAND, keyFingerprint, samePublicKey } from "./validate/dkimKeys";
import { rotationSteps } from "./dkimKey";

/**
 * Zone data as shown in a message: what a record holds is anybody's (a co-tenant, a provider's
 * template), so every control, format and separator character (Unicode Cc, Cf, Zl, Zp: escape codes,
 * BEL, bidi marks, zero-width characters, the soft hyphen) is shown as a \u escape, and a backslash
 * doubled: a record cannot recolour the terminal, reorder the text or make a refused name look valid.
 */
export function shown(text: string): string {
    return String(text)
        .replace(/\\/g, "\\\\")
        .replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, (c) => `\\u${c.codePointAt(0)!.toString(16).padStart(4, "0")}`);
}

/** A value as one word of a POSIX shell command: single-quoted, each ' as '\'' (POSIX.1 XCU 2.2.2). */
export function shellWord(value: string, bareIfPlain = false): string {
    return bareIfPlain && /^[A-Za-z0-9_./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** A DNS record as the provider's getDnsRecords returns it (types/output.d.ts GetDnsRecordsResult). */
export interface ZoneRecord {
    id: string;
    name: string;
    type: string;
    content: string;
    priority?: number;
    ttl?: number;
    proxied?: boolean;
    comment?: string | null;
    tags?: string[];
    /** When Cloudflare made the record, ISO 8601 UTC (API `created_on`; the provider's createdOn, types/output.d.ts ~10629). */
    createdOn?: string;
}

export interface ZoneRef {
    id: string;
    name: string;
}

/**
 * What kind of record the stack publishes at a name; decides which existing records collide. `helo`:
 * the MX host's own SPF record; `report`: a DMARC report authorization (`<domain>._report._dmarc.<host>`);
 * `nomail-spf`, `nomail-dmarc`, `nomail-mx`: the records of a name that sends no mail (mailauth:noMail).
 */
export type TargetKind = "spf" | "mx" | "dmarc" | "dkim" | "a" | "aaaa" | "helo" | "report" | "nomail-spf" | "nomail-dmarc" | "nomail-mx";

const KIND_LABELS: Partial<Record<TargetKind, string>> = {
    helo: "HELO SPF",
    report: "DMARC report authorization",
    "nomail-spf": "no-mail SPF",
    "nomail-dmarc": "no-mail DMARC",
    "nomail-mx": "null MX",
};

/** How a message names a kind of record: `SPF`, `MX`, `HELO SPF`, `DMARC report authorization`, `no-mail SPF`, `null MX`. */
export function kindLabel(kind: TargetKind): string {
    return KIND_LABELS[kind] ?? kind.toUpperCase();
}

/** Whether a kind is a record of a name that sends no mail (mailauth:noMail). */
export function isNoMailKind(kind: TargetKind): boolean {
    return kind === "nomail-spf" || kind === "nomail-dmarc" || kind === "nomail-mx";
}

/** One record the stack will publish, as the zone check sees it. */
export interface Target {
    kind: TargetKind;
    /** Fully qualified name. */
    name: string;
    /** The record type the stack publishes. */
    type: "TXT" | "MX" | "A" | "AAAA";
    /** Pulumi resource name of the stack's record (MailDns child), e.g. `example.com-spf`. */
    resource: string;
    /** The value the stack publishes, when known before keys exist (not for DKIM). */
    value?: string;
    priority?: number;
}

/** The stack's records of one domain, and where they go. */
export interface DomainPlan {
    domain: string;
    /** Configured zone id, if any. */
    zoneId?: string;
    /** Name of the MailDns component (the records' parent). */
    component: string;
    targets: Target[];
    /** Selectors the stack publishes (others found in the zone are left alone and mentioned). */
    selectors: string[];
    /** SPF mechanisms configured (`mailauth:spf.mechanisms`), to say which existing ones to carry. */
    spfMechanisms: string[];
    /** `mailauth:spf.all` and every managed domain: a suggested term must pass the settings check when pasted. */
    spfAll?: SpfAll;
    domains?: readonly DomainSettings[];
    /** Position in `mailauth:domains`, for the commands in messages. */
    index?: number;
}

/** A record at a stack name that the stack does not manage. */
export interface Conflict {
    domain: string;
    zone: ZoneRef;
    target: Target;
    record: ZoneRecord;
    /** Adoption may replace it (false: DKIM keys, records of another stack, lost SPF terms). */
    adoptable: boolean;
    message: string;
}

export interface ZoneCheckResult {
    domain: string;
    zone: ZoneRef;
    /** Records the adopt step will replace at this run (only with adoptRecords). */
    adopted: Conflict[];
    /**
     * The selectors whose DKIM record of this stack (its comment) carries a key in the zone as this
     * run starts, i.e. published by an earlier run: the signing gate (components/signingGate.ts).
     */
    dkimInZone: string[];
    /** Of those, when Cloudflare made each record (createdOn), by lower-case selector; undefined when the listing does not say. */
    dkimCreatedOn: Record<string, string | undefined>;
}

/** Stops the run: shown by the CLI as its message only (sdk/nodejs cmd/run/run.js ~377). */
export class ZoneError extends pulumi.RunError {
    constructor(public readonly problems: string[]) {
        super(
            `mailauth: Cloudflare: ${problems.length} problem(s) with the zones as they are; nothing in DNS or on the host was changed:\n` +
                problems.map((p) => `  - ${p.replace(/\n/g, "\n    ")}`).join("\n"),
        );
        // Every record and host step awaits the check; the SDK prefixes the message of a rejected input's
        // error in place, once per property it passes through (@pulumi/pulumi runtime/rpc.js
        // serializeFilteredProperties, ~142), and reports the error once by identity. Keep the text as written.
        const text = this.message;
        Object.defineProperty(this, "message", { get: () => text, set: () => undefined, enumerable: false, configurable: true });
    }
}

/**
 * Whether an existing record stands in the way of one the stack publishes: the one predicate the zone
 * check (preview) and the adopt step (components/adoptRecords.ts) decide with. `zoneName` is the zone's
 * apex. A CNAME excludes every other record at its name (RFC 1034 3.6.2), except at the zone apex:
 * Cloudflare flattens an apex CNAME ("CNAME flattening occurs by default for all plans when your domain
 * uses a CNAME record for its zone apex", developers.cloudflare.com/dns/cname-flattening/set-up-cname-flattening,
 * read 2026-12) and answers the apex's MX and TXT beside it; there only an A or AAAA meets the CNAME
 * (Cloudflare refuses those, 81053/81054, developers.cloudflare.com/dns/manage-dns-records/troubleshooting/records-with-same-name).
 * An apex CNAME (a site on Pages, say) is neither a conflict for SPF or MX nor to be adopted.
 */
export function conflictsWith(target: Target, r: ZoneRecord, zoneName: string): boolean {
    if (normalizeName(r.name) !== target.name) return false;
    if (r.type === "CNAME") return normalizeName(r.name) !== normalizeName(zoneName) || target.type === "A" || target.type === "AAAA";
    switch (target.kind) {
        case "spf":
        case "helo":
        case "nomail-spf":
            return r.type === "TXT" && isSpfValue(unquoteTxt(r.content));
        case "dmarc":
        case "report":
        case "nomail-dmarc":
            // An authorization is read as a DMARC record is: v=DMARC1 first (aggregate reporting, "Verifying External Destinations" step 6).
            return r.type === "TXT" && isDmarcValue(unquoteTxt(r.content));
        case "dkim":
            // Every TXT at a selector's name is its key record (components/records/dkim.ts).
            return r.type === "TXT";
        default:
            // An MX, whatever its target: a null MX must be the only MX at its name (RFC 7505 3.3).
            return r.type === target.type;
    }
}

/** Whether a record holds what the stack publishes there (its type, value and MX priority). */
function holdsValue(r: ZoneRecord, t: Target): boolean {
    return (
        t.value !== undefined &&
        r.type === t.type &&
        (t.type === "TXT" ? unquoteTxt(r.content) === t.value : normalizeName(r.content) === normalizeName(t.value)) &&
        (t.type !== "MX" || r.priority === t.priority)
    );
}

function describe(r: ZoneRecord): string {
    const content = r.type === "TXT" ? `"${shown(unquoteTxt(r.content)).replace(/"/g, '\\"')}"` : shown(r.content);
    const prio = r.type === "MX" ? ` priority ${shown(String(r.priority))}` : "";
    return `${shown(r.type)} ${shown(normalizeName(r.name))} ${content}${prio} (record id ${shown(r.id)})`;
}

/**
 * The way out by import: the stack's record resource takes the record over through the `import`
 * resource option (mailauth:importRecords, components/mailDns.ts). Since Pulumi CLI 3.174 the engine
 * imports a resource and then updates it to the program's inputs in one deployment (pulumi/pulumi
 * CHANGELOG.md 3.174.0 "Overhaul of how the import option works"; pkg/resource/deploy/step_generator.go
 * @v3.259.0 ~1113-1201: an ImportStep, then continueStepsFromImport ~1244 diffs and updates), so
 * the record gets the stack's value and comment in that same `pulumi up`. (`pulumi import` instead
 * keeps the record's own comment, and the next preview refuses it again.) The path form
 * `["name.with.dots"]` is the CLI's (sdk/go/common/resource/properties_path.go @v3.259.0 ~32-65).
 */
export function importCommand(t: Target, zone: ZoneRef, r: ZoneRecord): string {
    return `pulumi config set --path 'mailauth:importRecords["${t.resource}"]' ${shellWord(`${zone.id}/${r.id}`, true)}`;
}

/** What ends an import once the record is the stack's (see checkZones). */
export function importDoneCommand(t: Target): string {
    return `pulumi config rm --path 'mailauth:importRecords["${t.resource}"]'`;
}

/** The conflicts of one domain, each with what exists, why it matters and the way out. */
export function findConflicts(
    plan: DomainPlan,
    zone: ZoneRef,
    records: ZoneRecord[],
    own: {
        comment: OwnMarker | string;
        stack: string;
        project: string;
        adopt?: boolean;
        imports?: Record<string, string>;
    },
): Conflict[] {
    const conflicts: Conflict[] = [];
    for (const t of plan.targets) {
        for (const r of records.filter((x) => conflictsWith(t, x, zone.name))) {
            if (isOwn(r.comment, own.comment)) continue; // the stack's own record (comment set by MailDns)
            // Imported by the stack's record (mailauth:importRecords); a DKIM record only with the user's key (checked in checkDomain).
            if ((t.kind !== "dkim" || t.value !== undefined) && own.imports?.[t.resource] === `${zone.id}/${r.id}`) continue;
            const owner = recordOwner(r.comment, own.comment);
            const other = owner && !owner.own ? owner.other : undefined;
            const sameName = owner !== undefined && !owner.own && owner.sameName;
            // A selector with the user's own key (mailauth:dkimKeys): its value is known before any key exists.
            if (t.kind === "dkim" && t.value !== undefined && other === undefined) {
                conflicts.push(userKeyConflict(plan, zone, t, r));
                continue;
            }
            const same = holdsValue(r, t);
            let why: string;
            const ways: string[] = [];
            let adoptable = other === undefined && t.kind !== "dkim";
            // A no-mail name that is an alias (www, say) is never adopted: that would delete the alias the name is for.
            const noMailAlias = r.type === "CNAME" && isNoMailKind(t.kind);
            if (noMailAlias) adoptable = false;
            if (noMailAlias) {
                why = `a CNAME excludes every other record at ${t.name} (RFC 1034 3.6.2): Cloudflare refuses the stack's ${t.type} record next to it. Receivers follow the alias: they read the SPF${t.kind === "nomail-mx" ? " and MX" : ""} of its target, ${shown(normalizeName(r.content))}, for ${t.name}`;
            } else if (r.type === "CNAME" && t.kind !== "dkim") {
                why = `a CNAME excludes every other record at ${t.name} (RFC 1034 3.6.2): Cloudflare refuses the stack's ${t.type} record next to it`;
            } else if (same) {
                why = `it already holds the value the stack publishes, but the stack does not manage it: Cloudflare refuses a second identical record`;
            } else if (t.kind === "spf") {
                why = `two SPF records at one name make every receiver return permerror (RFC 7208 3.2, 4.5): SPF would fail for all your mail`;
            } else if (t.kind === "helo") {
                why = `the stack publishes the mail host's own SPF record here (${t.value}: receivers check the HELO name of bounces and reports, RFC 7208 2.3), and two SPF records at one name make receivers return permerror (RFC 7208 3.2, 4.5)`;
            } else if (t.kind === "mx") {
                why = `an MX with another target or priority changes where mail for ${plan.domain} goes: senders would split it between ${shown(normalizeName(r.content))} and the stack's host`;
            } else if (t.kind === "dmarc") {
                why = `with two DMARC records receivers apply no DMARC policy at all (RFC 7489 6.6.3)`;
            } else if (t.kind === "report") {
                why = `the stack publishes ${t.value} here so that receivers send DMARC reports for ${t.name.split("._report._dmarc.")[0]} to the addresses at ${t.name.split("._report._dmarc.")[1]}; a record of its own beside it may carry a rua that sends them elsewhere (draft-ietf-dmarc-aggregate-reporting, "Verifying External Destinations", step 9)`;
            } else if (t.kind === "nomail-spf") {
                why = `${plan.domain} is listed in mailauth:noMail: the stack publishes ${t.value} here so that receivers fail mail forged in its name, and two SPF records at one name make receivers return permerror (RFC 7208 3.2, 4.5); a record here may also mean the name does send mail`;
            } else if (t.kind === "nomail-dmarc") {
                why = `${plan.domain} is listed in mailauth:noMail: the stack publishes ${t.value} here, and with two DMARC records receivers apply no DMARC policy at all (RFC 7489 6.6.3)`;
            } else if (t.kind === "nomail-mx") {
                why = `${plan.domain} is listed in mailauth:noMail with nullMx: a null MX must be the only MX at its name (RFC 7505 3.3), and this one says the name receives mail`;
            } else if (t.kind === "dkim") {
                why = `selector ${t.name.split(".")[0]} already has a key: two keys under one selector make receivers fail signatures made with either`;
            } else {
                why = `${t.name} would resolve to two addresses: the stack's and ${shown(r.content)}`;
            }
            if (other !== undefined && sameName) {
                why = `it carries this stack's name (${shown(other)}) but not this stack's identity: another state of a stack named like this one wrote it (this stack's state lost and started again, the same name in another organization or backend, or a copy): ${why}`;
                ways.push(`if that other stack still runs, manage ${t.name} from one stack only: remove it from the other stack, or from this one`);
                if (t.kind === "dkim") {
                    ways.push(
                        `if it is this stack's from a lost state, its key is not in this state: sign with a new selector, e.g. today's date: pulumi config set --path 'mailauth:domains[${plan.index ?? 0}].selector' ${new Date().toISOString().slice(0, 10).replace(/-/g, "")}; delete the old record in Cloudflare once nothing signs with it`,
                    );
                } else if (r.type === t.type) {
                    ways.push(
                        `if it is this stack's from a lost state, import it: the stack's ${kindLabel(t.kind)} record takes it over in the next pulumi up, with the stack's value and comment:\n  ${importCommand(t, zone, r)}\n  pulumi up\n  ${importDoneCommand(t)}`,
                    );
                }
                ways.push(`or delete it in Cloudflare (dashboard: ${zone.name} → DNS → Records)`);
            } else if (other !== undefined) {
                why = `it is managed by another Pulumi stack (${shown(other)}): ${why}`;
                ways.push(`manage ${t.name} from one stack only: remove it from the other stack, or from this one`);
                ways.push(
                    `if this stack was renamed from ${shown(other)} (pulumi stack rename), the record is this stack's: set its comment to "${asMarker(own.comment).legacy}" in the dashboard (the next pulumi up gives it the stack's own comment)`,
                );
            } else if (noMailAlias) {
                ways.push(
                    `keep the alias and take ${plan.domain} out of the list (its target's records answer for it; publish the no-mail records at the target if it sends no mail either): pulumi config rm --path 'mailauth:noMail[${plan.index ?? 0}]'`,
                );
                ways.push(`or, if nothing uses the alias any more, delete it in Cloudflare (dashboard: ${zone.name} → DNS → Records)`);
            } else if (t.kind === "dkim") {
                ways.push(
                    `pick another selector for the stack, e.g. today's date: pulumi config set --path 'mailauth:domains[${plan.index ?? 0}].selector' ${new Date().toISOString().slice(0, 10).replace(/-/g, "")}; the existing key stays published for mail still in transit`,
                );
                ways.push(`or delete the record in Cloudflare (dashboard: ${zone.name} → DNS → Records) if nothing signs with it any more`);
            } else {
                if (t.kind === "spf") {
                    const lost = lostSpfTerms(r.content, plan.spfMechanisms).map((m) => m.replace(/^\+/, ""));
                    // Only a term the settings accept is suggested, each as one shell word: the record is
                    // anybody's text, and the suggested command is pasted into a shell.
                    const domains = plan.domains ?? [];
                    const problem = (m: string) => spfMechanismProblem(m, "mailauth:spf", domains);
                    const valid = (m: string) => problem(m) === undefined;
                    const selfInclude = (m: string) => /includes the domain's own record/.test(problem(m) ?? "");
                    const redirects = lost.filter((m) => /^redirect=/i.test(m));
                    const carry = lost.filter((m) => !/^(redirect|exp)=/i.test(m) && valid(m));
                    const cannot = lost.filter((m) => !/^redirect=/i.test(m) && !carry.includes(m));
                    if (carry.length > 0) adoptable = false;
                    if (carry.length > 0) {
                        // Together with what is configured, as the settings check will see them once pasted.
                        const together = spfMechanismsProblems([...plan.spfMechanisms, ...carry], plan.spfAll ?? "~all", domains).map((p) =>
                            p.replace(/^mailauth:spf\.mechanisms: /, ""),
                        );
                        ways.push(
                            `first carry its mechanisms into the stack's record, or mail from those senders fails SPF:\n` +
                                carry
                                    .map((m, i) => `  pulumi config set --path 'mailauth:spf.mechanisms[${plan.spfMechanisms.length + i}]' ${shellWord(m)}`)
                                    .join("\n") +
                                (together.length > 0
                                    ? `\n  but carried all together with mailauth:spf.mechanisms they are refused by the settings check: ${together.map(shown).join("; ")}; decide which to carry`
                                    : ""),
                        );
                    }
                    for (const m of redirects) {
                        const include = `include:${m.slice(9)}`;
                        ways.push(
                            valid(include)
                                ? `"${shown(m)}" cannot sit next to an all term: carry it as ${shellWord(include)} in mailauth:spf.mechanisms`
                                : `"${shown(m)}" cannot sit next to an all term, and its target is not a domain the settings accept: decide by hand what to carry`,
                        );
                    }
                    for (const m of cannot) {
                        ways.push(
                            `"${shown(m)}" is not carried over (${/^[?~-]?ptr/i.test(m) ? "ptr is deprecated, RFC 7208 5.5: use ip4:/a: instead" : /^exp=/i.test(m) ? "explanation strings are not supported" : selfInclude(m) ? "it includes the domain's own record: a loop receivers answer with permerror, RFC 7208 5.2" : "it is not a mechanism the settings accept"}): decide by hand what it stood for`,
                        );
                    }
                }
                ways.push(
                    own.adopt
                        ? `adoptRecords is on: once nothing above is left to do, the stack takes it over (pulumi destroy puts it back as it was)`
                        : `adopt it: pulumi config set mailauth:adoptRecords true (the stack replaces it with its own record; pulumi destroy puts it back as it was)`,
                );
                // Import only a record of the stack's own type: an imported CNAME would be turned into the stack's record.
                if (r.type === t.type) {
                    ways.push(
                        `or import it: the stack's ${kindLabel(t.kind)} record takes it over in the next pulumi up, with the stack's value and comment (Pulumi CLI 3.174 or later); pulumi destroy then deletes it. Then, once that pulumi up has run, remove the entry:\n  ${importCommand(t, zone, r)}\n  pulumi up\n  ${importDoneCommand(t)}`,
                    );
                }
                if (isNoMailKind(t.kind)) {
                    ways.push(
                        `or, if ${plan.domain} does send or receive mail, take it out of the list: pulumi config rm --path 'mailauth:noMail[${plan.index ?? 0}]'${t.kind === "nomail-mx" ? `, or publish no null MX there: pulumi config set --path 'mailauth:noMail[${plan.index ?? 0}].nullMx' false` : ""}`,
                    );
                }
                if (t.kind === "helo" && r.type === "TXT") {
                    ways.push(
                        `or keep it as it is and let the stack publish none there (see that it passes the mail host's addresses: the HELO check of bounces reads it): pulumi config set --path mailauth:mx.heloSpf false`,
                    );
                }
                ways.push(`or delete it in Cloudflare (dashboard: ${zone.name} → DNS → Records)`);
            }
            conflicts.push({
                domain: plan.domain,
                zone,
                target: t,
                record: r,
                adoptable,
                message: `${plan.domain}: ${describe(r)} already exists in zone ${zone.name} at a name the stack publishes (${kindLabel(t.kind)}).\nWhy it matters: ${why}.\nWay out:\n${ways.map((w) => `- ${w.replace(/\n/g, "\n  ")}`).join("\n")}`,
            });
        }
    }
    return conflicts;
}

/** The selector of a DKIM target (`<selector>._domainkey.<domain>`). */
const selectorOf = (t: Target) => t.name.split(".")[0];

/**
 * A record, not the stack's, at the name of a selector whose key the user gives (mailauth:dkimKeys):
 * a TXT that publishes that very key is imported (mailauth:importRecords: the stack's record takes
 * the record over by the `import` resource option, keeping its id and content and setting the
 * stack's comment in the same `pulumi up`), so the selector is never without its record: deleting
 * it first, as the adopt step would, leaves a moment in which receivers fail signatures in transit
 * and cache the missing record for the zone's negative TTL (RFC 2308 5). Any other record there
 * publishes another key, and is refused naming both.
 */
function userKeyConflict(plan: DomainPlan, zone: ZoneRef, t: Target, r: ZoneRecord): Conflict {
    const path = dkimKeyPath(`${plan.domain}/${selectorOf(t)}`);
    const mine = `${path} holds ${keyFingerprint(t.value!)}`;
    const ways: string[] = [];
    let why: string;
    const sameKey = r.type === "TXT" && samePublicKey(r.content, t.value!);
    if (sameKey) {
        why = `it publishes the key ${path} gives (${keyFingerprint(t.value!)}): the stack takes it over by importing it, so the selector keeps its record throughout`;
        ways.push(`import it: ${importCommand(t, zone, r)}; then pulumi up; then ${importDoneCommand(t)}`);
    } else {
        const theirs =
            r.type === "TXT" ? `it publishes ${keyFingerprint(r.content)}` : `it is a ${shown(r.type)} to ${shown(normalizeName(r.content))}, not a key record`;
        why = `${theirs}, and ${mine}: receivers would check the signatures made with your key against the record's, and fail them. The stack never replaces a published key under a live selector`;
        ways.push(
            `if the record's key is the one to keep, give its private key (OpenDKIM's key file for ${selectorOf(t)} on the old server): pulumi config set --secret --path '${path}' < key.pem (${FINGERPRINT_COMMAND} prints the digest; its first 16 digits must be the record's)`,
        );
        ways.push(
            `or sign with a new selector and a key the stack makes: pulumi config rm --path '${path}'; pulumi config set --path 'mailauth:domains[${plan.index ?? 0}].selector' ${new Date().toISOString().slice(0, 10).replace(/-/g, "")}`,
        );
        ways.push(`or delete the record in Cloudflare (dashboard: ${zone.name} → DNS → Records) if nothing signs with it any more`);
    }
    return {
        domain: plan.domain,
        zone,
        target: t,
        record: r,
        adoptable: false,
        message: `${plan.domain}: ${describe(r)} already exists in zone ${zone.name} at a name the stack publishes (DKIM, your own key).\nWhy it matters: ${why}.\nWay out:\n${ways.map((w) => `- ${w}`).join("\n")}`,
    };
}

/**
 * The stack's own records as the zone holds them (marked with its comment): two of one kind at one name
 * are refused (the stack manages one; the other, a copy or a record left by a lost state, would be a
 * second SPF or DMARC record next to it); one whose value is not what the stack publishes is flagged:
 * with the stack's state this run sets the value, without it (state lost, another backend) a second
 * record would be published beside it.
 */
export function ownRecordIssues(
    plan: DomainPlan,
    zone: ZoneRef,
    records: ZoneRecord[],
    comment: OwnMarker | string,
): { problems: string[]; warnings: string[] } {
    const problems: string[] = [];
    const warnings: string[] = [];
    for (const t of plan.targets) {
        let mine = records.filter((r) => isOwn(r.comment, comment) && conflictsWith(t, r, zone.name));
        // Several MX hosts (mailauth:hosts) publish one MX record each at the domain: each target
        // owns the record that names its own host (its priority may be the one this run changes).
        // MX alone, not every kind a host contributes: only MX puts several of the stack's records at
        // one name, and only an MX's content tells whose it is (the host it names, as its resource
        // `<domain>-mx-<host>` does). A host's A, AAAA and HELO SPF records stand at its own hostname,
        // one target each (components/settings.ts refuses a hostname listed twice), and their content
        // is what a run changes (a new address, a new HELO SPF value): the name tells whose they are,
        // and one there with another value is still that host's, for this run to set (the warning
        // below). Owned by value, such a record would be nobody's: neither warned of nor refused. A
        // second SPF or DMARC record at a name is refused whatever its value (RFC 7208 3.2).
        // test/unit/zone-budget.test.ts "several hosts: a host's A, AAAA and HELO SPF records".
        if (t.type === "MX" && t.value !== undefined && plan.targets.some((o) => o !== t && o.kind === t.kind && o.name === t.name)) {
            mine = mine.filter((r) => r.type === "MX" && normalizeName(r.content) === normalizeName(t.value!));
        }
        if (mine.length > 1) {
            problems.push(
                `${plan.domain}: ${mine.length} records at ${t.name} carry this stack's comment as its ${kindLabel(t.kind)} record (${mine.map(describe).join("; ")}); the stack manages one.\nWhy it matters: ${t.kind === "spf" || t.kind === "helo" || t.kind === "nomail-spf" ? "two SPF records make every receiver return permerror (RFC 7208 3.2)" : t.kind === "dmarc" || t.kind === "nomail-dmarc" ? "with two DMARC records receivers apply no DMARC policy (RFC 7489 6.6.3)" : "the name would hold two values"}.\nWay out: delete all but the one the stack's state holds (pulumi stack export | grep the record ids above) in Cloudflare (dashboard: ${zone.name} → DNS → Records)`,
            );
        } else if (mine.length === 1 && t.kind === "dkim" && t.value !== undefined) {
            // Its record publishes the key the stack made for the selector: that key would be dropped from the state, and
            // the record (which keeps its content, components/mailDns.ts) would go on publishing it: refused.
            const r = mine[0];
            if (!samePublicKey(r.content, t.value)) {
                const path = dkimKeyPath(`${plan.domain}/${selectorOf(t)}`);
                problems.push(
                    `${plan.domain}: the stack's own record ${describe(r)} publishes ${keyFingerprint(r.content)}, and ${path} holds ${keyFingerprint(t.value)}.\nWhy it matters: a key never changes while its selector is live (mail signed with it is in transit, receivers cache the record); with the entry the stack would let go of the key it holds for ${selectorOf(t)}.\nWay out: remove the entry (pulumi config rm --path '${path}'), or put the key on a new selector (${rotationSteps(plan.domain, selectorOf(t))})`,
                );
            }
        } else if (mine.length === 1 && t.value !== undefined) {
            const r = mine[0];
            const same = holdsValue(r, t);
            if (!same) {
                warnings.push(
                    `${plan.domain}: ${describe(r)} carries this stack's comment but not the value the stack publishes there: if the stack's state holds it (a changed setting), this run sets it; if not (a lost state, another backend, a copied comment), a second record is published beside it: then delete this one in Cloudflare`,
                );
            }
        }
    }
    return { problems, warnings };
}

/** Reads zones through the provider's data sources; replaced in tests only by Pulumi's mocks. */
export interface ZoneReader {
    zoneById(zoneId: string): Promise<ZoneRef & { permissions?: string[] }>;
    /** Every zone the token sees, up to `maxItems` (one paged listing). */
    allZones(maxItems: number): Promise<(ZoneRef & { account?: { id: string; name: string } })[]>;
    /** Every record at or below `suffix`, up to `maxItems` (one paged listing). */
    recordsUnder(zoneId: string, suffix: string, maxItems: number): Promise<ZoneRecord[]>;
}

/**
 * The most a listing reads before the check refuses rather than decide on part of it. The provider's
 * list data sources stop at maxItems and cut the result to it without a word (terraform-provider-cloudflare
 * v5.22.0 internal/services/dns_record/list_data_source.go:84-94, zone/list_data_source.go, same code), so
 * one more than the limit is asked for: getting it means the listing was cut. Pages are the API's default
 * size, as the data sources send no per_page: 100 records, 20 zones (Cloudflare API reference, List DNS
 * Records / List Zones); each listing ends with one empty page (cloudflare-go v6 pagination.go GetNextPage).
 */
export const LISTING_LIMITS = { records: 20_000, zones: 5_000 };

export const providerReader: ZoneReader = {
    async zoneById(zoneId) {
        const z = await cloudflare.getZone({ zoneId });
        return { id: z.id, name: z.name, permissions: z.permissions };
    },
    async allZones(maxItems) {
        const z = await cloudflare.getZones({ maxItems });
        return (z.results ?? []).map((r) => ({ id: r.id, name: r.name, account: r.account }));
    },
    async recordsUnder(zoneId, suffix, maxItems) {
        // name.endswith: every record at or below the name in one listing (exact names compared here).
        const r = await cloudflare.getDnsRecords({ zoneId, name: { endswith: suffix }, maxItems });
        return r.results ?? [];
    },
};

/**
 * An API refusal in the provider's error text: terraform-provider-cloudflare reports
 * "failed to make http request" with cloudflare-go's error, `GET "<url>": 403 Forbidden {json}`
 * (cloudflare-go internal/apierror/apierror.go Error()). Cloudflare's codes: 10000 authentication
 * error, 9109 unauthorized to access the resource, 7003/1001 no such zone (API docs; not seen here).
 */
export function apiRefusal(e: unknown): Refusal | undefined {
    const text = String((e as Error)?.message ?? e);
    const m = text.match(/": (4\d\d) ([A-Za-z ]+?) (\{[\s\S]*\})/) ?? text.match(/": (40[0134]) ([A-Za-z ]+)/);
    if (!m) return undefined;
    let detail = m[2];
    try {
        const body = JSON.parse(m[3] ?? "{}");
        const errs = (body.errors ?? []) as { code: number; message: string }[];
        if (errs.length > 0) detail = errs.map((x) => `${x.code} ${x.message}`).join("; ");
    } catch {
        /* not JSON: keep the status text */
    }
    return { status: Number(m[1]), detail };
}

const DNS_EDIT = "Zone → DNS → Edit";

const RATE_LIMITED =
    `Cloudflare refused the zone check's calls for going over its API limit (429 Too Many Requests): 1,200 calls per 5 minutes per user, ` +
    `counting the dashboard and every other tool of the same user; past it every call is refused for 5 minutes ` +
    `(developers.cloudflare.com/fundamentals/api/reference/limits). Wait 5 minutes and run again; the README ("Your zone already has records") ` +
    `gives the calls a run makes per domain count`;

/** Cloudflare's refusal of a call (apiRefusal). */
type Refusal = { status: number; detail: string };

/**
 * The result of one of the check's calls to Cloudflare, or undefined when Cloudflare refuses it:
 * the problem is then added, RATE_LIMITED for 429 (once, whoever asked), else what `refused` says.
 * Any other failure is thrown.
 */
async function unlessRefused<T>(call: () => Promise<T>, problems: string[], refused: (refusal: Refusal) => string | string[]): Promise<T | undefined> {
    try {
        return await call();
    } catch (e) {
        const refusal = apiRefusal(e);
        if (!refusal) throw e;
        problems.push(...(refusal.status === 429 ? [RATE_LIMITED] : ([] as string[]).concat(refused(refusal))));
        return undefined;
    }
}

/**
 * The reads of one check, each made once: the zones listing (only when a domain has no zoneId), each
 * configured zone id, and one records listing per zone, shared by every domain in it.
 */
class ZoneReads {
    private zoneList?: ReturnType<ZoneReader["allZones"]>;
    private byId = new Map<string, ReturnType<ZoneReader["zoneById"]>>();
    constructor(private reader: ZoneReader) {}
    zones() {
        return (this.zoneList ??= this.reader.allZones(LISTING_LIMITS.zones + 1));
    }
    zone(id: string) {
        let z = this.byId.get(id);
        if (!z) this.byId.set(id, (z = this.reader.zoneById(id)));
        return z;
    }
}

/** The longest run of whole labels every name ends with. */
function commonSuffix(names: string[]): string {
    const split = names.map((n) => n.split(".").reverse());
    const out: string[] = [];
    for (let i = 0; split.every((l) => i < l.length && l[i] === split[0][i]); i++) out.push(split[0][i]);
    return out.reverse().join(".");
}

async function resolveZone(plan: DomainPlan, reads: ZoneReads, problems: string[]): Promise<ZoneRef | undefined> {
    const d = plan.domain;
    if (plan.zoneId) {
        const zoneId = plan.zoneId;
        const zone: (ZoneRef & { permissions?: string[] }) | undefined = await unlessRefused(
            () => reads.zone(zoneId),
            problems,
            (refusal) =>
                `${d}: Cloudflare refused to read zone ${zoneId} (${refusal.status}: ${refusal.detail}): either the id is not a zone of your account (dashboard: the domain → Overview → API, "Zone ID"), or the API token has no permission on it: give it ${DNS_EDIT} (which includes read) on the zone of ${d}, or drop zoneId to have the zone found by name`,
        );
        if (!zone) return undefined;
        if (d !== zone.name && !d.endsWith(`.${zone.name}`)) {
            problems.push(
                `${d}: zoneId ${plan.zoneId} is the zone ${zone.name}, which does not hold ${d}: the records would be published as ${d}.${zone.name}. Set the id of ${d}'s zone, or drop zoneId to have it found by name`,
            );
            return undefined;
        }
        // Zone.permissions (deprecated, "legacy user membership") lists e.g. "#dns_records:edit"; refuse only
        // when it is given and lacks edit: a token never has more than its user.
        if (Array.isArray(zone.permissions) && zone.permissions.length > 0 && !zone.permissions.includes("#dns_records:edit")) {
            problems.push(`${d}: the API token cannot edit DNS records of zone ${zone.name} (${zone.id}): give it ${DNS_EDIT} on that zone`);
            return undefined;
        }
        return { id: zone.id, name: zone.name };
    }
    // The nearest enclosing zone: the domain itself, then each parent with at least two labels, matched
    // in the one listing of every zone the token sees.
    const labels = d.split(".");
    const candidates = labels.slice(0, -1).map((_, i) => labels.slice(i).join("."));
    const zones: (ZoneRef & { account?: { id: string; name: string } })[] | undefined = await unlessRefused(
        () => reads.zones(),
        problems,
        (refusal) =>
            `${d}: Cloudflare refused to list zones (${refusal.status}: ${refusal.detail}): to find the zone of ${d} by name the API token needs Zone → Zone → Read on it; or set mailauth:domains[].zoneId`,
    );
    if (!zones) return undefined;
    if (zones.length > LISTING_LIMITS.zones) {
        problems.push(
            `${d}: the API token sees more than ${LISTING_LIMITS.zones} zones, more than the check lists (it does not decide on a cut list): set mailauth:domains[${plan.index ?? 0}].zoneId to the id of ${d}'s zone`,
        );
        return undefined;
    }
    for (const c of candidates) {
        const exact = zones.filter((z) => z.name.toLowerCase() === c);
        if (exact.length > 1) {
            problems.push(
                `${d}: the API token sees ${exact.length} zones named ${c} (${exact.map((z) => `${z.id} in account ${z.account?.name ?? z.account?.id ?? "?"}`).join(", ")}): set mailauth:domains[].zoneId to the one to use`,
            );
            return undefined;
        }
        if (exact.length === 1) return { id: exact[0].id, name: exact[0].name };
    }
    problems.push(
        `${d}: no zone the API token can read holds ${d} (looked for ${candidates.join(", ")}): add the domain to your Cloudflare account, give the token Zone → Zone → Read and ${DNS_EDIT} on its zone, or set mailauth:domains[].zoneId`,
    );
    return undefined;
}

/** A records listing that came back full was cut by the data source: refused rather than read in part. */
function tooManyRecords(zone: ZoneRef, suffix: string, domains: string[]): string {
    return `${domains.join(", ")}: zone ${zone.name} has more than ${LISTING_LIMITS.records} records at or below ${suffix}, more than the check reads in one run; it does not decide on part of them (a record past the cut, a second SPF record say, would be missed). Manage fewer of this zone's domains per stack, or delete unused records`;
}

export interface CheckOptions {
    reader?: ZoneReader;
    adopt: boolean;
    /** How the stack knows its own records (components/stackMarker.ts); a string: that exact comment. */
    comment: OwnMarker | string;
    stack: string;
    project: string;
    /** Tells the user what stays (old selectors) and what adoption replaces. */
    log?: (msg: string) => void;
    /** mailauth:importRecords: record resource name to `<zone id>/<record id>` it imports. */
    imports?: Record<string, string>;
    /** Flags what may be wrong but is not refused. */
    warn?: (msg: string) => void;
}

/**
 * One records listing per zone, under the names of all its domains (their longest common suffix),
 * then `each` per domain with the records at or below its name. A refused listing (429: said once;
 * otherwise `refused` per domain) or one that came back full goes into `problems`, and that zone's
 * domains are skipped.
 */
async function perZone<T>(
    found: { plan: DomainPlan; zone: ZoneRef }[],
    reader: ZoneReader,
    problems: string[],
    refused: (plan: DomainPlan, zone: ZoneRef, refusal: Refusal) => string,
    each: (plan: DomainPlan, zone: ZoneRef, records: ZoneRecord[]) => T,
): Promise<T[][]> {
    const byZone = new Map<string, { zone: ZoneRef; plans: DomainPlan[] }>();
    for (const { plan, zone } of found) (byZone.get(zone.id) ?? byZone.set(zone.id, { zone, plans: [] }).get(zone.id)!).plans.push(plan);
    return Promise.all(
        [...byZone.values()].map(async ({ zone, plans }) => {
            const suffix = commonSuffix(plans.map((p) => p.domain));
            const all = await unlessRefused(
                () => reader.recordsUnder(zone.id, suffix, LISTING_LIMITS.records + 1),
                problems,
                (refusal) => plans.map((plan) => refused(plan, zone, refusal)),
            );
            if (!all) return [];
            if (all.length > LISTING_LIMITS.records) {
                problems.push(
                    tooManyRecords(
                        zone,
                        suffix,
                        plans.map((p) => p.domain),
                    ),
                );
                return [];
            }
            const under = recordsAtOrBelow(
                all,
                plans.map((p) => p.domain),
            );
            return plans.map((plan, i) => each(plan, zone, under[i]));
        }),
    );
}

/**
 * For each name, the records at it or below it, in the listing's order: one pass over the records,
 * each looked up under its own name and each parent's (a filter of the zone's records per domain
 * made 1,000 domains in one zone of 4,000 records cost 4 million comparisons).
 */
export function recordsAtOrBelow<R extends { name: string }>(records: readonly R[], names: readonly string[]): R[][] {
    const out = names.map((): R[] => []);
    const index = new Map<string, number[]>();
    names.forEach((n, i) => (index.get(n) ?? index.set(n, []).get(n)!).push(i));
    for (const r of records) {
        // At the name itself, then at each parent: exactly the names n that r's name equals or ends with `.n`.
        for (let name = normalizeName(r.name), dot = 0; ; name = name.slice(dot + 1)) {
            for (const i of index.get(name) ?? []) out[i].push(r);
            dot = name.indexOf(".");
            if (dot < 0) break;
        }
    }
    return out;
}

/**
 * Finds and reads every domain's zone and refuses, with one message per problem, when a record the
 * stack does not manage sits at a name it publishes (unless adopted). Resolves to each domain's zone.
 */
export async function checkZones(plans: DomainPlan[], opts: CheckOptions): Promise<ZoneCheckResult[]> {
    const reads = new ZoneReads(opts.reader ?? providerReader);
    const log = opts.log ?? ((m: string) => pulumi.log.info(m));
    const problems: string[] = [];
    const zones = await Promise.all(plans.map((plan) => resolveZone(plan, reads, problems)));
    const found = plans.flatMap((plan, i) => (zones[i] ? [{ plan, zone: zones[i]! }] : []));
    const results = (
        await perZone(
            found,
            opts.reader ?? providerReader,
            problems,
            (plan, zone, refusal) =>
                `${plan.domain}: Cloudflare refused to list the DNS records of zone ${zone.name} (${zone.id}) (${refusal.status}: ${refusal.detail}): the API token needs Zone → DNS → Read to check the zone and ${DNS_EDIT} to publish: give it ${DNS_EDIT} on ${zone.name}`,
            (plan, zone, records) => checkDomain(plan, zone, records, opts, problems, log),
        )
    ).flat();
    if (problems.length > 0) throw new ZoneError([...new Set(problems)]);
    const byDomain = resultsByDomain(results);
    return plans.map((p) => byDomain.get(p.domain)!);
}

/**
 * The zone check's results by domain (the first one of a domain, as `find` would give it): built once
 * per run, so that looking up every domain's result costs one pass, not one per domain (a `find` per
 * domain made 1,000 domains cost 1,000 x 1,000 comparisons, four times over).
 */
export function resultsByDomain<R extends { domain: string }>(results: readonly R[]): ReadonlyMap<string, R> {
    const map = new Map<string, R>();
    for (const r of results) if (!map.has(r.domain)) map.set(r.domain, r);
    return map;
}

function checkDomain(
    plan: DomainPlan,
    zone: ZoneRef,
    records: ZoneRecord[],
    opts: CheckOptions,
    problems: string[],
    log: (m: string) => void,
): ZoneCheckResult {
    for (const t of plan.targets) {
        const id = opts.imports?.[t.resource];
        if (id === undefined) continue;
        const r = records.find((x) => `${zone.id}/${x.id}` === id);
        const owner = r && recordOwner(r.comment, opts.comment);
        // Another stack's record is not imported, unless it carries this stack's name (a lost state: see findConflicts).
        // A DKIM record (importable only with the user's key) must publish that key: the import keeps its content.
        const otherKey = r !== undefined && t.kind === "dkim" && !samePublicKey(r.content, t.value!);
        if (!r || !conflictsWith(t, r, zone.name) || r.type !== t.type || (owner && !owner.own && !owner.sameName) || otherKey) {
            problems.push(
                `mailauth:importRecords["${t.resource}"]: ${id} is not a record of zone ${zone.name} (${zone.id}) at ${t.name} that the stack's ${kindLabel(t.kind)} record replaces: only a ${t.type} record the preview names, with its zone id, can be imported (a CNAME is not: the import would turn it into the stack's ${t.type}) (pulumi config rm --path 'mailauth:importRecords["${t.resource}"]' to drop it)`,
            );
        } else if (isOwn(r.comment, opts.comment)) {
            // Imported and updated by an earlier up. Left in, the import option would make a CLI before
            // 3.252 import it again and replace it, deleting the record: the import id (zone/record)
            // differs from the record's id and that CLI lost the import id from state after the update
            // (pulumi/pulumi#14836, fixed by #23834 in 3.252.0: step_generator.go ImportID: new.ImportID).
            problems.push(
                `mailauth:importRecords["${t.resource}"]: the record ${id} is imported: it is the stack's now. Remove the entry before the next run (left in, a Pulumi CLI before 3.252 would import it again and delete it, pulumi/pulumi#14836):\n  ${importDoneCommand(t)}`,
            );
        }
    }
    const conflicts = findConflicts(plan, zone, records, opts);
    const own = ownRecordIssues(plan, zone, records, opts.comment);
    problems.push(...own.problems);
    for (const w of own.warnings) (opts.warn ?? ((m: string) => pulumi.log.warn(m)))(w);
    // A DKIM conflict is adoptable only for a selector whose key the user gives, when its record publishes that key.
    const adopted = conflicts.filter((c) => c.adoptable && (opts.adopt || c.target.kind === "dkim"));
    for (const c of conflicts) if (!adopted.includes(c)) problems.push(c.message);
    for (const c of adopted) {
        if (c.target.kind === "dkim") {
            log(
                `${plan.domain}: ${describe(c.record)} publishes the key of ${dkimKeyPath(`${plan.domain}/${selectorOf(c.target)}`)}: the stack's adopt step takes it over and the stack publishes the same key in its own record; pulumi destroy puts it back`,
            );
            continue;
        }
        log(
            `${plan.domain}: adoptRecords: ${describe(c.record)} is taken over by the stack's adopt step and replaced by its ${kindLabel(c.target.kind)} record; pulumi destroy puts it back`,
        );
    }
    // Selectors in the zone the plan does not publish: someone else's stay; those carrying this
    // stack's comment are its own records, which the engine deletes when the state holds them (a
    // selector dropped from previousSelectors), so they are not said to stay.
    const unplanned = (own: boolean) => [
        ...new Set(
            records
                .filter((r) => isOwn(r.comment, opts.comment) === own)
                .map((r) => dkimSelectorOf(normalizeName(r.name), plan.domain))
                .filter((s): s is string => s !== undefined && !plan.selectors.includes(s)),
        ),
    ];
    const droppedSelectors = unplanned(true);
    const oldSelectors = unplanned(false);
    if (droppedSelectors.length > 0) {
        log(
            `${plan.domain}: DKIM selector(s) ${droppedSelectors.map(shown).join(", ")} in zone ${zone.name} carry this stack's comment and are no longer configured: if the stack's state holds them (a selector dropped from previousSelectors), this run deletes their records; if not (a lost state, another backend, a copied comment), they stay: delete them in Cloudflare once no mail signed with them is in transit`,
        );
    }
    if (oldSelectors.length > 0) {
        log(
            `${plan.domain}: DKIM selector(s) ${oldSelectors.map(shown).join(", ")} found in zone ${zone.name} are not managed by this stack and stay as they are`,
        );
    }
    const keyed = records
        .filter((r) => r.type === "TXT" && isOwn(r.comment, opts.comment) && dkimPublicKey(r.content) !== "")
        .map((r) => ({ selector: dkimSelectorOf(normalizeName(r.name), plan.domain), createdOn: r.createdOn }))
        .filter((r): r is { selector: string; createdOn: string | undefined } => r.selector !== undefined);
    const dkimInZone = [...new Set(keyed.map((r) => r.selector))];
    // Two of the stack's records at one name (a lost state's beside this one's): the later creation,
    // the one a resolver may not have seen yet; unknown if either does not say.
    const dkimCreatedOn = Object.fromEntries(
        dkimInZone.map((sel) => {
            const times = keyed.filter((r) => r.selector === sel).map((r) => r.createdOn);
            return [sel.toLowerCase(), times.includes(undefined) ? undefined : times.reduce((a, b) => (Date.parse(b!) > Date.parse(a!) ? b : a))];
        }),
    );
    return { domain: plan.domain, zone, adopted, dkimInZone, dkimCreatedOn };
}

/**
 * After the adopt steps: every record still in the way at the names they adopted was put there since
 * (a step runs when it is created or its inputs change, not on every run). Refused, to delete by hand.
 * One records listing per zone, under the names of all its adopted domains, as checkZones reads them:
 * a listing per domain would spend Cloudflare's 1,200 calls per 5 minutes at every preview of a large
 * stack (the recheck runs whenever the steps' outputs are known, which they are from state).
 */
export async function checkAdopted(
    adopted: { plan: DomainPlan; zone: ZoneRef }[],
    own: { comment: OwnMarker | string; stack: string; project: string; imports?: Record<string, string> },
    reader: ZoneReader = providerReader,
): Promise<void> {
    const problems: string[] = [];
    await perZone(
        adopted,
        reader,
        problems,
        (plan, zone, refusal) =>
            `${plan.domain}: Cloudflare refused to list the DNS records of zone ${zone.name} (${zone.id}) for the check after adoption (${refusal.status}: ${refusal.detail}): give the API token ${DNS_EDIT} on ${zone.name}`,
        (plan, zone, records) => {
            const left = findConflicts({ ...plan, targets: plan.targets.filter((t) => t.kind !== "dkim") }, zone, records, own);
            problems.push(
                ...left.map(
                    (c) =>
                        `${c.domain}: ${describe(c.record)} was added at a name the stack adopted earlier (adoptRecords), and the adoption does not run again.\nWay out: delete it in Cloudflare (dashboard: ${zone.name} → DNS → Records); to keep its content, carry it into the stack's settings first.`,
                ),
            );
        },
    );
    if (problems.length > 0) throw new ZoneError([...new Set(problems)]);
}
