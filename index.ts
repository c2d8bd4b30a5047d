/**
 * mailauth: SPF, DKIM and DMARC for a self-hosted Postfix server.
 *
 * Reads and validates the stack settings (every problem reported at once, before anything is
 * made), then builds: a DKIM key pair per domain and selector, the domain's records on
 * Cloudflare, and the host configuration over SSH.
 */
// First: before any resource or Output is made (components/stackTraces.ts).
import "./components/stackTraces";
import * as pulumi from "@pulumi/pulumi";
import { planMailDomains, planNoMail } from "./components/mailDomain";
import { PublishedRecord } from "./components/mailDns";
import { zoneGate } from "./components/zoneGate";
import { MailHost } from "./components/mailHost";
import { signingSelectors } from "./components/signingGate";
import { cloudflareToken, readRawSettings } from "./components/config";
import { validateSettings } from "./components/settings";
import { dmarcEnforcementWarning } from "./components/records/dmarc";
import { dkimPublicKey } from "./components/records/dkim";
import { unquoteTxt } from "./components/records/txt";
import { checkOutput } from "./components/check/output";
import { dayOf, rotationSummary } from "./components/rotation";
import { hostPlans, unpinnedWarning } from "./components/hosts";

const config = new pulumi.Config("mailauth");
const sshPrivateKey = config.getSecret("sshPrivateKey");
// Throws a RunError listing every problem: the CLI shows the list alone, no stack trace.
const settings = validateSettings(readRawSettings(config));
// pulumi-command accepts any host key when none is pinned (connection.go ~95-97 in pulumi/pulumi-command).
for (const h of settings.hosts) if (h.ssh.hostKey === undefined) pulumi.log.warn(unpinnedWarning(h, settings.hostList));

// Once per run, not per domain: every domain publishes the same DMARC record.
const dmarcWarning = dmarcEnforcementWarning(settings.dmarc);
if (dmarcWarning) pulumi.log.warn(dmarcWarning);

// What the rotation calendar gives today, per domain on one: shown by preview (with a future
// mailauth:now, that day's) and by up.
for (const d of settings.domains) if (d.rotation) pulumi.log.info(rotationSummary(d.name, d.rotation, dayOf(settings.now)));
// Left set after planning, it would hold a scheduled `up` on that day.
if (config.get("now")) {
    pulumi.log.warn(
        `mailauth:now is set: the rotation calendar takes ${new Date(settings.now).toISOString()} as now, not the clock; remove it once done planning: pulumi config rm mailauth:now`,
    );
}

// Existing records at the stack's names: refused at preview (or adopted), before anything changes.
// The token also serves the take-over of a record that publishes a key the user gives (mailauth:dkimKeys).
const adoptRecords = {
    enabled: settings.adoptRecords,
    token: settings.adoptRecords || Object.keys(settings.dkimKeys).length > 0 ? cloudflareToken() : undefined,
};
// Every domain's keys and planned records first: the zone check compares them all with the zones
// before any record is made; then each domain's records (components/mailDomain.ts).
const planned = planMailDomains(settings);
// The names that send no mail (mailauth:noMail): checked with the domains, each a component of its own.
const noMail = planNoMail(settings);
const zones = zoneGate(
    settings,
    planned.map((p) => p.records),
    adoptRecords,
    config.get("importRecords"),
    noMail,
);
// A selector the calendar revokes keeps its record (published with its key) until every host that
// signs with the shared keys has run its OpenDKIM step this deployment (no longer signing with it):
// a host that is down holds it back (components/mailDns.ts MailDnsArgs.revokeAfter). Resolved once the hosts exist.
let hostsMade: (steps: pulumi.Resource[]) => void = () => undefined;
const signingSteps = new Promise<pulumi.Resource[]>((resolve) => (hostsMade = resolve));
const domains = planned.map((p) => p.publish(zones.dnsArgs(p.name), signingSteps));
const noMailDns = noMail.map((n) => n.publish(zones.dnsArgs(n.name)));

// On a calendar, a new selector signs only once the zone held its record as the run started and
// the resolvers answer its key (components/signingGate.ts).
const signing = signingSelectors(settings.domains, zones.byDomain, {
    now: settings.now,
    activeValues: Object.fromEntries(domains.map((d) => [d.name, d.activeDkimValue])),
    resolvers: settings.check.resolvers,
});
// opendkim-testkey tests the selector that signs this run: the one the gate holds, if it holds.
const signingDkimValues = Object.fromEntries(
    domains.map((d, i) => {
        const own = settings.domains[i];
        return [d.name, signing ? signing.apply((sig) => d.dns.dkimRecords[sig[d.name] ?? own.selector].content.apply(unquoteTxt)) : d.activeDkimValue];
    }),
);

