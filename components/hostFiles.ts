/**
 * The text of every configuration file the stack puts on the host, rendered from settings.
 * Pure functions: the tests assert their exact output.
 */
import * as pulumi from "@pulumi/pulumi";
import { dkimRecordName } from "./records/dkim";
import { milterEndpoint, OsFamily } from "./osFamilies";
import { DomainSettings, OpenDkimSettings } from "./settings";
import { fileHeaderLead, OPENDKIM_CONF_WHAT, RESOLVER_COMMENT } from "./hostTexts";
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

/** The stack that writes the host's files: named in each file's header. */
export interface FileOrigin {
    project: string;
    stack: string;
}

/** This program's project and stack (Pulumi's own: pulumi.getProject(), pulumi.getStack()). */
export function currentOrigin(): FileOrigin {
    return { project: pulumi.getProject(), stack: pulumi.getStack() };
}

/**
 * The comment lines that open every file the opendkim step writes: what the file is, the stack
 * (project/stack) and the code that writes it. OpenDKIM skips them: '#' starts a comment in its
 * configuration file (opendkim/config.c:239) and in the flat and pattern files the tables are
 * (opendkim/opendkim-db.c:2133 file, :2339 refile; trusteddomainproject/OpenDKIM
 * 2.10.3-4-g5c53958), and so do the stack's scripts (templates/opendkim.sh, opendkim-merge.sh).
 * Project and stack names hold no blanks or newlines; anything unprintable is shown as '?'.
 */
export function fileHeader(what: string, origin: FileOrigin, source: string): string {
    const name = `${origin.project}/${origin.stack}`.replace(/[^\x21-\x7e]/g, "?");
    return (
        `${fileHeaderLead(what)}${name} (${source}, put in place by templates/opendkim.sh).\n` +
        "# Edits here are overwritten; `pulumi destroy` puts back what this host had (kept in /var/lib/mailauth/opendkim).\n"
    );
}

/** Every selector still installed: the active one first, then those kept after a rotation. */
export function installedSelectors(domain: SigningDomain): string[] {
    return [domain.selector, ...domain.previousSelectors];
}

/**
 * opendkim.conf for one family and one resolver build, or undefined where that build cannot do
 * what the settings ask (`Nameservers` without libunbound): the host then refuses.
 */
export function renderOpenDkimConf(
    opendkim: OpenDkimSettings,
    family: OsFamily,
    build: OpenDkimResolver = "unbound",
    origin: FileOrigin = currentOrigin(),
): string | undefined {
    if (opendkim.nameservers.length > 0 && build !== "unbound") return undefined;
    const resolver =
        opendkim.nameservers.length > 0
            ? "# Resolve only through these servers (DNSSEC is then not validated: no TrustAnchorFile).\n" +
              `Nameservers             ${opendkim.nameservers.join(",")}`
            : RESOLVER_COMMENT[build];
    return renderTemplate(loadTemplate("opendkim.conf"), {
        header: fileHeader(OPENDKIM_CONF_WHAT, origin, "templates/opendkim.conf").trimEnd(),
        socket: milterEndpoint(opendkim.milterTransport, family).opendkimSocket,
        reportAddress: opendkim.reportAddress,
        etcDir: OPENDKIM_ETC_DIR,
        resolver,
    });
}

export function renderKeyTable(domains: SigningDomain[], origin: FileOrigin = currentOrigin()): string {
    return (
        fileHeader("OpenDKIM KeyTable", origin, "components/hostFiles.ts renderKeyTable") +
        domains.flatMap((d) => installedSelectors(d).map((s) => `${keyName(d.name, s)} ${d.name}:${s}:${keyPath(d.name, s)}\n`)).join("")
    );
}

/** Only the active selector signs; refile patterns match the sender address. */
export function renderSigningTable(domains: SigningDomain[], origin: FileOrigin = currentOrigin()): string {
    return (
        fileHeader("OpenDKIM SigningTable", origin, "components/hostFiles.ts renderSigningTable") +
        domains.map((d) => `*@${d.name} ${keyName(d.name, d.selector)}\n`).join("")
    );
}

export function renderTrustedHosts(domains: SigningDomain[], opendkim: OpenDkimSettings, origin: FileOrigin = currentOrigin()): string {
    const hosts = ["127.0.0.1", "::1", ...domains.map((d) => `*.${d.name}`), ...opendkim.trustedHosts];
    const header = fileHeader("OpenDKIM TrustedHosts (its InternalHosts and ExternalIgnoreList)", origin, "components/hostFiles.ts renderTrustedHosts");
    return header + [...new Set(hosts)].map((h) => `${h}\n`).join("");
}

export function renderOpenDkimTables(domains: SigningDomain[], opendkim: OpenDkimSettings, origin: FileOrigin = currentOrigin()): OpenDkimTables {
    return {
        KeyTable: renderKeyTable(domains, origin),
        SigningTable: renderSigningTable(domains, origin),
        TrustedHosts: renderTrustedHosts(domains, opendkim, origin),
    };
}
