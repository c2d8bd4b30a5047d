/**
 * Texts that both the program and the scripts it runs on the host write, each once here. A script
 * template names one as `{{name}}` (SCRIPT_TEXTS); components/templates.ts loadTemplate fills it in,
 * so every reader of a template (buildScript, the tests) gets the script as it runs. The bytes of a
 * step's script are that step's state (a change runs the step again on every host): each text here
 * is, to the byte, what the scripts spelled out before it moved here.
 */

/**
 * OpenDKIM's `Nameservers` needs its libunbound resolver; a build without it resolves through
 * /etc/resolv.conf and ignores the setting (sources: components/hostFiles.ts OpenDkimResolver,
 * templates/lib.sh opendkim_build). The settings doc (components/settingsTable.ts), the host's
 * refusal and opendkim.conf's DNS comment say so in these words.
 */
export const UNBOUND_NEEDED = "an OpenDKIM built with libunbound";

/**
 * The host's refusal of `opendkim.nameservers` where OpenDKIM lacks libunbound, after the setting's
 * name (templates/packages.sh, before any key; templates/opendkim.sh, where no opendkim.conf was
 * rendered for that build). `build`: what resolves instead, as the step names it.
 */
export function nameserversRefusal(build: string): string {
    return (
        `needs ${UNBOUND_NEEDED}, and this host's is not ('opendkim -V' lists no USE_UNBOUND; ${build} resolves through /etc/resolv.conf ` +
        "and ignores Nameservers). Remove opendkim.nameservers and point /etc/resolv.conf at those resolvers instead"
    );
}

/** opendkim.conf's comment on how it resolves when it names no Nameservers, per build (`opendkim -V`). */
export const RESOLVER_COMMENT = {
    unbound: "# DNS: OpenDKIM's built-in recursive resolver (libunbound), starting from the root servers.",
    resolv: "# DNS: the system resolver (/etc/resolv.conf); this OpenDKIM is built without libunbound (opendkim -V).",
} as const;

/**
 * The keys step's stdin (components/mailHost.ts keysStdin writes it, templates/dkim-key.sh reads
 * it): each key is a line `KEY_HEADER <key file> <domain> <selector> <published p=> <its own p=>`
 * (`-` for none) followed by its PEM, and `KEYS_END <count>` is the last line.
 */
export const KEY_HEADER = "#mailauth-key";
export const KEYS_END = "#mailauth-end";

/**
 * The start of the first line of every file the opendkim step writes, up to the stack's name
 * (components/hostFiles.ts fileHeader).
 */
export function fileHeaderLead(what: string): string {
    return `# ${what}, written by the mailauth Pulumi stack `;
}

/** What opendkim.conf's header calls it. */
export const OPENDKIM_CONF_WHAT = "OpenDKIM configuration";

/**
 * How opendkim.conf's first line starts when this stack wrote it: the keys' delete and retire steps
 * (templates/lib.sh dkim_load_named) tell by it that the stack's configuration is in force.
 * OPENDKIM_CONF_HEADER_OLD: the first line as the stack wrote it before the header named the stack
 * (before issue 17.3), still in force on hosts set up then; both are recognised.
 */
export const OPENDKIM_CONF_HEADER = fileHeaderLead(OPENDKIM_CONF_WHAT);
export const OPENDKIM_CONF_HEADER_OLD = "# OpenDKIM configuration written by the mailauth Pulumi stack";

/** The texts a script template may name as `{{name}}`. */
export const SCRIPT_TEXTS: Record<string, string> = {
    // The packages step names where a build without libunbound comes from; the opendkim step, which
    // comes after it, says "it".
    nameserversRefusalEpel: nameserversRefusal("EPEL's build"),
    nameserversRefusal: nameserversRefusal("it"),
    keyHeader: KEY_HEADER,
    keysEnd: KEYS_END,
    opendkimConfHeader: OPENDKIM_CONF_HEADER,
    opendkimConfHeaderOld: OPENDKIM_CONF_HEADER_OLD,
};
