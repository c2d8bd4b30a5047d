/**
 * What differs between the supported host families, in one place. The scripts detect the
 * family from /etc/os-release on the host and pick their values from here.
 */
import { MilterTransport } from "./settings";

export type OsFamily = "el" | "debian";
export const OS_FAMILIES: OsFamily[] = ["el", "debian"];

export interface OsFamilyFacts {
    /** Packages that give OpenDKIM, its tools and the SPF policy agent. */
    packages: string[];
    /** The policy agent's executable, for master.cf. */
    policydSpfBin: string;
    /**
     * The milter transport used for `milterTransport: auto`. Debian: a unix socket inside
     * Postfix's queue directory (smtpd is chrooted there): 1.7x the inet socket's signed-mail
     * throughput in the lab (BENCHMARKS.md). EL: the guide's inet socket, whose port SELinux
     * already labels milter_port_t (a unix socket there is not verified).
     */
    autoTransport: Exclude<MilterTransport, "auto">;
}

export const OS_FAMILY_FACTS: Record<OsFamily, OsFamilyFacts> = {
    el: {
        packages: ["opendkim", "opendkim-tools", "pypolicyd-spf"],
        policydSpfBin: "/usr/libexec/postfix/policyd-spf",
        autoTransport: "inet",
    },
    debian: {
        packages: ["opendkim", "opendkim-tools", "postfix-policyd-spf-python"],
        policydSpfBin: "/usr/bin/policyd-spf",
        autoTransport: "unix",
    },
};

export interface MilterEndpoint {
    /** OpenDKIM's `Socket`. */
    opendkimSocket: string;
    /** The same socket as Postfix names it in smtpd_milters. */
    postfixMilter: string;
    /** Directory to create for a unix socket; empty for inet. */
    socketDir: string;
}

/** Postfix daemons run in the queue directory, chrooted or not: a relative unix path works for both. */
export const MILTER_ENDPOINTS: Record<Exclude<MilterTransport, "auto">, MilterEndpoint> = {
    unix: {
        opendkimSocket: "local:/var/spool/postfix/opendkim/opendkim.sock",
        postfixMilter: "unix:opendkim/opendkim.sock",
        socketDir: "/var/spool/postfix/opendkim",
    },
    inet: {
        opendkimSocket: "inet:8891@127.0.0.1",
        postfixMilter: "inet:127.0.0.1:8891",
        socketDir: "",
    },
};

export function milterEndpoint(transport: MilterTransport, family: OsFamily): MilterEndpoint {
    return MILTER_ENDPOINTS[transport === "auto" ? OS_FAMILY_FACTS[family].autoTransport : transport];
}
