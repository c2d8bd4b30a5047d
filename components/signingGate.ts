/**
 * The signing gate of the rotation calendar: a domain's new selector signs only once (1) its record
 * was already in the zone when the run started (published by an earlier run) and Cloudflare made it
 * at least a day before (NEGATIVE_CACHE_MAX_SECONDS: any absence cached before it existed has
 * expired), and (2) the resolvers
 * of `mailauth:check.resolvers` (the system's when empty: what components/check asks) answer its
 * name with its key, so that no resolver can have the name cached as missing, or serve an older
 * record, when the first mail signed with it arrives. Until then the selector that signed before it
 * keeps signing (it is still published, with its key on the host), and a later `pulumi up` switches.
 *
 * (1) is Cloudflare's view: the zone check's listing of the zone at the start of the run
 * (components/zone.ts checkDomain, `dkimInZone`, `dkimCreatedOn`: the API's created_on): a TXT
 * record at the selector's name that carries this stack's comment (components/stackMarker.ts isOwn)
 * and a non-empty p=. (2) is a resolver's
 * view, asked at program time (preview and up) only on a day the gate decides: the active selector's
 * record is in the zone and the one before it could still sign. A name cached as missing expires
 * with the zone's negative TTL (RFC 2308 5); a resolver that answers the key has it, or has nothing
 * cached against it. When DNS cannot be asked (no network, a refusing resolver), the gate holds and
 * says why: signing with a key nobody has seen is what it is there to prevent.
 *
 * The gate holds at most until `holdUntil` (components/rotation.ts: `retire` days after the period
 * starts): the previous selector stays published with its key `retire` days after that, so a message
 * it signed just before the switch verifies for `retire` days whichever day the gate opened. Past it,
 * a selector whose record is in Cloudflare's zone signs even if the resolvers do not serve it yet,
 * and the run says so: holding longer would shorten the overlap of the old key instead.
 *
 * Manual domains are not gated: their `selector` signs in the run that publishes it, as before.
 */
import * as pulumi from "@pulumi/pulumi";
import { makeResolver, Resolve } from "./check/index";
import { dkimPublicKey, dkimRecordName } from "./records/dkim";
import { dayOf, dayText, RotationPlan } from "./rotation";
import { DomainSettings } from "./settings";
import { ZoneCheckResult } from "./zone";

/** What the resolvers answer for the new selector's name, compared with its key. */
export type DnsView =
    | { seen: "key" }
    | { seen: "other"; keys: string[] }
    | { seen: "none" }
    /** DNS could not be asked: the resolver's error (ETIMEOUT, ECONNREFUSED, ESERVFAIL, ...). */
    | { seen: "error"; error: string };

export interface Gate {
    /** The selector that signs this run. */
    selector: string;
    /** The calendar's active selector, when the gate holds it back. */
    held?: string;
    /** Why it holds, or why it no longer does (past holdUntil). */
    why?: string;
    /** Set past holdUntil: the new selector signs although the resolvers did not show its key. */
    late?: boolean;
}

/** The reason a DNS view is not a go, as a message says it. */
export function dnsReason(name: string, view: DnsView | undefined): string {
    if (view === undefined) return `the resolvers were not asked for ${name}`;
    switch (view.seen) {
        case "key":
            return `the resolvers answer ${name} with its key`;
        case "other":
            return `the resolvers answer ${name} with another key (p=${view.keys.map((k) => (k === "" ? "(empty)" : `${k.slice(0, 12)}…`)).join(", p=")}): an older record is still cached or served`;
        case "none":
            return `the resolvers do not answer ${name} with a DKIM record yet (a cached absence lasts the zone's negative TTL, RFC 2308 5)`;
        case "error":
            return `DNS could not be asked for ${name} (${view.error}): the gate cannot see that resolvers have the key`;
    }
}

