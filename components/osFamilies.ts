/**
 * What differs between the supported host families, in one place. The scripts detect the
 * family from /etc/os-release on the host and pick their values from here.
 */
import { MilterTransport } from "./settings";

export type OsFamily = "el" | "debian";
export const OS_FAMILIES: OsFamily[] = ["el", "debian"];

export interface OsFamilyFacts {
    /** Packages that give OpenDKIM, its tools and the SPF policy agent: a signing host's. */
    packages: string[];
    /** The SPF policy agent's package alone: a host that does not sign (MailHostArgs.sign false) needs no OpenDKIM. */
    policydSpfPackages: string[];
    /** The policy agent's executable, for master.cf. */
    policydSpfBin: string;
    /**
     * The policy agent's configuration file, the one it reads when master.cf names none. Debian:
     * postfix-policyd-spf-python 3.0.4-2 spf_engine/policyd_spf.py:49 (Debian's path patched in).
     * EL: upstream's own default, /etc/python-policyd-spf/policyd-spf.conf (spf-engine
     * spf_engine/policyd_spf.py, `configFile =`), where RPM builds of pypolicyd-spf install it
     * (`%{_sysconfdir}/python-policyd-spf/policyd-spf.conf`, beside the binary they move to
     * %{_libexecdir}/postfix); EPEL's own spec not read here (README: not verified).
     */
    policydSpfConf: string;
    /**
     * The milter transport used for `milterTransport: auto`. Debian: a unix socket inside
     * Postfix's queue directory (smtpd is chrooted there): 1.7x the inet socket's signed-mail
     * throughput in the lab (BENCHMARKS.md). EL: the guide's inet socket, whose port SELinux
     * already labels milter_port_t (`unix` there, in /run/opendkim, is not verified on a real host).
     */
    autoTransport: Exclude<MilterTransport, "auto">;
}

export const OS_FAMILY_FACTS: Record<OsFamily, OsFamilyFacts> = {
    el: {
        packages: ["opendkim", "opendkim-tools", "pypolicyd-spf"],
        policydSpfPackages: ["pypolicyd-spf"],
        policydSpfBin: "/usr/libexec/postfix/policyd-spf",
        policydSpfConf: "/etc/python-policyd-spf/policyd-spf.conf",
        autoTransport: "inet",
    },
    debian: {
        packages: ["opendkim", "opendkim-tools", "postfix-policyd-spf-python"],
        policydSpfPackages: ["postfix-policyd-spf-python"],
        policydSpfBin: "/usr/bin/policyd-spf",
        policydSpfConf: "/etc/postfix-policyd-spf-python/policyd-spf.conf",
        autoTransport: "unix",
    },
};

export interface MilterEndpoint {
    /** OpenDKIM's `Socket`. */
    opendkimSocket: string;
    /** The same socket as Postfix names it in smtpd_milters. */
    postfixMilter: string;
    /** The unix socket's directory (Postfix reaches it through the opendkim group); empty for inet. */
    socketDir: string;
    /** Whether the stack creates (and on destroy removes) socketDir, or the package owns it. */
    makeSocketDir: boolean;
}

type Transport = Exclude<MilterTransport, "auto">;

/**
 * Where OpenDKIM listens, per transport and family.
 * - Debian, unix: inside Postfix's queue directory, as Debian's smtpd is chrooted there; Postfix
 *   names it relative to the queue directory.
 * - EL, unix: /run/opendkim, not the queue directory: SELinux labels /var/spool/postfix/...
 *   postfix_spool_t, where OpenDKIM (dkim_milter_t) may not create its socket, while
 *   /var/run/opendkim(/.*)? is dkim_milter_data_t (selinux-policy c9s,
 *   policy/modules/contrib/milter.fc:24; /var/run = /run, config/file_contexts.subs_dist:14),
 *   where OpenDKIM may create sockets (milter.if:30, manage_sock_files_pattern) and smtpd and
 *   cleanup may connect (postfix.te:305,749, milter_stream_connect_all). EPEL's package owns
 *   /run/opendkim (opendkim.spec: `%dir %attr(0750,opendkim,opendkim) %{_rundir}/opendkim`, kept by
 *   the unit's RuntimeDirectory, changelog 2.11.0-0.32), so the stack does not create it. Postfix
 *   reaches it by absolute path, which works only where smtpd is not chrooted (EL's master.cf:
 *   chroot `n`): the opendkim step checks that on the host and refuses otherwise.
 * - inet: the guide's socket; tcp/8891 is milter_port_t on EL.
 */
export const MILTER_ENDPOINTS: Record<OsFamily, Record<Transport, MilterEndpoint>> = {
    debian: {
        unix: {
            opendkimSocket: "local:/var/spool/postfix/opendkim/opendkim.sock",
            postfixMilter: "unix:opendkim/opendkim.sock",
            socketDir: "/var/spool/postfix/opendkim",
            makeSocketDir: true,
        },
        inet: inetEndpoint(),
    },
    el: {
        unix: {
            opendkimSocket: "local:/run/opendkim/opendkim.sock",
            postfixMilter: "unix:/run/opendkim/opendkim.sock",
            socketDir: "/run/opendkim",
            makeSocketDir: false,
        },
        inet: inetEndpoint(),
    },
};

function inetEndpoint(): MilterEndpoint {
    return { opendkimSocket: "inet:8891@127.0.0.1", postfixMilter: "inet:127.0.0.1:8891", socketDir: "", makeSocketDir: false };
}

export function milterEndpoint(transport: MilterTransport, family: OsFamily): MilterEndpoint {
    return MILTER_ENDPOINTS[family][transport === "auto" ? OS_FAMILY_FACTS[family].autoTransport : transport];
}
