/**
 * One mail domain's resource family, its parts returned together (as pulumi-eks's createCluster
 * returns a cluster's): a DKIM key per installed selector, the domain's records on Cloudflare, and
 * what the host needs from it (its private keys with their published records, its DKIM records, the
 * value its active selector publishes).
 *
 * Built in two steps, because the zone check (components/zoneGate.ts) compares every domain's
 * records with its zone before any record is made: `planMailDomains` makes every domain's keys and
 * says what each will publish; each plan's `publish` then makes that domain's records with what
 * the check gives it. Registration order is that of index.ts before this file existed: every key
 * (domain by domain, active selector first), then every MailDns.
 *
 * Resource names are state identity (test/unit/identity.test.ts): a key is `<domain>-<selector>`,
 * the records' component `<domain>`; both top-level, as before.
 */
import * as pulumi from "@pulumi/pulumi";
import { DkimKey, warnKeptKey } from "./dkimKey";
import type { DnsRecord } from "./providerResources";
import { installedSelectors } from "./hostFiles";
import { HostRecords, MailDns, MailDnsArgs, noMailComponentName, NoMailDns } from "./mailDns";
import type { DkimKeyInput } from "./mailHost";
import { DomainSettings, hostOwnSelectors, reportAuthorizationsOf, Settings, userKeyId, zoneFor } from "./settings";
import { HELO_SPF_VALUE } from "./records/spf";
import { unquoteTxt } from "./records/txt";
import { REVOKED_DKIM_VALUE } from "./records/dkim";

/** A domain's records as the zone check sees them: all of MailDnsArgs but what the check gives. */
export type PlannedRecords = Omit<MailDnsArgs, "zoneId">;
/** What the zone check gives one domain's records (zoneGate's `dnsArgs(domain)`). */
export type ZoneArgs = Pick<MailDnsArgs, "zoneId" | "comment" | "adopt" | "imports">;

export interface MailDomain {
    name: string;
    /** Its DKIM key per installed selector (active and previous). */
    keys: Record<string, DkimKey>;
    /** Its records on Cloudflare. */
    dns: MailDns;
    /** Its private keys for the relays that share them, one per installed selector, active first, each with its record as published. */
    hostKeys: DkimKeyInput[];
    /**
     * Its DKIM TXT records but those of the hosts' own selectors and those the calendar revokes this
     * run (they wait for the hosts): OpenDKIM switches signing only once they exist.
     */
    dkimRecords: DnsRecord[];
    /** The DKIM value its active selector publishes: the host's key test reruns when it changes. */
    activeDkimValue: pulumi.Output<string>;
    /**
     * A relay with its own selector (mailauth:hosts[i].selector): its keys (`selectors`: its active
     * one first, then its previousSelectors), their records, and its active selector's value as published.
     */
    ownKeys(selectors: readonly string[]): { hostKeys: DkimKeyInput[]; dkimRecords: DnsRecord[]; activeDkimValue: pulumi.Output<string> };
}

export interface PlannedMailDomain {
    name: string;
    keys: Record<string, DkimKey>;
    /** What it will publish, for the zone check. */
    records: PlannedRecords;
    /**
     * Makes its records, once the zone check has given what they need; returns the whole family.
     * `signingSteps`: every signing host's OpenDKIM step (resolved once the hosts are made), which
     * the records the calendar revokes this run wait for (MailDnsArgs.revokeAfter).
     */
    publish(zone: ZoneArgs, signingSteps?: Promise<pulumi.Resource[]>): MailDomain;
}

/**
 * The keys and planned records of one domain; `mxZone`: the domain whose zone holds the MX host, if
 * published; `reports`: the report authorizations this domain's zone holds (settings.ts reportAuthorizationsOf).
 */