/** The resolvers' view of the TXT at `name`, compared with `key` (the p= the record publishes). */
export async function askDns(resolve: Resolve, name: string, key: string): Promise<DnsView> {
    let records: string[][];
    try {
        records = await resolve(name, "TXT");
    } catch (e: any) {
        // Node's codes (dns.promises): ENOTFOUND is NXDOMAIN, ENODATA a name without TXT.
        if (e?.code === "ENOTFOUND" || e?.code === "ENODATA") return { seen: "none" };
        return { seen: "error", error: String(e?.code ?? e?.message ?? e) };
    }
    const keys = records.map((r) => r.join("")).map(dkimPublicKey);
    if (keys.length === 0) return { seen: "none" };
    // One record, with this key: two TXT records at a selector's name make receivers fail (RFC 6376 3.6.2.2 leaves it to them).
    return keys.length === 1 && keys[0] === key ? { seen: "key" } : { seen: "other", keys };
}

/** The selector the calendar says signs, the one that signed before it, and when the gate must open. */
function gateOf(plan: RotationPlan): { active: string; before?: string } | undefined {
    const active = plan.stages.find((s) => s.stage === "active")!;
    // revokeNow made it sign early: an emergency, it signs at once.
    if (active.emergency) return undefined;
    const before = plan.stages.filter((s) => s.stage === "retiring").pop()?.selector;
    return { active: active.selector, before };
}

/**
 * The longest a resolver keeps a negative answer from a Cloudflare zone: RFC 2308 5 caps it at the
 * SOA's MINIMUM (and the SOA's own TTL), and Cloudflare's `soa.min_ttl` ("The time to live (TTL) for
 * negative caching of records within the zone") is at most 86400 (Cloudflare API reference, DNS
 * Settings, Show DNS Settings, zone `soa.min_ttl`: minimum 60, maximum 86400). A record Cloudflare
 * made that long before the run has outlived any absence cached before it existed, whatever the
 * zone's SOA says.
 */
export const NEGATIVE_CACHE_MAX_SECONDS = 86_400;

/** What the run knows of the new selector's record: the zone check's listing, and the resolvers' answer if asked. */
export interface Seen {
    /** Selectors whose record of this stack, with a key, the listing holds (ZoneCheckResult.dkimInZone). */
    inZone: readonly string[];
    /** When Cloudflare made each (ZoneCheckResult.dkimCreatedOn, by lower-case selector). */
    createdOn?: Record<string, string | undefined>;
    dns?: DnsView;
}

/** Why the new selector may not sign yet on Cloudflare's side, or undefined when it may. `now`: ms since the epoch. */
function zoneReason(selector: string, seen: Seen, now: number): string | undefined {
    if (!seen.inZone.some((s) => s.toLowerCase() === selector.toLowerCase())) return `its record was not in Cloudflare's zone when the run started`;
    const created = seen.createdOn?.[selector.toLowerCase()];
    const at = created === undefined ? NaN : Date.parse(created);
    if (Number.isNaN(at)) return `Cloudflare's listing does not say when its record was made (created_on)`;
    if (now - at < NEGATIVE_CACHE_MAX_SECONDS * 1000) {
        return `Cloudflare made its record at ${new Date(at).toISOString()}, less than ${NEGATIVE_CACHE_MAX_SECONDS} s (the longest negative caching of a Cloudflare zone, RFC 2308 5) before ${new Date(now).toISOString()}: a resolver may still hold its absence`;
    }
    return undefined;
}

/** Whether, on this run, the gate's decision depends on what the resolvers answer (only then are they asked). */
export function needsDns(domain: Pick<DomainSettings, "selector" | "rotation">, seen: Seen, now: number): boolean {
    const g = domain.rotation && gateOf(domain.rotation);
    return (
        g !== undefined &&
        g.before !== undefined &&
        seen.inZone.some((s) => s.toLowerCase() === g.before!.toLowerCase()) &&
        zoneReason(g.active, seen, now) === undefined
    );
}

