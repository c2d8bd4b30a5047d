/**
 * The text of every configuration file the stack puts on the host, rendered from settings.
 * Pure functions: the tests assert their exact output.
 */
import { dkimRecordName } from "./dkimKey";
import { milterEndpoint, OsFamily } from "./osFamilies";
import { DomainSettings, OpenDkimSettings } from "./settings";
import { loadTemplate, renderTemplate } from "./templates";

export const OPENDKIM_CONF = "/etc/opendkim.conf";
export const OPENDKIM_ETC_DIR = "/etc/opendkim";
export const OPENDKIM_KEY_DIR = `${OPENDKIM_ETC_DIR}/keys`;

export type SigningDomain = Pick<DomainSettings, "name" | "selector" | "previousSelectors">;

/** The OpenDKIM tables, the same on every OS family; each lives at `${OPENDKIM_ETC_DIR}/<name>`. */
export const OPENDKIM_TABLES = ["KeyTable", "SigningTable", "TrustedHosts"] as const;
export type OpenDkimTables = Record<(typeof OPENDKIM_TABLES)[number], string>;

/**
 * How OpenDKIM resolves, as `opendkim -V` tells on the host ("Active code options": USE_UNBOUND).
 * `unbound`: its built-in libunbound resolver, which `Nameservers` points elsewhere. `resolv`: the
 * system resolver (/etc/resolv.conf), which EPEL's build uses: its opendkim.spec configures
 * without --with-unbound (configure.ac: default "no"), and there `Nameservers` does nothing
 * (libopendkim/dkim-dns.c:267-329, dkim_res_nslist needs res_setservers, absent from glibc).
 */
export type OpenDkimResolver = "unbound" | "resolv";
export const OPENDKIM_RESOLVERS: OpenDkimResolver[] = ["unbound", "resolv"];

export function keyPath(domain: string, selector: string): string {
    return `${OPENDKIM_KEY_DIR}/${domain}/${selector}.private`;
}

function keyName(domain: string, selector: string): string {
    return dkimRecordName(selector, domain);
}

/** Every selector still installed: the active one first, then those kept after a rotation. */
export function installedSelectors(domain: SigningDomain): string[] {
    return [domain.selector, ...domain.previousSelectors];
}

/**
 * opendkim.conf for one family and one resolver build, or undefined where that build cannot do
 * what the settings ask (`Nameservers` without libunbound): the host then refuses.
 */
export function renderOpenDkimConf(opendkim: OpenDkimSettings, family: OsFamily, build: OpenDkimResolver = "unbound"): string | undefined {
    if (opendkim.nameservers.length > 0 && build !== "unbound") return undefined;
    const resolver =
        opendkim.nameservers.length > 0
            ? "# Resolve only through these servers (DNSSEC is then not validated: no TrustAnchorFile).\n" +
              `Nameservers             ${opendkim.nameservers.join(",")}`
            : build === "unbound"
              ? "# DNS: OpenDKIM's built-in recursive resolver (libunbound), starting from the root servers."
              : "# DNS: the system resolver (/etc/resolv.conf); this OpenDKIM is built without libunbound (opendkim -V).";
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