export function planMailDomain(
    domain: DomainSettings,
    settings: Settings,
    mxZone: string | undefined,
    reports: PlannedRecords["reportAuthorizations"] = [],
): PlannedMailDomain {
    // The hosts' own selectors are selectors of the domain like any other: a key `<domain>-<selector>`
    // each, a record `<domain>-dkim-<selector>` each (after the domain's own, in the hosts' order).
    const shared = installedSelectors(domain);
    const own = hostOwnSelectors(settings.hosts);
    const selectors = [...shared, ...own];
    const keys: Record<string, DkimKey> = {};
    const dkim: Record<string, pulumi.Input<string>> = {};
    for (const selector of selectors) {
        // The user's own key (mailauth:dkimKeys): its record value is known now, so the zone check
        // compares it with what the selector publishes (components/zone.ts findConflicts).
        const userKey = settings.dkimKeys[userKeyId(domain.name, selector)];
        const key = new DkimKey(`${domain.name}-${selector}`, { bits: domain.keyBits, userKey });
        keys[selector] = key;
        dkim[selector] = userKey ? userKey.recordValue : key.recordValue;
    }
    // A revoked selector has no key (its DkimKey leaves the state) and publishes the empty p=. An
    // Output, as a key's value is: the zone check compares no DKIM value (it would flag the change).
    const revoked = domain.revokedSelectors ?? [];
    for (const selector of revoked) dkim[selector] = pulumi.output(REVOKED_DKIM_VALUE);
    // Those the calendar revokes (revokeNow's are revoked at once, a leaked key): their record waits for the
    // signing hosts' OpenDKIM steps, so the hosts must not wait for it (that would be a cycle).
    const waiting = (domain.rotation?.stages ?? []).filter((s) => s.stage === "revoked" && !s.emergency).map((s) => s.selector);
    const records: PlannedRecords = {
        domain: domain.name,
        ttl: settings.ttl,
        ...(settings.hostList
            ? { hosts: hostRecords(domain, settings) }
            : {
                  mx: settings.mx.publish ? { hostname: settings.mx.hostname, priority: settings.mx.priority } : undefined,
                  mxAddresses: mxZone === domain.name ? settings.mx : undefined,
                  // At the MX host name, in the zone that holds it, unless that name is a domain (its own SPF record is there):
                  // a host name that is a configured domain is its own zone (zoneFor: the longest match), so it is this one.
                  heloSpf: mxZone === domain.name && settings.mx.heloSpf && settings.mx.hostname !== domain.name ? HELO_SPF_VALUE : undefined,
              }),
        spf: settings.spf.record,
        dmarc: settings.dmarc.enabled ? settings.dmarc.record : undefined,
        ...(reports.length > 0 ? { reportAuthorizations: reports } : {}),
        dkim,
        ...(revoked.length > 0 ? { revoked } : {}),
    };
    return {
        name: domain.name,
        keys,
        records,
        publish(zone: ZoneArgs, signingSteps?: Promise<pulumi.Resource[]>): MailDomain {
            const dns = new MailDns(domain.name, {
                ...records,
                ...zone,
                ...(signingSteps && waiting.length > 0 ? { revokeAfter: { selectors: waiting, steps: signingSteps } } : {}),
            });
            const ownSet = new Set(own);
            const waitSet = new Set(waiting);
            const hostKey = (selector: string): DkimKeyInput => ({
                domain: domain.name,
                selector,
                privateKeyPem: keys[selector].privateKeyPem,
                recordValue: keys[selector].recordValue,
                published: dns.dkimRecords[selector].content,
            });
            // A live selector keeps its key whatever config or state now hold for it: say so (see DkimKey).
            for (const selector of selectors) {
                // A user's key has the size it has: keyBits is for the keys the stack makes.
                const userKey = settings.dkimKeys[userKeyId(domain.name, selector)];
                warnKeptKey(domain.name, selector, userKey?.bits ?? domain.keyBits, keys[selector], dns.dkimRecords[selector].content);
            }
            return {
                name: domain.name,
                keys,
                dns,
                // With each key, the DKIM record as published: the host installs only the key it publishes.
                hostKeys: shared.map(hostKey),
                // Without the hosts' own: a relay on the shared keys waits for nothing of theirs (as before they existed).
                // Without those the calendar revokes: they wait for the hosts (MailDnsArgs.revokeAfter).
                dkimRecords: Object.entries(dns.dkimRecords)
                    .filter(([selector]) => !ownSet.has(selector) && !(signingSteps && waitSet.has(selector)))
                    .map(([, r]) => r),
                // As published (the record's content), not the key the state holds: they differ after --replace on a key.
                activeDkimValue: dns.dkimRecords[domain.selector].content.apply(unquoteTxt),
                ownKeys: (mine) => ({
                    hostKeys: mine.map(hostKey),
                    dkimRecords: mine.map((selector) => dns.dkimRecords[selector]),
                    activeDkimValue: dns.dkimRecords[mine[0]].content.apply(unquoteTxt),
                }),
            };
        },
    };
}

