/**
 * The `check` stack output: components/check run during `pulumi up` (never at preview:
 * `pulumi.runtime.isDryRun()`), once what it must wait for exists. A failing item stops nothing:
 * one `pulumi.log.warn` per domain with a fail, the details in the output.
 */
import * as pulumi from "@pulumi/pulumi";
import { checkPublished, CheckResult } from "./index";
import type { Settings } from "../settings";

/**
 * What the check waits for and reads. `after` and `dkim` are made only when the check runs (at `up`,
 * enabled): at 1,000 domains they are about 15 Outputs a domain, SDK work a preview would throw
 * away (test/unit/program-outputs.test.ts).
 */
export interface CheckWiring {
    /** Resolves once every record and host step exists. */
    after: () => pulumi.Output<unknown>;
    /** Per domain, each published selector and its `p=`. */
    dkim: () => pulumi.Output<Record<string, { selector: string; publicKey: string }[]>>;
    /** Per domain on a calendar, the selector the SigningTable names this run (components/signingGate.ts); others sign with their `selector`. */
    signing?: pulumi.Output<Record<string, string>>;
}

/** The check's input from the settings: per domain its selectors' keys, the MX host and its addresses. */
export function checkInput(
    settings: Pick<Settings, "domains" | "mx" | "check"> & Partial<Pick<Settings, "hosts" | "hostList">>,
    dkim: Record<string, { selector: string; publicKey: string }[]>,
    signing: Record<string, string> = {},
) {
    const addresses = [settings.mx.ipv4, settings.mx.ipv6].filter((a): a is string => a !== undefined);
    // mailauth:hosts: every host's addresses, MX per MX host (the one host of ssh+mx: as before).
    const hosts = settings.hostList
        ? settings.hosts!.map((h) => ({
              hostname: h.hostname,
              addresses: [h.ipv4, h.ipv6].filter((a): a is string => a !== undefined),
              mx: h.mxPriority !== undefined,
          }))
        : undefined;
    return {
        domains: settings.domains.map((d) => ({
            name: d.name,
            dkim: dkim[d.name] ?? [],
            signing: signingSelectorsOf(settings, d, signing),
            mxHost: settings.mx.hostname,
            addresses,
            ...(hosts ? { hosts } : {}),
        })),
        resolvers: settings.check.resolvers,
        ...(settings.check.starttls ? { starttls: {} } : {}),
    };
}

/**
 * The selectors that sign a domain's mail: the shared one (the calendar's `signing`, else its
 * `selector`) when a relay signs with it, then each relay's own (mailauth:hosts[i].selector).
 */
function signingSelectorsOf(
    settings: Partial<Pick<Settings, "hosts" | "hostList">>,
    d: Settings["domains"][number],
    signing: Record<string, string>,
): string[] {
    const relays = settings.hostList ? settings.hosts!.filter((h) => h.relay) : [];
    const own = relays.flatMap((h) => (h.selector === undefined ? [] : [h.selector]));
    const shared = relays.length === 0 || relays.some((h) => h.selector === undefined);
    return [...(shared ? [signing[d.name] ?? d.selector] : []), ...own];
}

/** One line per domain with a fail, naming the failing items. */
export function failureWarnings(result: CheckResult): string[] {
    return Object.entries(result)
        .filter(([, items]) => items.some((i) => i.status === "fail"))
        .map(
            ([domain, items]) =>
                `mailauth check: ${domain}: receivers will not accept what is published: ${items
                    .filter((i) => i.status === "fail")
                    .map((i) => `${i.check} (${i.reason}; fix: ${i.fix})`)
                    .join("; ")}. All items: pulumi stack output check --json`,
        );
}

export function checkOutput(settings: Settings, wiring: CheckWiring): pulumi.Output<CheckResult> | undefined {
    if (!settings.check.enabled || pulumi.runtime.isDryRun()) return undefined;
    return pulumi.all([wiring.after(), wiring.dkim(), wiring.signing ?? {}]).apply(async ([, dkim, signing]) => {
        try {
            const result = await checkPublished(checkInput(settings, dkim, signing));
            for (const w of failureWarnings(result)) pulumi.log.warn(w);
            return result;
        } catch (e) {
            // checkPublished makes an item of whatever DNS answers; anything else is a bug of its own, which stops nothing either.
            pulumi.log.warn(`mailauth check: could not run: ${(e as Error).message}`);
            return {};
        }
    });
}
