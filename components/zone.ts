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
import { dkimRecordName } from "./dkimKey";

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
}

export interface ZoneRef {
    id: string;
    name: string;
}

/** What kind of record the stack publishes at a name; decides which existing records collide. */
export type TargetKind = "spf" | "mx" | "dmarc" | "dkim" | "a" | "aaaa";

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
}

/** The comment the stack puts on every record it publishes: how it knows its own records again. */
export function recordComment(project: string, stack: string): string {
    // Cloudflare comments are at most 100 characters on the Free plan (API docs: dns records, comment).
    return `managed by Pulumi stack ${project}/${stack} (mailauth)`.slice(0, 100);
}
const COMMENT_OF_ANY_STACK = /^managed by Pulumi stack (\S+) \(mailauth\)$/;

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

/** TXT content as stored (`"chunk" "chunk"` or bare) to its value. */
export function txtValue(content: string): string {
    const chunks = [...content.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1].replace(/\\(.)/g, "$1"));
    return chunks.length > 0 && /^\s*"/.test(content) ? chunks.join("") : content;
}

function isSpf(r: ZoneRecord): boolean {
    return r.type === "TXT" && /^v=spf1(\s|$)/i.test(txtValue(r.content).trim());
}
function isDmarc(r: ZoneRecord): boolean {
    return r.type === "TXT" && /^v=DMARC1\s*(;|$)/i.test(txtValue(r.content).trim());
}
const fqdn = (n: string) => n.toLowerCase().replace(/\.$/, "");

/** Which existing records at a target's name collide with it. */
export function collides(target: Target, r: ZoneRecord): boolean {
    if (fqdn(r.name) !== target.name) return false;
    // A CNAME excludes every other record at its name (RFC 1034 3.6.2); Cloudflare refuses both.
    if (r.type === "CNAME") return true;
    switch (target.kind) {
        case "spf":
            return isSpf(r);
        case "dmarc":
            return isDmarc(r);
        case "dkim":
            return r.type === "TXT";
        default:
            return r.type === target.type;
    }
}

/** SPF terms of an existing record that the stack's record would not carry. */
export function lostSpfTerms(existing: string, configured: string[]): string[] {
    const have = new Set(["mx", ...configured].map((m) => m.toLowerCase()));
    return txtValue(existing)
        .trim()
        .split(/\s+/)
        .slice(1)
        .filter((t) => !/^[+?~-]?all$/i.test(t) && !have.has(t.toLowerCase()) && !have.has(t.replace(/^\+/, "").toLowerCase()));
}

