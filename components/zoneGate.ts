/**
 * Joins the zone check to the program: every DNS record takes its zone id from the check, and the
 * host's connection waits for it, so a refused check changes nothing, at preview or at up.
 */
import * as pulumi from "@pulumi/pulumi";
import { adoptTargets } from "./adoptRecords";
import { MailDnsArgs, mailDnsTargets } from "./mailDns";
import { Settings, SettingsError } from "./settings";
import { show } from "./validate/show";
import { readImportRecordsShape } from "./validate/imports";
import { checkAdopted, checkZones, DomainPlan, recordComment, ZoneRef } from "./zone";

/** `mailauth:adoptRecords` (read and checked with the other settings) and the token it needs. */
export interface AdoptSetting {
    enabled: boolean;
    token?: pulumi.Output<string>;
}

/**
 * `mailauth:importRecords`: the record each of the stack's record resources takes over by the
 * `import` resource option, `{"<resource name>": "<zone id>/<record id>"}` (the preview prints the
 * `pulumi config set --path` command). Only the stack's SPF, MX, DMARC and MX-host A/AAAA records:
 * a DKIM record keeps the content it was created with (components/mailDns.ts), so an imported key
 * would stay published while the stack signs with its own.
 */
export function readImportRecords(raw: unknown, targets: { resource: string; kind: string }[]): Record<string, string> {
    const importable = targets.filter((t) => t.kind !== "dkim").map((t) => t.resource);
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

export function zoneGate(settings: Settings, dnsArgs: Omit<MailDnsArgs, "zoneId">[], adoptRecords: AdoptSetting, importRecords?: unknown) {
    const project = pulumi.getProject();
    const stack = pulumi.getStack();
    const comment = recordComment(project, stack);
    const adopt = adoptRecords.enabled;
    const token = adoptRecords.token;
    const plans: DomainPlan[] = dnsArgs.map((a) => ({
        domain: a.domain,
        zoneId: settings.domains.find((d) => d.name === a.domain)?.zoneId,
        component: a.domain,
        targets: mailDnsTargets(a.domain, a),
        selectors: Object.keys(a.dkim),
        spfMechanisms: settings.spf.mechanisms,
        index: settings.domains.findIndex((d) => d.name === a.domain),
    }));
    const imports = readImportRecords(importRecords, plans.flatMap((p) => p.targets));
    const checked = pulumi.output(checkZones(plans, { adopt, comment, stack, project, imports }));
    const rechecks: pulumi.Output<void>[] = [];
    return {
        /** Resolves once every zone was found and no record stands in the way. */
        passed: checked,
        /** Each domain's zone, once every check (the one after adoption too) has passed: a stack output. */
        result: () =>
            pulumi
                .all([checked, pulumi.all(rechecks)])
                .apply(([rs]) => Object.fromEntries(rs.map((r) => [r.domain, r.zone])) as Record<string, ZoneRef>),
        /** What MailDns needs from the check for one domain. */
        dnsArgs(domain: string): Pick<MailDnsArgs, "zoneId" | "comment" | "adopt" | "imports"> {
            const plan = plans.find((p) => p.domain === domain)!;
            return {
                imports: Object.fromEntries(plan.targets.filter((t) => imports[t.resource] !== undefined).map((t) => [t.resource, imports[t.resource]])),
                zoneId: checked.apply((rs) => rs.find((r) => r.domain === domain)!.zone.id),
                comment,
                adopt: adopt
                    ? {
                          targets: adoptTargets(plan.targets, imports),
                          zoneName: checked.apply((rs) => rs.find((r) => r.domain === domain)!.zone.name),
                          marker: comment,
                          apiToken: token!,
                          // Once the adopt step has run (its stdout is known: after its create, or from state on
                          // a later run), nothing foreign may be left at the adopted names: a record added by
                          // hand after the adoption is not removed by an unchanged step, so it is refused. Not an
                          // input of the records: an unknown stdout at preview would show them all as changing.
                          after: (step) => {
                              rechecks.push(
                                  pulumi.all([checked, step.stdout]).apply(async ([rs]) => {
                                      await checkAdopted(plan, rs.find((r) => r.domain === domain)!.zone, { comment, stack, project, imports });
                                  }),
                              );
                          },
                      }
                    : undefined,
            };
        },
    };
}
