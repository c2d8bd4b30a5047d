/**
 * The signing gate of the rotation calendar: a domain's new selector signs only once its record was
 * already in the zone when the run started (published by an earlier run), so that no resolver can
 * have the name cached as missing when the first mail signed with it arrives. Until then the
 * selector that signed before it keeps signing (it is still published, with its key on the host:
 * the calendar keeps it `retire` days), and the next `pulumi up` switches.
 *
 * What "in the zone" means: the zone check's listing of the zone at the start of the run
 * (components/zone.ts checkDomain, `dkimInZone`): a TXT record at the selector's name that carries
 * this stack's comment (components/stackMarker.ts isOwn) and a non-empty p=. That is Cloudflare's
 * view, not a resolver's: the record has been served since that earlier run, which is what the
 * gate needs (a name cached as missing expires with the zone's negative TTL, RFC 2308 5).
 *
 * Manual domains are not gated: their `selector` signs in the run that publishes it, as before.
 */
import * as pulumi from "@pulumi/pulumi";
import { DomainSettings } from "./settings";
import { ZoneCheckResult } from "./zone";

/**
 * The selector that signs this run: the calendar's active one if the zone already holds its record,
 * else the one that signed before it (the newest retiring selector) if the zone holds that one's;
 * else the active one anyway (nothing published can sign: a new stack, or the old key revoked).
 */
export function gatedSelector(domain: DomainSettings, inZone: readonly string[]): { selector: string; held?: string } {
    const zone = new Set(inZone.map((s) => s.toLowerCase()));
    // revokeNow made it sign early: an emergency, it signs at once.
    const early = domain.rotation?.stages.find((s) => s.stage === "active")?.emergency === true;
    if (!domain.rotation || early || zone.has(domain.selector.toLowerCase())) return { selector: domain.selector };
    const before = domain.rotation.stages.filter((s) => s.stage === "retiring").pop();
    if (before && zone.has(before.selector.toLowerCase())) return { selector: before.selector, held: domain.selector };
    return { selector: domain.selector };
}

/**
 * Per domain on a calendar, the selector that signs this run, once the zone check has read the zones
 * (its results by domain: zoneGate's `byDomain`); undefined when none is on one.
 */
export function signingSelectors(
    domains: DomainSettings[],
    checked: pulumi.Output<ReadonlyMap<string, Pick<ZoneCheckResult, "dkimInZone">>>,
): pulumi.Output<Record<string, string>> | undefined {
    if (!domains.some((d) => d.rotation)) return undefined;
    return checked.apply((results) =>
        Object.fromEntries(
            domains.map((d) => {
                const gate = gatedSelector(d, results.get(d.name)?.dkimInZone ?? []);
                if (gate.held) {
                    pulumi.log.info(
                        `${d.name}: ${gate.held} is published in this run and signs from the next pulumi up, once its record was in the zone before the run started; ${gate.selector} keeps signing until then`,
                    );
                }
                return [d.name, gate.selector];
            }),
        ),
    );
}