/**
 * The selector that signs this run: the calendar's active one if its record (this stack's, with a
 * key) was in the zone when the run started, made at least NEGATIVE_CACHE_MAX_SECONDS before `now`,
 * and the resolvers answer its key; else the one that signed before it (the newest retiring
 * selector) if the zone holds that one's, until holdUntil (past it, once the record is in the zone,
 * the active one signs and the run warns); else the active one anyway (nothing published can sign:
 * a new stack, or the old key revoked). `now`: the calendar's now, ms since the epoch (settings.now).
 */
export function gatedSelector(domain: Pick<DomainSettings, "name" | "selector" | "rotation">, seen: Seen, now: number): Gate {
    const g = domain.rotation && gateOf(domain.rotation);
    if (!domain.rotation || !g) return { selector: domain.selector };
    const fallback = g.before !== undefined && seen.inZone.some((s) => s.toLowerCase() === g.before!.toLowerCase()) ? g.before : undefined;
    if (!fallback) return { selector: g.active };
    const inZone = seen.inZone.some((s) => s.toLowerCase() === g.active.toLowerCase());
    const why = zoneReason(g.active, seen, now) ?? (seen.dns?.seen === "key" ? undefined : dnsReason(dkimRecordName(g.active, domain.name), seen.dns));
    if (why === undefined) return { selector: g.active };
    // Past holdUntil a selector in the zone signs: holding on would shorten the old key's overlap instead.
    const by = domain.rotation.gateOpensBy;
    if (inZone && by !== undefined && dayOf(now) >= by) return { selector: g.active, late: true, why };
    return { selector: fallback, held: g.active, why };
}

export interface GateOptions {
    /** The calendar's now (settings.now), ms since the epoch. */
    now: number;
    /** Per domain, the active selector's record value (its content): its p= is what DNS must answer. */
    activeValues: Record<string, pulumi.Input<string>>;
    /** How DNS is asked: the check's resolvers (mailauth:check.resolvers). */
    resolve?: Resolve;
    resolvers?: readonly string[];
}

/** Per domain on a calendar, the selector that signs this run, once the zone check has read the zones; undefined when none is on one. */
export function signingSelectors(
    domains: DomainSettings[],
    checked: pulumi.Output<ZoneCheckResult[]>,
    opts: GateOptions,
): pulumi.Output<Record<string, string>> | undefined {
    if (!domains.some((d) => d.rotation)) return undefined;
    const resolve = opts.resolve ?? makeResolver(opts.resolvers ?? []);
    return checked.apply((results) => {
        const seen = (d: DomainSettings): Seen => {
            const r = results.find((x) => x.domain === d.name);
            return { inZone: r?.dkimInZone ?? [], createdOn: r?.dkimCreatedOn };
        };
        // The key each asked name must carry: an Output only for the domains the resolvers are asked about.
        const asked = domains.filter((d) => needsDns(d, seen(d), opts.now));
        const values = pulumi.all(Object.fromEntries(asked.map((d) => [d.name, pulumi.output(opts.activeValues[d.name])])));
        return values.apply(async (byDomain: Record<string, string>) => {
            const views = Object.fromEntries(
                await Promise.all(
                    asked.map(async (d) => [d.name, await askDns(resolve, dkimRecordName(d.selector, d.name), dkimPublicKey(byDomain[d.name] ?? ""))] as const),
                ),
            );
            return Object.fromEntries(
                domains.map((d) => {
                    const gate = gatedSelector(d, { ...seen(d), dns: views[d.name] }, opts.now);
                    if (gate.held) {
                        pulumi.log.info(
                            `${d.name}: ${gate.held} does not sign yet: ${gate.why}; ${gate.selector} keeps signing (published with its key), and a later pulumi up switches once it is seen`,
                        );
                    } else if (gate.late) {
                        pulumi.log.warn(
                            `${d.name}: ${gate.selector} signs from this run although ${gate.why}: the signing gate holds a new key at most retire days after its period starts (until ${dayText(d.rotation!.gateOpensBy!)}), so that the one before it stays published ${d.rotation!.retire} day(s) after it stopped signing`,
                        );
                    }
                    return [d.name, gate.selector];
                }),
            );
        });
    });
}
