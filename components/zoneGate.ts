/**
 * Joins the zone check to the program: every DNS record takes its zone id from the check, and the
 * host's connection waits for it, so a refused check changes nothing, at preview or at up.
 */
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { adoptTargets } from "./adoptRecords";
import { MailDnsArgs, mailDnsTargets, noMailTargets } from "./mailDns";
import type { PlannedNoMail } from "./mailDomain";
import { Settings, SettingsError } from "./settings";
import { show } from "./validate/show";
import { readImportRecordsShape } from "./validate/imports";
import { identityId, ownMarker } from "./stackMarker";
import { checkAdopted, checkZones, DomainPlan, resultsByDomain, ZoneCheckResult, ZoneRef } from "./zone";

/**
 * The stack's identity (components/stackMarker.ts): a key made once per state, whose id leads every
 * record's comment. Never replaced: its inputs ignore changes (a replacement would make every record
 * of the stack look like another stack's).
 */
function stackIdentity(): pulumi.Output<string> {
    const key = new tls.PrivateKey("mailauth-identity", { algorithm: "RSA", rsaBits: 2048 }, { ignoreChanges: ["algorithm", "rsaBits", "ecdsaCurve"] });
    return key.publicKeyPem.apply(identityId);
}

/**
 * An Output's value, or undefined while it is unknown (at a preview that creates its resource). apply()
 * would skip an unknown value altogether, and the zone check must run at every preview: this reads the
 * Output's own isKnown and promise (@pulumi/pulumi 3.276 output.js:94-96, OutputImpl).
 */
async function valueOrUnknown<T>(o: pulumi.Output<T>): Promise<T | undefined> {
    const impl = o as unknown as { isKnown: Promise<boolean>; promise(): Promise<T> };
    return (await impl.isKnown) ? impl.promise() : undefined;
}

/** The organization the CLI runs the stack in; none under the test mocks, which set none. */
function organization(): string | undefined {
    try {
        return pulumi.getOrganization();
    } catch {
        return undefined;
    }
}

/** `mailauth:adoptRecords` (read and checked with the other settings) and the token it needs. */
export interface AdoptSetting {
    enabled: boolean;
    token?: pulumi.Output<string>;
}

/**
 * `mailauth:importRecords`: the record each of the stack's record resources takes over by the
 * `import` resource option, `{"<resource name>": "<zone id>/<record id>"}` (the preview prints the
 * `pulumi config set --path` command). Only the stack's SPF, MX, DMARC, MX-host A/AAAA, report
 * authorization and no-mail records, and the DKIM record of a selector whose key the user gives
 * (mailauth:dkimKeys) when it publishes that key. Any other DKIM record is not: it keeps the content
 * it was created with (components/mailDns.ts), so an imported key would stay published while the
 * stack signs with its own.
 */
export function readImportRecords(raw: unknown, targets: { resource: string; kind: string; value?: unknown }[]): Record<string, string> {
    // A DKIM record is importable only where the user gives the selector's key (mailauth:dkimKeys): its value is then known now.
    const importable = targets.filter((t) => t.kind !== "dkim" || t.value !== undefined).map((t) => t.resource);
    // The map's shape is read by the same function validateSettings uses; names and values are reported together.
    const read = readImportRecordsShape(raw, importable[0]);
    if (read.entries === undefined && read.problems.length > 0) throw new SettingsError(read.problems);
    const problems = Object.keys(read.entries ?? {}).flatMap((k) =>
        !importable.includes(k)
            ? [`mailauth:importRecords[${show(k)}]: not a record the stack publishes and can import; one of: ${importable.join(", ")}`]
            : read.byKey.has(k)
              ? [read.byKey.get(k)!]
              : [],
    );
    if (problems.length > 0) throw new SettingsError(problems);
    return (read.entries ?? {}) as Record<string, string>;
}

/**
 * `noMail`: the names of mailauth:noMail (components/mailDomain.ts planNoMail), each checked as a
 * domain is, in the zone of the configured domain that holds it, or in the zone found by its name.
 */
