/**
 * MailDns: the mail records of one domain on Cloudflare: MX, SPF, a DKIM record per
 * published selector, DMARC, the MX host's A/AAAA and its own SPF record (the HELO check) when
 * this zone holds it, and the records that let other domains' DMARC reports come to report
 * addresses in this zone. Never proxied. NoMailDns: the records of one name that sends no mail
 * (mailauth:noMail), a component of its own whatever zone holds it.
 */
import * as pulumi from "@pulumi/pulumi";
import { dkimRecordName } from "./records/dkim";
import { dmarcRecordName, REPORT_AUTHORIZATION_VALUE, reportAuthorizationName } from "./records/dmarc";
import { spfRecordName } from "./records/spf";
import { NO_MAIL_DMARC_VALUE, NO_MAIL_SPF_VALUE, noMailDmarcName, NULL_MX } from "./records/nomail";
import { quoteTxt, unquoteTxt } from "./records/txt";
import * as command from "@pulumi/command";
import { AdoptTarget, adoptStep } from "./adoptRecords";
import { Target, TargetKind } from "./zone";
import { canonicalIpv6 } from "./ipv6";
import { DnsRecord, knownTopLevel } from "./providerResources";

export interface PublishedRecord {
    name: string;
    type: string;
    value: string;
}

export interface MailDnsArgs {
    domain: string;
    /** The zone, once the zone check (components/zone.ts) has passed: records wait for it. */
    zoneId: pulumi.Input<string>;
    ttl: number;
    /** Set on every record: how the zone check knows the stack's own records on the next run. */
    comment?: pulumi.Input<string>;
    /** adoptRecords: take over the records already at these names first (components/adoptRecords.ts). */
    adopt?: {
        targets: AdoptTarget[];
        /** The zone's name, once the zone check has found it. */
        zoneName: pulumi.Input<string>;
        /** This stack's comment, its comment from before it had an identity, and its identity (components/stackMarker.ts). */
        marker: pulumi.Input<string>;
        legacyMarker: string;
        markerId: pulumi.Input<string>;
        apiToken: pulumi.Input<string>;
        /** Called with the adopt step: the zone is checked again once it has run. */
        after: (step: command.local.Command) => void;
    };
    /**
     * mailauth:importRecords: the existing record a record resource (by its name, e.g.
     * `example.com-spf`) takes over, as `<zone id>/<record id>`: the `import` resource option, which
     * the engine imports and then updates to these inputs in one deployment (Pulumi CLI >= 3.174;
     * see components/zone.ts importCommand).
     */
    imports?: Record<string, string>;
    /** MX target and priority; omitted when the MX is managed elsewhere. */
    mx?: { hostname: string; priority: number };
    /** A/AAAA records of the MX host, when it lies in this zone. */
    mxAddresses?: { hostname: string; ipv4?: string; ipv6?: string };
    /** The MX host's own SPF record (the HELO check), at mxAddresses.hostname; omitted to publish none. */
    heloSpf?: string;
    /**
     * mailauth:hosts (list form; the fields above are then unset): per host its MX in this domain
     * (`<domain>-mx-<hostname>`), and its A/AAAA and HELO SPF when this zone holds it
     * (`-mx-a-<hostname>`, `-mx-aaaa-<hostname>`, `-mx-spf-<hostname>`). `legacy`: the first host of
     * the list, whose records alias the one host's names (`<domain>-mx`, `-mx-a`, ...), so a stack
     * moving from ssh+mx to hosts keeps them.
     */
    hosts?: HostRecords[];
    spf: string;
    /** DMARC value; omitted to publish none. */
    dmarc?: string;
    /**
     * Report addresses at `host`, in this zone, that other domains' DMARC records name: each gets
     * `<domain>._report._dmarc.<host>` TXT `v=DMARC1` (components/records/dmarc.ts reportAuthorizations).
     */
    reportAuthorizations?: { domain: string; host: string }[];
    /** DKIM TXT value per selector (active and previous, then revoked). */
    dkim: Record<string, pulumi.Input<string>>;
    /** Selectors of `dkim` published revoked (empty p=): their record takes that value, not the content it was created with. */
    revoked?: string[];
    /**
     * Selectors of `revoked` whose record changes to the empty p= only after `steps` (every signing
     * host's OpenDKIM step) have run in this deployment: the calendar's own revocations (not
     * revokeNow's), so that no host still signs with the key the record stops publishing. A host
     * whose step fails or is skipped holds the record back as it was (published with its key): the
     * SDK does not register a resource whose dependsOn failed, and the engine skips a step that
     * depends on a failed one (docs/several-hosts.md, "A host down across a rotation").
     */
    revokeAfter?: { selectors: string[]; steps: Promise<pulumi.Resource[]> };
}

