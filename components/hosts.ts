/**
 * The mail hosts as index.ts makes them (issue 21): one MailHost per host of settings.hosts, all in
 * parallel (no dependsOn between hosts: the engine runs independent steps side by side; with
 * `pulumi up --continue-on-error`, one host failing leaves the others' steps to run, without it the
 * engine starts no new step after the first failure: docs/several-hosts.md), each with its own connection.
 *
 * Identity: the one host of mailauth:ssh and mx is `mailhost`, as before. In list form each host is
 * `mailhost-<hostname>`, and the first host of the list also names `mailhost` as an alias: a stack
 * moving from ssh+mx to mailauth:hosts keeps its host steps (no delete and re-create on the host).
 * The engine consults an alias only when no resource of that URN is in the state, and only if the
 * alias's URN is (pulumi/pulumi pkg/resource/deploy/step_generator.go getOldResource 655-713, at
 * commit 1b59498, sdk 3.260.0); the alias that matched is kept for the children (sg.aliases, 703),
 * which get one derived from it, their name's parent prefix swapped for the alias's name
 * (`mailhost-mail.example.com-packages` -> `mailhost-packages`): inheritedChildAlias 590-619,
 * generateAliases 621-653. The engine computes it since the SDK sends alias specs
 * (sdk/nodejs/runtime/resource.ts 1079-1085), as the Node.js SDK's own inheritedChildAlias does for
 * an engine without them (sdk/nodejs/resource.ts 75-98, allAliases 123-150).
 * Every step of MailHost is named `<host>-<step>` (components/mailHost.ts), so each inherits one.
 */
import * as pulumi from "@pulumi/pulumi";
import { canonicalIpv6 } from "./ipv6";
import { HostSettings, Settings } from "./settings";

export interface HostPlan {
    host: HostSettings;
    /** Its MailHost's aliases: `mailhost` for the first host of the list. */
    aliases: pulumi.Alias[];
    /** It signs: a relay (MailHostArgs.sign). */
    sign: boolean;
    /** The addresses of the stack's other MX hosts (MailHostArgs.skipAddresses): their forwarded mail passed SPF there. */
    skipAddresses: string[];
}

/** Each host, with what its MailHost needs beyond the shared arguments. */
export function hostPlans(settings: Pick<Settings, "hosts" | "hostList">): HostPlan[] {
    return settings.hosts.map((host, i) => ({
        host,
        aliases: settings.hostList && i === 0 ? [{ name: "mailhost" }] : [],
        sign: host.relay,
        skipAddresses: settings.hosts
            .filter((o) => o !== host && o.mxPriority !== undefined)
            .flatMap((o) => [o.ipv4, o.ipv6 === undefined ? undefined : canonicalIpv6(o.ipv6)])
            .filter((a): a is string => a !== undefined),
    }));
}

/** The warning for a host whose key is not pinned (mailauth:ssh.hostKey, or a host's sshHostKey). */
export function unpinnedWarning(host: HostSettings, hostList: boolean): string {
    const { host: address, port } = host.ssh;
    const setting = hostList ? `${host.path}.sshHostKey` : "mailauth:ssh.hostKey";
    return (
        `${setting} is not set: the server's identity is NOT checked, and whoever answers at ` +
        `${address}:${port} receives ${host.relay ? "the DKIM private keys" : "the host's configuration"}. Pin it: ` +
        `pulumi config set --path '${setting}' "$(ssh-keyscan -p ${port} -t ed25519 ${address} 2>/dev/null | cut -d' ' -f2-)"`
    );
}