export function zoneGate(
    settings: Settings,
    dnsArgs: Omit<MailDnsArgs, "zoneId">[],
    adoptRecords: AdoptSetting,
    importRecords?: unknown,
    noMail: Pick<PlannedNoMail, "name" | "nullMx" | "component" | "index" | "zoneDomain">[] = [],
) {
    const project = pulumi.getProject();
    const stack = pulumi.getStack();
    const org = organization();
    const identity = stackIdentity();
    const marker = valueOrUnknown(identity).then((id) => ownMarker(id, org, project, stack));
    // What every record carries; known once the identity is (at the first preview it is being created).
    const comment = identity.apply((id) => ownMarker(id, org, project, stack).comment!);
    const legacyMarker = ownMarker(undefined, org, project, stack).legacy;
    const adopt = adoptRecords.enabled;
    const token = adoptRecords.token;
    // Each domain's position in the settings, looked up once (the first of a name, as findIndex gives it).
    const position = new Map<string, number>();
    settings.domains.forEach((d, i) => position.has(d.name) || position.set(d.name, i));
    const plans: DomainPlan[] = dnsArgs.map((a) => ({
        domain: a.domain,
        zoneId: settings.domains[position.get(a.domain) ?? -1]?.zoneId,
        component: a.domain,
        targets: mailDnsTargets(a.domain, a),
        selectors: Object.keys(a.dkim),
        spfMechanisms: settings.spf.mechanisms,
        spfAll: settings.spf.all,
        domains: settings.domains,
        index: position.get(a.domain) ?? -1,
    }));
    for (const n of noMail) {
        plans.push({
            domain: n.name,
            zoneId: n.zoneDomain?.zoneId,
            component: n.component,
            targets: noMailTargets(n),
            selectors: [],
            spfMechanisms: settings.spf.mechanisms,
            spfAll: settings.spf.all,
            domains: settings.domains,
            index: n.index,
        });
    }
    const imports = readImportRecords(
        importRecords,
        plans.flatMap((p) => p.targets),
    );
    const checked = pulumi.output(marker.then((own) => checkZones(plans, { adopt, comment: own, stack, project, imports })));
    // One map by domain for every lookup below (each domain's zone id and name, the recheck) and the
    // signing gate's: built once, not a search of the results per domain.
    const byDomain: pulumi.Output<ReadonlyMap<string, ZoneCheckResult>> = checked.apply(resultsByDomain);
    const planOf = resultsByDomain(plans);
    // The adopt steps, as MailDns makes them: checked again together once their outputs are known.
    const adoptSteps: { plan: DomainPlan; stdout: pulumi.Output<string> }[] = [];
    return {
        /** Resolves once every zone was found and no record stands in the way. */
        passed: checked,
        /** The same, by domain. */
        byDomain,
        /** Each domain's zone, once every check (the one after adoption too) has passed: a stack output. */
        result: () => {
            const steps = [...adoptSteps];
            const recheck =
                steps.length === 0
                    ? pulumi.output(undefined)
                    : // Not pulumi.all over byDomain: it copies its inputs' values into plain objects (a Map to {}).
                      pulumi
                          .all(steps.map((s) => s.stdout))
                          .apply(() => byDomain)
                          .apply(async (rs) => {
                              await checkAdopted(
                                  steps.map((s) => ({ plan: s.plan, zone: rs.get(s.plan.domain)!.zone })),
                                  { comment: await marker, stack, project, imports },
                              );
                          });
            return pulumi.all([checked, recheck]).apply(([rs]) => Object.fromEntries(rs.map((r) => [r.domain, r.zone])) as Record<string, ZoneRef>);
        },
        /** What MailDns (or NoMailDns, by the name) needs from the check for one domain. */
        dnsArgs(domain: string): Pick<MailDnsArgs, "zoneId" | "comment" | "adopt" | "imports"> {
            const plan = planOf.get(domain)!;
            return {
                imports: Object.fromEntries(plan.targets.filter((t) => imports[t.resource] !== undefined).map((t) => [t.resource, imports[t.resource]])),
                zoneId: byDomain.apply((rs) => rs.get(domain)!.zone.id),
                comment,
                adopt: adopt
                    ? {
                          targets: adoptTargets(plan.targets, imports),
                          zoneName: byDomain.apply((rs) => rs.get(domain)!.zone.name),
                          marker: comment,
                          legacyMarker,
                          markerId: identity,
                          apiToken: token!,
                          // Once the adopt step has run (its stdout is known: after its create, or from state on
                          // a later run), nothing foreign may be left at the adopted names: a record added by
                          // hand after the adoption is not removed by an unchanged step, so it is refused. Not an
                          // input of the records: an unknown stdout at preview would show them all as changing.
                          // The recheck is of adoptRecords' names (checkAdopted leaves DKIM names out): a step that
                          // only takes over a record publishing the user's own key adopted none of them.
                          after: (step) => {
                              if (adopt) adoptSteps.push({ plan, stdout: step.stdout });
                          },
                      }
                    : undefined,
            };
        },
    };
}