/** One host's records in a domain's zone (MailDnsArgs.hosts). */
export interface HostRecords {
    hostname: string;
    /** Its MX priority, when it is an MX and the stack publishes MX (mx.publish). */
    mx?: number;
    /** Its A/AAAA, when this zone holds its name and the stack publishes them. */
    addresses?: { ipv4?: string; ipv6?: string };
    /** Its HELO SPF record (`v=spf1 a -all`), with addresses. */
    heloSpf?: string;
    /** The first host of the list: its records alias the one host's record names. */
    legacy: boolean;
}

interface RecordSpec {
    /** Suffix of the resource name: `<component>-<id>`. Names are state identity: keep them stable. */
    id: string;
    /** A former id (`<component>-<alias>`), named as an alias: the resource keeps that state. */
    alias?: string;
    kind: TargetKind;
    name: string;
    type: Target["type"];
    value: pulumi.Input<string>;
    priority?: number;
    selector?: string;
    /** A revoked selector's record: its content changes to the empty p=. */
    revoked?: boolean;
    /** Resources the record waits for (MailDnsArgs.revokeAfter). */
    after?: Promise<pulumi.Resource[]>;
}

/** The records of one domain, in the order they are registered. */
function recordSpecs(args: Omit<MailDnsArgs, "zoneId">): RecordSpec[] {
    const specs: RecordSpec[] = [];
    if (args.mx) specs.push({ id: "mx", kind: "mx", name: args.domain, type: "MX", value: args.mx.hostname, priority: args.mx.priority });
    if (args.mxAddresses?.ipv4) specs.push({ id: "mx-a", kind: "a", name: args.mxAddresses.hostname, type: "A", value: args.mxAddresses.ipv4 });
    if (args.mxAddresses?.ipv6)
        specs.push({ id: "mx-aaaa", kind: "aaaa", name: args.mxAddresses.hostname, type: "AAAA", value: canonicalIpv6(args.mxAddresses.ipv6) });
    if (args.mxAddresses && args.heloSpf) specs.push({ id: "mx-spf", kind: "helo", name: args.mxAddresses.hostname, type: "TXT", value: args.heloSpf });
    const hosts = args.hosts ?? [];
    const was = (h: HostRecords, id: string) => (h.legacy ? { alias: id } : {});
    for (const h of hosts) {
        if (h.mx !== undefined)
            specs.push({ id: `mx-${h.hostname}`, ...was(h, "mx"), kind: "mx", name: args.domain, type: "MX", value: h.hostname, priority: h.mx });
    }
    for (const h of hosts) {
        if (h.addresses?.ipv4) specs.push({ id: `mx-a-${h.hostname}`, ...was(h, "mx-a"), kind: "a", name: h.hostname, type: "A", value: h.addresses.ipv4 });
        if (h.addresses?.ipv6)
            specs.push({
                id: `mx-aaaa-${h.hostname}`,
                ...was(h, "mx-aaaa"),
                kind: "aaaa",
                name: h.hostname,
                type: "AAAA",
                value: canonicalIpv6(h.addresses.ipv6),
            });
        if (h.addresses && h.heloSpf)
            specs.push({ id: `mx-spf-${h.hostname}`, ...was(h, "mx-spf"), kind: "helo", name: h.hostname, type: "TXT", value: h.heloSpf });
    }
    specs.push({ id: "spf", kind: "spf", name: spfRecordName(args.domain), type: "TXT", value: args.spf });
    for (const [selector, value] of Object.entries(args.dkim)) {
        specs.push({
            id: `dkim-${selector}`,
            kind: "dkim",
            name: dkimRecordName(selector, args.domain),
            type: "TXT",
            value,
            selector,
            ...(args.revoked?.includes(selector) ? { revoked: true } : {}),
            ...(args.revokeAfter?.selectors.includes(selector) ? { after: args.revokeAfter.steps } : {}),
        });
    }
    if (args.dmarc) specs.push({ id: "dmarc", kind: "dmarc", name: dmarcRecordName(args.domain), type: "TXT", value: args.dmarc });
    // `<zone domain>-dmarc-report-<domain>`, with `-<host>` when the address is at a subdomain of this zone's domain.
    for (const { domain, host } of args.reportAuthorizations ?? []) {
        const id = host === args.domain ? `dmarc-report-${domain}` : `dmarc-report-${domain}-${host}`;
        specs.push({ id, kind: "report", name: reportAuthorizationName(domain, host), type: "TXT", value: REPORT_AUTHORIZATION_VALUE });
    }
    return specs;
}

