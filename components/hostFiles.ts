/**
 * The text of every configuration file the stack puts on the host, rendered from settings.
 * Pure functions: the tests assert their exact output.
 */
import { milterEndpoint, OsFamily } from "./osFamilies";
import { DomainSettings, OpenDkimSettings } from "./settings";
import { loadTemplate, renderTemplate } from "./templates";

export const OPENDKIM_CONF = "/etc/opendkim.conf";
export const OPENDKIM_ETC_DIR = "/etc/opendkim";
export const OPENDKIM_KEY_DIR = "/etc/opendkim/keys";

export type SigningDomain = Pick<DomainSettings, "name" | "selector" | "previousSelectors">;

/** The OpenDKIM tables, the same on every OS family. */
export interface OpenDkimTables {
    KeyTable: string;
    SigningTable: string;
    TrustedHosts: string;
}

export function keyPath(domain: string, selector: string): string {
    return `${OPENDKIM_KEY_DIR}/${domain}/${selector}.private`;
}

function keyName(domain: string, selector: string): string {
    return `${selector}._domainkey.${domain}`;
}

/** Every selector still installed: the active one first, then those kept after a rotation. */
export function installedSelectors(domain: SigningDomain): string[] {
    return [domain.selector, ...domain.previousSelectors];
}

export function renderOpenDkimConf(opendkim: OpenDkimSettings, family: OsFamily): string {
    const resolver =
        opendkim.nameservers.length > 0
            ? "# Resolve only through these servers (DNSSEC is then not validated: no TrustAnchorFile).\n" +
              `Nameservers             ${opendkim.nameservers.join(",")}`
            : "# DNS: OpenDKIM's built-in recursive resolver (libunbound), starting from the root servers.";
    return renderTemplate(loadTemplate("opendkim.conf"), {
        socket: milterEndpoint(opendkim.milterTransport, family).opendkimSocket,
        reportAddress: opendkim.reportAddress,
        etcDir: OPENDKIM_ETC_DIR,
        resolver,
    });
}

export function renderKeyTable(domains: SigningDomain[]): string {
    return domains
        .flatMap((d) =>
            installedSelectors(d).map((s) => `${keyName(d.name, s)} ${d.name}:${s}:${keyPath(d.name, s)}\n`),
        )
        .join("");
}

/** Only the active selector signs; refile patterns match the sender address. */
export function renderSigningTable(domains: SigningDomain[]): string {
    return domains.map((d) => `*@${d.name} ${keyName(d.name, d.selector)}\n`).join("");
}

export function renderTrustedHosts(domains: SigningDomain[], opendkim: OpenDkimSettings): string {
    const hosts = ["127.0.0.1", "::1", ...domains.map((d) => `*.${d.name}`), ...opendkim.trustedHosts];
    return [...new Set(hosts)].map((h) => `${h}\n`).join("");
}

export function renderOpenDkimTables(domains: SigningDomain[], opendkim: OpenDkimSettings): OpenDkimTables {
    return {
        KeyTable: renderKeyTable(domains),
        SigningTable: renderSigningTable(domains),
        TrustedHosts: renderTrustedHosts(domains, opendkim),
    };
}
