/**
 * mailauth: SPF, DKIM and DMARC for a self-hosted Postfix server.
 *
 * Reads and validates the stack settings (every problem reported at once, before anything is
 * made), then builds: a DKIM key pair per domain and selector, the domain's records on
 * Cloudflare, and the host configuration over SSH.
 */
import * as pulumi from "@pulumi/pulumi";
import { DkimKey, warnKeptKey } from "./components/dkimKey";
import { MailDns, PublishedRecord } from "./components/mailDns";
import { adoptSetting, zoneGate } from "./components/zoneGate";
import { MailHost } from "./components/mailHost";
import { unquoteTxt } from "./components/txt";
import { installedSelectors } from "./components/hostFiles";
import { readRawSettings } from "./components/config";
import { validateSettings, zoneFor } from "./components/settings";

const config = new pulumi.Config("mailauth");
const sshPrivateKey = config.getSecret("sshPrivateKey");
// Throws a RunError listing every problem: the CLI shows the list alone, no stack trace.
const settings = validateSettings(readRawSettings(config));
if (settings.ssh.hostKey === undefined) {
    // pulumi-command then accepts any host key (connection.go ~95-97 in pulumi/pulumi-command).
    pulumi.log.warn(
        "mailauth:ssh.hostKey is not set: the server's identity is NOT checked, and whoever answers at " +
            `${settings.ssh.host}:${settings.ssh.port} receives the DKIM private keys. Pin it: ` +
            `pulumi config set --path 'mailauth:ssh.hostKey' "$(ssh-keyscan -p ${settings.ssh.port} -t ed25519 ${settings.ssh.host} 2>/dev/null | cut -d' ' -f2-)"`,
    );
}

// Existing records at the stack's names: refused at preview (or adopted), before anything changes.
const adoptRecords = adoptSetting(config.get("adoptRecords"));
const mxZone = settings.mx.publish ? zoneFor(settings.mx.hostname, settings.domains) : undefined;
const keys: { domain: string; selector: string; key: DkimKey }[] = [];
const dnsArgs = settings.domains.map((domain) => {
    const dkim: Record<string, pulumi.Output<string>> = {};
    for (const selector of installedSelectors(domain)) {
        const key = new DkimKey(`${domain.name}-${selector}`, { bits: domain.keyBits });
        keys.push({ domain: domain.name, selector, key });
        dkim[selector] = key.recordValue;
    }
    return {
        domain: domain.name,
        ttl: settings.ttl,
        mx: settings.mx.publish ? { hostname: settings.mx.hostname, priority: settings.mx.priority } : undefined,
        mxAddresses: mxZone?.name === domain.name ? settings.mx : undefined,
        spf: settings.spf.record,
        dmarc: settings.dmarc.enabled ? settings.dmarc.record : undefined,
        dkim,
    };
});
const zones = zoneGate(settings, dnsArgs, adoptRecords);
const dnsByDomain = dnsArgs.map((args) => new MailDns(args.domain, { ...args, ...zones.dnsArgs(args.domain) }));

// A live selector keeps its key whatever config or state now hold for it: say so (see DkimKey).
for (const { domain, selector, key } of keys) {
    const i = settings.domains.findIndex((d) => d.name === domain);
    warnKeptKey(domain, selector, settings.domains[i].keyBits, key, dnsByDomain[i].dkimRecords[selector].content);
}

const host = new MailHost("mailhost", {
    connection: {
        // Nothing touches the host either until the zone check has passed.
        host: zones.passed.apply(() => settings.ssh.host),
        port: settings.ssh.port,
        user: settings.ssh.user,
        privateKey: sshPrivateKey!,
        hostKey: settings.ssh.hostKey,
    },
    user: settings.ssh.user,
    domains: settings.domains,
    opendkim: settings.opendkim,
    // With each key, the DKIM record as published: the host installs only the key it publishes.
    keys: keys.map(({ domain, selector, key }) => ({
        domain,
        selector,
        privateKeyPem: key.privateKeyPem,
        recordValue: key.recordValue,
        published: dnsByDomain[settings.domains.findIndex((d) => d.name === domain)].dkimRecords[selector].content,
    })),
    dkimRecords: dnsByDomain.flatMap((dns) => Object.values(dns.dkimRecords)),
    testKey: settings.testKey,
    // As published (the record's content), not the key the state holds: they differ after --replace on a key.
    activeDkimValues: Object.fromEntries(
        settings.domains.map((d, i) => [d.name, dnsByDomain[i].dkimRecords[d.selector].content.apply(unquoteTxt)]),
    ),
});

/** Every published record: name, type and value. */
export const records: pulumi.Output<PublishedRecord[]> = pulumi.all(dnsByDomain.map((d) => d.records)).apply((r) => r.flat());
/** The selector that signs each domain's mail, and those still published after a rotation. */
export const selectors = Object.fromEntries(
    settings.domains.map((d) => [d.name, { active: d.selector, previous: d.previousSelectors }]),
);
/** The Cloudflare zone (name and id) that holds each domain's records. */
export const zone = zones.result();
/** opendkim-testkey's verdict per domain ("key OK" once the record matches the installed key). */
export const testKey = host.testKeyResults;