/** What the zone check compares with the zone: the records a MailDns named `name` will publish. */
export function mailDnsTargets(name: string, args: Omit<MailDnsArgs, "zoneId">): Target[] {
    return targetsOf(name, recordSpecs(args));
}

function targetsOf(name: string, specs: RecordSpec[]): Target[] {
    return specs.map((s) => ({
        kind: s.kind,
        name: s.name,
        type: s.type,
        resource: `${name}-${s.id}`,
        // Known now: every value but a DKIM key the stack makes; a revoked selector's empty p= is not
        // a key to compare (a DKIM target with a value is one whose key the user gives, components/zone.ts).
        value: typeof s.value === "string" && !s.revoked ? s.value : undefined,
        priority: s.priority,
    }));
}

/** A record's dependsOn: the adopt step, if any; for a calendar-revoked one also every signing host's OpenDKIM step (MailDnsArgs.revokeAfter). */
function dependsOnOf(spec: RecordSpec, adopt: command.local.Command | undefined): pulumi.Input<pulumi.Input<pulumi.Resource>[]> {
    const first: pulumi.Resource[] = adopt ? [adopt] : [];
    return spec.after ? spec.after.then((steps) => [...first, ...steps]) : first;
}

/** What a set of records needs from the zone check: zone, comment, adoption, imports. */
type ZoneInputs = Pick<MailDnsArgs, "zoneId" | "ttl" | "comment" | "adopt" | "imports">;

/**
 * Makes the records of `specs` as children of `parent`, each `<name>-<id>`, after the adopt step
 * `<name>-adopt` when adoptRecords is on; returns the DKIM records by selector and what is published.
 */
function makeRecords(parent: pulumi.ComponentResource, name: string, specs: RecordSpec[], args: ZoneInputs) {
    const published: pulumi.Input<PublishedRecord>[] = [];
    const ids: pulumi.Output<string>[] = [];
    const adopt = args.adopt ? adoptStep(`${name}-adopt`, { zoneId: args.zoneId, ...args.adopt }, { parent }) : undefined;
    if (adopt) args.adopt!.after(adopt);
    const dkimRecords: Record<string, DnsRecord> = {};
    for (const spec of specs) {
        // A value known now is sent as it is: an Output per record (two, with its apply) is SDK work
        // at every run, 4,000 of them at 1,000 domains, for the same input.
        const content =
            spec.type !== "TXT"
                ? spec.value
                : typeof spec.value === "string"
                  ? quoteTxt(spec.value)
                  : (pulumi.Output.isInstance(spec.value) ? spec.value : pulumi.output(spec.value)).apply(quoteTxt);
        const r = new DnsRecord(
            `${name}-${spec.id}`,
            {
                zoneId: args.zoneId,
                name: spec.name,
                type: spec.type,
                content,
                ttl: args.ttl,
                proxied: false,
                priority: spec.priority,
                comment: args.comment,
            },
            // A published key never changes while its selector is live (see DkimKey): a DKIM
            // record keeps the content it was created with, whatever key the stack holds later.
            {
                parent,
                dependsOn: dependsOnOf(spec, adopt),
                // A revoked one changes to the empty p= (the key it carried is the one being revoked).
                ignoreChanges: spec.selector !== undefined && !spec.revoked ? ["content"] : [],
                // A host's record of mailauth:hosts keeps the state of the one host's record (ssh+mx) it was.
                ...(spec.alias ? { aliases: [{ name: `${name}-${spec.alias}` }] } : {}),
                // A DKIM record is imported only with the user's key (mailauth:dkimKeys: the value is known now).
                ...((spec.selector === undefined || (typeof spec.value === "string" && !spec.revoked)) && args.imports?.[`${name}-${spec.id}`]
                    ? { import: args.imports[`${name}-${spec.id}`] }
                    : {}),
            },
        );
        // A DKIM record shows what it publishes, the content kept in state (it ignores changes),
        // not the key the stack holds now: after `pulumi up --replace` on a key they differ.
        const publish = (v: string): PublishedRecord => ({ name: spec.name, type: spec.type, value: v });
        published.push(
            spec.selector !== undefined
                ? r.content.apply((c) => publish(unquoteTxt(c)))
                : typeof spec.value === "string"
                  ? publish(spec.value)
                  : pulumi.output(spec.value).apply(publish),
        );
        ids.push(r.id);
        if (spec.selector !== undefined) dkimRecords[spec.selector] = r;
    }
    return { dkimRecords, records: pulumi.all(published), ids };
}