/**
 * mailauth:hosts: each host's records in this domain's zone: its MX (every domain, when it is an MX
 * and mx.publish), its A/AAAA and HELO SPF where this zone holds its name (as the one host's, above).
 */
function hostRecords(domain: DomainSettings, settings: Settings): HostRecords[] {
    return settings.hosts.map((h, i) => {
        // As for the one host (planMailDomains' mxZone): the zone that holds the name, with mx.publish.
        const here = settings.mx.publish && zoneFor(h.hostname, settings.domains)?.name === domain.name;
        return {
            hostname: h.hostname,
            ...(settings.mx.publish && h.mxPriority !== undefined ? { mx: h.mxPriority } : {}),
            ...(here ? { addresses: { ipv4: h.ipv4, ipv6: h.ipv6 } } : {}),
            ...(here && settings.mx.heloSpf && h.hostname !== domain.name ? { heloSpf: HELO_SPF_VALUE } : {}),
            legacy: i === 0,
        };
    });
}

/** Every domain's keys and planned records, in the settings' order. */
export function planMailDomains(settings: Settings): PlannedMailDomain[] {
    const mxZone = settings.mx.publish ? zoneFor(settings.mx.hostname, settings.domains)?.name : undefined;
    // Each authorization goes to the zone that holds its report address (another domain's, or this one's for another domain).
    const reports = new Map<string, { domain: string; host: string }[]>();
    for (const { zone, domain: d, host } of reportAuthorizationsOf(settings)) (reports.get(zone) ?? reports.set(zone, []).get(zone)!).push({ domain: d, host });
    return settings.domains.map((domain) => planMailDomain(domain, settings, mxZone, reports.get(domain.name) ?? []));
}

/** A name of mailauth:noMail, planned: its component's name and position, and how to publish it. */
export interface PlannedNoMail {
    name: string;
    nullMx: boolean;
    /** `nomail-<name>` (components/mailDns.ts noMailComponentName). */
    component: string;
    /** Its position in mailauth:noMail, for the commands in messages. */
    index: number;
    /** The configured domain whose zone holds it, if any (its zone is found by name otherwise). */
    zoneDomain?: DomainSettings;
    /** Makes its records (a NoMailDns), once the zone check has given what they need. */
    publish(zone: ZoneArgs): NoMailDns;
}

/** Every name of mailauth:noMail, in the settings' order; each a component of its own, whatever zone holds it. */
export function planNoMail(settings: Settings): PlannedNoMail[] {
    return settings.noMail.map((n, index) => ({
        name: n.name,
        nullMx: n.nullMx,
        component: noMailComponentName(n.name),
        index,
        zoneDomain: zoneFor(n.name, settings.domains),
        publish: (zone: ZoneArgs) => new NoMailDns(noMailComponentName(n.name), { name: n.name, nullMx: n.nullMx, ttl: settings.ttl, ...zone }),
    }));
}