// One MailHost per host, all in parallel (components/hosts.ts); the relays get the same keys, but
// one with its own selector (mailauth:hosts[i].selector), which gets its own keys alone and signs
// every domain with its selector (no calendar then: settings.ts refuses both).
const plans = hostPlans(settings);
const hosts = plans.map(({ host: h, aliases, sign, skipAddresses }) => {
    const own =
        sign && h.selector !== undefined
            ? (() => {
                  const selectors = [h.selector, ...(h.previousSelectors ?? [])];
                  const mine = domains.map((d) => d.ownKeys(selectors));
                  return {
                      domains: settings.domains.map((d) => ({ name: d.name, selector: h.selector!, previousSelectors: h.previousSelectors ?? [] })),
                      keys: mine.flatMap((m) => m.hostKeys),
                      dkimRecords: mine.flatMap((m) => m.dkimRecords),
                      activeDkimValues: Object.fromEntries(domains.map((d, i) => [d.name, mine[i].activeDkimValue])),
                  };
              })()
            : undefined;
    return new MailHost(
        h.id,
        {
            connection: {
                // Nothing touches the host either until the zone check has passed.
                host: zones.passed.apply(() => h.ssh.host),
                port: h.ssh.port,
                user: h.ssh.user,
                privateKey: sshPrivateKey!,
                hostKey: h.ssh.hostKey,
            },
            user: h.ssh.user,
            domains: own ? own.domains : settings.domains,
            opendkim: settings.opendkim,
            policydSpf: settings.policydSpf,
            // An inbound-only backup MX (relay false) gets no private key.
            keys: own ? own.keys : sign ? domains.flatMap((d) => d.hostKeys) : [],
            dkimRecords: own ? own.dkimRecords : sign ? domains.flatMap((d) => d.dkimRecords) : [],
            testKey: settings.testKey,
            // The published value of the selector that signs this run (public; a host that does not sign has no key test).
            activeDkimValues: own ? own.activeDkimValues : signingDkimValues,
            // Its own selector signs every domain: the SigningTable is known at once (`domains` names it).
            ...(own ? {} : { signing }),
            // Only in list form: the one host of ssh+mx gets the arguments it had (its steps byte-identical).
            ...(settings.hostList ? { sign, ...(skipAddresses.length > 0 ? { skipAddresses } : {}) } : {}),
        },
        aliases.length > 0 ? { aliases } : undefined,
    );
});

// The relays on the shared keys (a relay with its own selector never signs with the calendar's).
hostsMade(hosts.flatMap((h, i) => (plans[i].sign && plans[i].host.selector === undefined && h.signingStep ? [h.signingStep] : [])));

/** Every published record: name, type and value. */
export const records: pulumi.Output<PublishedRecord[]> = pulumi
    .all([...domains.map((d) => d.dns.records), ...noMailDns.map((n) => n.records)])
    .apply((r) => r.flat());
/**
 * The selector that signs each domain's mail, and those still published after a rotation. On a
 * calendar also those published revoked, each selector's stage, and `signing`: the selector the
 * SigningTable names this run (the one before `active` while the signing gate holds it).
 */
function selectorsOutput(signs: Record<string, string>) {
    return Object.fromEntries(
        settings.domains.map((d) => [
            d.name,
            {
                active: d.selector,
                previous: d.previousSelectors,
                // Only where there are any: a manual stack's output stays as it was.
                ...(d.revokedSelectors.length > 0 ? { revoked: d.revokedSelectors } : {}),
                ...(d.rotation ? { signing: signs[d.name] ?? d.selector, stages: d.rotation.stages.map(({ selector, stage }) => ({ selector, stage })) } : {}),
            },
        ]),
    );
}
export const selectors = signing ? signing.apply(selectorsOutput) : selectorsOutput({});
/** The Cloudflare zone (name and id) that holds each domain's records, and each no-mail name's (mailauth:noMail). */
export const zone = zones.result();
/**
 * opendkim-testkey's verdict per domain ("key OK" once the record matches the installed key); with
 * mailauth:hosts, per signing host (by hostname), then per domain.
 */
export const testKey = settings.hostList
    ? pulumi.all(Object.fromEntries(plans.flatMap((p, i) => (p.sign ? [[p.host.hostname, hosts[i].testKeyResults]] : []))))
    : hosts[0].testKeyResults;
/**
 * What receivers conclude from the published DNS, per domain, per item: status (pass, warn, fail),
 * reason, fix (components/check). Only at `pulumi up`, once every record and host step exists; a
 * fail stops nothing, it is logged as a warning per domain. Unset at preview or with check.enabled false.
 */
export const check = checkOutput(settings, {
    // Every published record and every host step first; the DKIM keys as published (the record's content, not state's key).
    after: () => pulumi.all([...hosts.map((h) => h.done as pulumi.Output<unknown>), ...domains.flatMap((d) => d.dns.ids)]),
    dkim: () =>
        pulumi.all(
            Object.fromEntries(
                domains.map((d) => [
                    d.name,
                    pulumi.all(Object.entries(d.dns.dkimRecords).map(([selector, r]) => r.content.apply((c) => ({ selector, publicKey: dkimPublicKey(c) })))),
                ]),
            ),
        ),
    // The selector each domain's SigningTable line names this run (the host's opendkim step renders it from the same Output).
    signing,
});