const MAIL_DNS_TYPE = "mailauth:dns:MailDns";
const NO_MAIL_DNS_TYPE = "mailauth:dns:NoMail";

export class MailDns extends pulumi.ComponentResource {
    /** The DKIM record of each selector, by selector. */
    public readonly dkimRecords: Record<string, DnsRecord>;
    /** Every record this component publishes: name, type and value (TXT values unquoted; a DKIM value as published). */
    public readonly records: pulumi.Output<PublishedRecord[]>;
    /**
     * Each record's id, known once it exists: `records` is not, its values but DKIM's are the inputs
     * (components/check waits for these; combined there, only when it runs).
     */
    public readonly ids: pulumi.Output<string>[];

    constructor(name: string, args: MailDnsArgs, opts?: pulumi.ComponentResourceOptions) {
        super(MAIL_DNS_TYPE, name, {}, opts);
        if (!opts?.parent) knownTopLevel(this, MAIL_DNS_TYPE);
        const made = makeRecords(this, name, recordSpecs(args), args);
        this.dkimRecords = made.dkimRecords;
        this.records = made.records;
        this.ids = made.ids;
        this.registerOutputs({ records: this.records });
    }
}

/** One name of mailauth:noMail, as NoMailDns publishes it. */
export interface NoMailArgs extends ZoneInputs {
    /** The name, normalized (components/settings.ts readNoMail). */
    name: string;
    /** Also the null MX (RFC 7505). */
    nullMx: boolean;
}

/** The component of a no-mail name: `nomail-<name>`; its records `nomail-<name>-spf`, `-dmarc`, `-mx` (state identity: keep them). */
export function noMailComponentName(name: string): string {
    return `nomail-${name}`;
}

/** The records of a no-mail name, in the order they are registered. */
function noMailSpecs(args: Pick<NoMailArgs, "name" | "nullMx">): RecordSpec[] {
    return [
        { id: "spf", kind: "nomail-spf", name: args.name, type: "TXT", value: NO_MAIL_SPF_VALUE },
        { id: "dmarc", kind: "nomail-dmarc", name: noMailDmarcName(args.name), type: "TXT", value: NO_MAIL_DMARC_VALUE },
        ...(args.nullMx
            ? [{ id: "mx", kind: "nomail-mx" as const, name: args.name, type: "MX" as const, value: NULL_MX.content, priority: NULL_MX.priority }]
            : []),
    ];
}

/** What the zone check compares with the zone for a no-mail name. */
export function noMailTargets(args: Pick<NoMailArgs, "name" | "nullMx">): Target[] {
    return targetsOf(noMailComponentName(args.name), noMailSpecs(args));
}

/** The records of one name that sends no mail: `v=spf1 -all`, `_dmarc` `v=DMARC1; p=reject`, optionally `MX 0 .`. */
export class NoMailDns extends pulumi.ComponentResource {
    /** Every record this component publishes: name, type and value (TXT values unquoted). */
    public readonly records: pulumi.Output<PublishedRecord[]>;

    constructor(name: string, args: NoMailArgs, opts?: pulumi.ComponentResourceOptions) {
        super(NO_MAIL_DNS_TYPE, name, {}, opts);
        if (!opts?.parent) knownTopLevel(this, NO_MAIL_DNS_TYPE);
        this.records = makeRecords(this, name, noMailSpecs(args), args).records;
        this.registerOutputs({ records: this.records });
    }
}