function describe(r: ZoneRecord): string {
    const content = r.type === "TXT" ? JSON.stringify(txtValue(r.content)) : r.content;
    const prio = r.type === "MX" ? ` priority ${r.priority}` : "";
    return `${r.type} ${fqdn(r.name)} ${content}${prio} (record id ${r.id})`;
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
    return `pulumi config set --path 'mailauth:importRecords["${t.resource}"]' ${zone.id}/${r.id}`;
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
    own: { comment: string; stack: string; project: string; adopt?: boolean; imports?: Record<string, string> },
): Conflict[] {
    const conflicts: Conflict[] = [];
    for (const t of plan.targets) {
        for (const r of records.filter((x) => collides(t, x))) {
            if (r.comment === own.comment) continue; // the stack's own record (comment set by MailDns)
            if (t.kind !== "dkim" && own.imports?.[t.resource] === `${zone.id}/${r.id}`) continue; // imported by the stack's record (mailauth:importRecords)
            const other = (r.comment ?? "").match(COMMENT_OF_ANY_STACK)?.[1];
            const same =
                t.value !== undefined &&
                r.type === t.type &&
                (t.type === "TXT" ? txtValue(r.content) === t.value : fqdn(r.content) === fqdn(t.value)) &&
                (t.type !== "MX" || r.priority === t.priority);
            let why: string;
            const ways: string[] = [];
            let adoptable = other === undefined && t.kind !== "dkim";
            if (r.type === "CNAME" && t.kind !== "dkim") {
                why = `a CNAME excludes every other record at ${t.name} (RFC 1034 3.6.2): Cloudflare refuses the stack's ${t.type} record next to it`;
            } else if (same) {
                why = `it already holds the value the stack publishes, but the stack does not manage it: Cloudflare refuses a second identical record`;
            } else if (t.kind === "spf") {
                why = `two SPF records at one name make every receiver return permerror (RFC 7208 3.2, 4.5): SPF would fail for all your mail`;
            } else if (t.kind === "mx") {
                why = `an MX with another target or priority changes where mail for ${plan.domain} goes: senders would split it between ${fqdn(r.content)} and the stack's host`;
            } else if (t.kind === "dmarc") {
                why = `with two DMARC records receivers apply no DMARC policy at all (RFC 7489 6.6.3)`;
            } else if (t.kind === "dkim") {
                why = `selector ${t.name.split(".")[0]} already has a key: two keys under one selector make receivers fail signatures made with either`;
            } else {
                why = `${t.name} would resolve to two addresses: the stack's and ${r.content}`;
            }
            if (other !== undefined) {
                why = `it is managed by another Pulumi stack (${other}): ${why}`;
                ways.push(`manage ${t.name} from one stack only: remove it from the other stack, or from this one`);
                ways.push(`if this stack was renamed from ${other} (pulumi stack rename), the record is this stack's: set its comment to "${own.comment}" in the dashboard`);
            } else if (t.kind === "dkim") {
                ways.push(
                    `pick another selector for the stack, e.g. today's date: pulumi config set --path 'mailauth:domains[${plan.index ?? 0}].selector' ${new Date().toISOString().slice(0, 10).replace(/-/g, "")}; the existing key stays published for mail still in transit`,
                );
                ways.push(`or delete the record in Cloudflare (dashboard: ${zone.name} → DNS → Records) if nothing signs with it any more`);
            } else {
                if (t.kind === "spf") {
                    const lost = lostSpfTerms(r.content, plan.spfMechanisms);
                    const carry = lost.filter((m) => !/^(redirect|exp)=|^[+?~-]?ptr/i.test(m)).map((m) => m.replace(/^\+/, ""));
                    const cannot = lost.filter((m) => /^(redirect|exp)=|^[+?~-]?ptr/i.test(m));
                    if (carry.length > 0) {
                        adoptable = false;
                        ways.push(
                            `first carry its mechanisms into the stack's record, or mail from those senders fails SPF:\n` +
                                carry.map((m, i) => `  pulumi config set --path 'mailauth:spf.mechanisms[${plan.spfMechanisms.length + i}]' '${m}'`).join("\n"),
                        );
                    }
                    for (const m of cannot) {
                        ways.push(
                            /^redirect=/i.test(m)
                                ? `"${m}" cannot sit next to an all term: carry it as include:${m.slice(9)} in mailauth:spf.mechanisms`
                                : `"${m}" is not carried over (${/ptr/i.test(m) ? "ptr is deprecated, RFC 7208 5.5: use ip4:/a: instead" : "explanation strings are not supported"})`,
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
                        `or import it: the stack's ${t.kind.toUpperCase()} record takes it over in the next pulumi up, with the stack's value and comment (Pulumi CLI 3.174 or later); pulumi destroy then deletes it. Then, once that pulumi up has run, remove the entry:\n  ${importCommand(t, zone, r)}\n  pulumi up\n  ${importDoneCommand(t)}`,
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
                message: `${plan.domain}: ${describe(r)} already exists in zone ${zone.name} at a name the stack publishes (${t.kind.toUpperCase()}).\nWhy it matters: ${why}.\nWay out:\n${ways.map((w) => `- ${w.replace(/\n/g, "\n  ")}`).join("\n")}`,
            });
        }
    }
    return conflicts;
}

/** Reads zones through the provider's data sources; replaced in tests only by Pulumi's mocks. */
export interface ZoneReader {
    zoneById(zoneId: string): Promise<ZoneRef & { permissions?: string[] }>;
    zonesByName(name: string): Promise<(ZoneRef & { account?: { id: string; name: string } })[]>;
    recordsUnder(zoneId: string, domain: string): Promise<ZoneRecord[]>;
}

export const providerReader: ZoneReader = {
    async zoneById(zoneId) {
        const z = await cloudflare.getZone({ zoneId });
        return { id: z.id, name: z.name, permissions: z.permissions };
    },
    async zonesByName(name) {
        const z = await cloudflare.getZones({ name });
        return (z.results ?? []).map((r) => ({ id: r.id, name: r.name, account: r.account }));
    },
    async recordsUnder(zoneId, domain) {
        // name.endswith: every record at or below the domain in one call (results filtered by exact name
        // here); the data source pages through up to maxItems (list_data_source.go in
        // terraform-provider-cloudflare internal/services/dns_record).
        const r = await cloudflare.getDnsRecords({ zoneId, name: { endswith: domain }, maxItems: 5000 });
        return r.results ?? [];
    },
};

/**
 * An API refusal in the provider's error text: terraform-provider-cloudflare reports
 * "failed to make http request" with cloudflare-go's error, `GET "<url>": 403 Forbidden {json}`
 * (cloudflare-go internal/apierror/apierror.go Error()). Cloudflare's codes: 10000 authentication
 * error, 9109 unauthorized to access the resource, 7003/1001 no such zone (API docs; not seen here).
 */
export function apiRefusal(e: unknown): { status: number; detail: string } | undefined {
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

async function resolveZone(plan: DomainPlan, reader: ZoneReader, problems: string[]): Promise<ZoneRef | undefined> {
    const d = plan.domain;
    if (plan.zoneId) {
        let zone: ZoneRef & { permissions?: string[] };
        try {
            zone = await reader.zoneById(plan.zoneId);
        } catch (e) {
            const refusal = apiRefusal(e);
            if (!refusal) throw e;
            problems.push(
                `${d}: Cloudflare refused to read zone ${plan.zoneId} (${refusal.status}: ${refusal.detail}): either the id is not a zone of your account (dashboard: the domain → Overview → API, "Zone ID"), or the API token has no permission on it: give it ${DNS_EDIT} (which includes read) on the zone of ${d}, or drop zoneId to have the zone found by name`,
            );
            return undefined;
        }
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
    // The nearest enclosing zone: the domain itself, then each parent with at least two labels.
    const labels = d.split(".");
    const candidates = labels.slice(0, -1).map((_, i) => labels.slice(i).join("."));
    let found: (ZoneRef & { account?: { id: string; name: string } })[][];
    try {
        found = await Promise.all(candidates.map((c) => reader.zonesByName(c)));
    } catch (e) {
        const refusal = apiRefusal(e);
        if (!refusal) throw e;
        problems.push(
            `${d}: Cloudflare refused to list zones (${refusal.status}: ${refusal.detail}): to find the zone of ${d} by name the API token needs Zone → Zone → Read on it; or set mailauth:domains[].zoneId`,
        );
        return undefined;
    }
    for (const [i, zones] of found.entries()) {
        const exact = zones.filter((z) => z.name === candidates[i]);
        if (exact.length > 1) {
            problems.push(
                `${d}: the API token sees ${exact.length} zones named ${candidates[i]} (${exact.map((z) => `${z.id} in account ${z.account?.name ?? z.account?.id ?? "?"}`).join(", ")}): set mailauth:domains[].zoneId to the one to use`,
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

export interface CheckOptions {
    reader?: ZoneReader;
    adopt: boolean;
    comment: string;
    stack: string;
    project: string;
    /** Tells the user what stays (old selectors) and what adoption replaces. */
    log?: (msg: string) => void;
    /** mailauth:importRecords: record resource name to `<zone id>/<record id>` it imports. */
    imports?: Record<string, string>;
}

/**
 * Finds and reads every domain's zone and refuses, with one message per problem, when a record the
 * stack does not manage sits at a name it publishes (unless adopted). Resolves to each domain's zone.
 */
export async function checkZones(plans: DomainPlan[], opts: CheckOptions): Promise<ZoneCheckResult[]> {
    const reader = opts.reader ?? providerReader;
    const log = opts.log ?? ((m: string) => pulumi.log.info(m));
    const problems: string[] = [];
    const results = await Promise.all(
        plans.map(async (plan): Promise<ZoneCheckResult | undefined> => {
            const zone = await resolveZone(plan, reader, problems);
            if (!zone) return undefined;
            let records: ZoneRecord[];
            try {
                records = await reader.recordsUnder(zone.id, plan.domain);
            } catch (e) {
                const refusal = apiRefusal(e);
                if (!refusal) throw e;
                problems.push(
                    `${plan.domain}: Cloudflare refused to list the DNS records of zone ${zone.name} (${zone.id}) (${refusal.status}: ${refusal.detail}): the API token needs Zone → DNS → Read to check the zone and ${DNS_EDIT} to publish: give it ${DNS_EDIT} on ${zone.name}`,
                );
                return undefined;
            }
            for (const t of plan.targets) {
                const id = opts.imports?.[t.resource];
                if (id === undefined) continue;
                const r = records.find((x) => `${zone.id}/${x.id}` === id);
                if (!r || !collides(t, r) || r.type !== t.type || (r.comment !== opts.comment && COMMENT_OF_ANY_STACK.test(r.comment ?? ""))) {
                    problems.push(
                        `mailauth:importRecords["${t.resource}"]: ${id} is not a record of zone ${zone.name} (${zone.id}) at ${t.name} that the stack's ${t.kind.toUpperCase()} record replaces: only a ${t.type} record the preview names, with its zone id, can be imported (a CNAME is not: the import would turn it into the stack's ${t.type}) (pulumi config rm --path 'mailauth:importRecords["${t.resource}"]' to drop it)`,
                    );
                } else if (r.comment === opts.comment) {
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
            const adopted = opts.adopt ? conflicts.filter((c) => c.adoptable) : [];
            for (const c of conflicts) if (!adopted.includes(c)) problems.push(c.message);
            for (const c of adopted) {
                log(`${plan.domain}: adoptRecords: ${describe(c.record)} is taken over by the stack's adopt step and replaced by its ${c.target.kind.toUpperCase()} record; pulumi destroy puts it back`);
            }
            const oldSelectors = [
                ...new Set(
                    records
                        .map((r) => fqdn(r.name))
                        .filter((n) => n.endsWith(dkimRecordName("", plan.domain)))
                        .map((n) => n.slice(0, -dkimRecordName("", plan.domain).length))
                        .filter((s) => !s.includes(".") && !plan.selectors.includes(s)),
                ),
            ];
            if (oldSelectors.length > 0) {
                log(`${plan.domain}: DKIM selector(s) ${oldSelectors.join(", ")} found in zone ${zone.name} are not managed by this stack and stay as they are`);
            }
            return { domain: plan.domain, zone, adopted };
        }),
    );
    if (problems.length > 0) throw new ZoneError(problems);
    return results as ZoneCheckResult[];
}

/**
 * After the adopt step: every record still in the way at the names it adopted was put there since
 * (the step runs when it is created or its inputs change, not on every run). Refused, to delete by hand.
 */
export async function checkAdopted(
    plan: DomainPlan,
    zone: ZoneRef,
    own: { comment: string; stack: string; project: string; imports?: Record<string, string> },
    reader: ZoneReader = providerReader,
): Promise<void> {
    const records = await reader.recordsUnder(zone.id, plan.domain);
    const left = findConflicts({ ...plan, targets: plan.targets.filter((t) => t.kind !== "dkim") }, zone, records, own);
    if (left.length > 0) {
        throw new ZoneError(
            left.map(
                (c) =>
                    `${c.domain}: ${describe(c.record)} was added at a name the stack adopted earlier (adoptRecords), and the adoption does not run again.\nWay out: delete it in Cloudflare (dashboard: ${zone.name} → DNS → Records); to keep its content, carry it into the stack's settings first.`,
            ),
        );
    }
}
