/**
 * Every `mailauth:*` setting, declared once: per section one table of key, kind, default, allowed
 * values and doc. The reader (components/config.ts, components/settings.ts), the validation of each
 * value's kind, default and allowed values, Pulumi.yaml's `config:` block and the README's settings
 * table (components/settingsDocs.ts, `npm run docs:settings`) all come from here;
 * test/unit/settings.test.ts fails when Pulumi.yaml or the README no longer say what this says.
 *
 * Per row: `doc` is the README's "What it is" (a list section's rows make one README row, `List of
 * {keys}.` and their docs), `brief` the row's part of Pulumi.yaml's description
 * (`key - brief`; rows with the same brief are joined, `ipv4/ipv6`), `readmeDefault` the README's
 * default where the default is not a plain value. What a value must be beyond its kind and allowed
 * values (a host name, an SPF mechanism) is checked in components/settings.ts, per section.
 */

import { UNBOUND_NEEDED } from "./hostTexts";
import { show } from "./validate/show";

/** How the CLI hands a setting to the program: JSON (a section), its text, or not read here. */
export type RawForm = "json" | "text" | "secret" | "elsewhere";

interface RowBase {
    key: string;
    doc: string;
    brief: string;
    /** The README's default, where the default is not a plain value (derived, or shown with a word). */
    readmeDefault?: string;
    /**
     * A value refused before its kind is read, with its own message (after `<setting>: `); the
     * setting then takes its default. E.g. `spf.all` "+all".
     */
    refuse?: (value: unknown, path: string) => string | undefined;
}
export interface StringRow extends RowBase {
    kind: "string";
    required?: boolean;
    default?: string;
}
export interface IntegerRow extends RowBase {
    kind: "integer";
    /** Without one, the setting is optional: unset, it is left out (a host's `mx`: not an MX). */
    default?: number;
    min: number;
    max: number;
    /** Values allowed outside min..max (ttl: 1). */
    also?: readonly number[];
    /** Within min..max, only these (keyBits). */
    allowed?: readonly number[];
    /** How the message words the allowed values, when not "a whole number from min to max". */
    allowedText?: string;
}
export interface BooleanRow extends RowBase {
    kind: "boolean";
    default: boolean;
}
export interface StringsRow extends RowBase {
    kind: "strings";
}
export interface ChoiceRow extends RowBase {
    kind: "choice";
    allowed: readonly string[];
    /** Without one, the setting is optional: unset, it is left out (a DMARC tag then not written). */
    default?: string;
}
/** A map read apart (importRecords: its keys are the stack's record resources, known once the records are planned). */
export interface MapRow extends RowBase {
    kind: "map";
}
/** A secret read apart: only its shape reaches validation (components/validate/sshKeys.ts). */
export interface SecretRow extends RowBase {
    kind: "secret";
    required: true;
}
export type Row = StringRow | IntegerRow | BooleanRow | StringsRow | ChoiceRow | MapRow | SecretRow;

export interface Section {
    /** The key under `mailauth:`. */
    name: string;
    /** `object`: fields under the key; `list`: a list of such objects; `value`: the key itself (its one row). */
    shape: "object" | "list" | "value";
    raw: RawForm;
    required?: boolean;
    /** Pulumi.yaml's description starts with it (for object and list sections, then `{keys}.`). */
    summary: string;
    /** Pulumi.yaml: said after the keys, before the rows. */
    note?: string;
    /** Pulumi.yaml `type:` (the CLI checks it before the program runs). */
    type?: "boolean" | "integer" | "string";
    rows: readonly Row[];
}

/** mx.ipv4 and mx.ipv6 say the same: one README row, one Pulumi.yaml part (`ipv4/ipv6`). */
const DNS_ADDRESS = "publish A/AAAA records for hostname (it must lie in one of the domains)";
const DNS_ADDRESS_DOC =
    "Publish A/AAAA for `mx.hostname` (it must lie in one of the domains). Loopback, unspecified, link-local, multicast, reserved and IPv4-mapped addresses are refused (no other server can reach them); private ranges (RFC 1918, `100.64.0.0/10`, `fc00::/7`) are allowed for a server on a private network, the documentation ranges (`192.0.2.0/24`, `2001:db8::/32`) for examples.";

export const DOMAINS = {
    name: "domains",
    shape: "list",
    raw: "json",
    required: true,
    summary: "The mail domains, a list of",
    rows: [
        {
            key: "name",
            kind: "string",
            required: true,
            doc: "A name has at most 10 labels, and `<selector>._domainkey.<name>` must fit DNS's 253 characters.",
            brief: "the domain",
        },
        {
            key: "zoneId",
            kind: "string",
            doc: "`zoneId`: the Cloudflare zone (default: found by the domain's name).",
            brief: "its Cloudflare zone id (default: the account's zone that holds the domain, found by name; when set, the zone's name is checked against the domain)",
        },
        {
            key: "selector",
            kind: "string",
            readmeDefault: "(required without `rotation`)",
            doc: "`selector`: the key that signs (a date like `20261127` is handy); required unless the domain rotates on a calendar, where it is the selector that signs until `rotation.start`.",
            brief: "the DKIM selector that signs (a date such as 20261127 is handy; with a rotation calendar, the one that signs until its start)",
        },
        {
            key: "previousSelectors",
            kind: "strings",
            doc: "`previousSelectors`: keys kept published after a rotation (at most 10).",
            brief: "selectors kept published after a rotation (default none)",
        },
        {
            key: "keyBits",
            kind: "integer",
            default: 2048,
            min: 1024,
            max: 4096,
            allowed: [1024, 2048, 3072, 4096],
            doc: "`keyBits`: 2048, 3072 or 4096, for a new selector: a selector keeps the key it was made with (see Rotating).",
            brief: "RSA key size, 2048 (default), 3072 or 4096",
        },
        {
            key: "rotation",
            kind: "map",
            doc: "`rotation`: this domain's rotation calendar, fields as `mailauth:rotation`'s, each over the global one's (see [Rotation on a calendar](#rotation-on-a-calendar)).",
            brief: "this domain's rotation calendar {start, every, publishAhead, retire, revoke}, over mailauth:rotation (default: mailauth:rotation)",
        },
        {
            key: "revokeNow",
            kind: "strings",
            doc: "`revokeNow`: selectors whose record is published revoked (`p=` empty) from this run on, and whose key leaves the host: a leaked key. On a calendar, if the signing selector is listed the next period's signs at once.",
            brief: "selectors published revoked (empty p=) at once, their key removed: a leaked key (default none)",
        },
    ],
} as const satisfies Section;

export const MX = {
    name: "mx",
    shape: "object",
    raw: "json",
    summary: "The mail server (required without mailauth:hosts; with it, only publish and heloSpf, for every host),",
    rows: [
        {
            key: "hostname",
            kind: "string",
            readmeDefault: "(required without `hosts`)",
            doc: "The MX target, e.g. `mail.example.com`. With `hosts`, unset (each host's `hostname`).",
            brief: "the MX target (required without mailauth:hosts)",
        },
        { key: "priority", kind: "integer", default: 10, min: 0, max: 65535, doc: "MX priority.", brief: "default 10" },
        { key: "ipv4", kind: "string", doc: DNS_ADDRESS_DOC, brief: DNS_ADDRESS },
        { key: "ipv6", kind: "string", doc: DNS_ADDRESS_DOC, brief: DNS_ADDRESS },
        {
            key: "publish",
            kind: "boolean",
            default: true,
            doc: "`false` when MX records are managed outside this stack.",
            brief: "false when MX records are managed outside this stack (default true)",
        },
        {
            key: "heloSpf",
            kind: "boolean",
            default: true,
            doc: "Publish the SPF record `v=spf1 a -all` at the MX host name, when the stack publishes that name's address (it lies in one of the domains, `publish` on, and it is not a domain itself). Receivers check the HELO name's SPF for mail with an empty MAIL FROM (bounces, reports: RFC 7208 2.3). `false` leaves that name's TXT records alone.",
            brief: "SPF record v=spf1 a -all at the MX host name, for the HELO check (default true)",
        },
    ],
} as const satisfies Section;

export const SPF = {
    name: "spf",
    shape: "object",
    raw: "json",
    summary: "SPF policy,",
    note: 'The record is "v=spf1 mx <mechanisms> <all>".',
    rows: [
        {
            key: "mechanisms",
            kind: "strings",
            doc: "Extra SPF terms after `mx`, e.g. `ip4:192.0.2.10`, `include:_spf.example.net`. `+all`, `ptr`, `redirect=` and more than 10 DNS-lookup terms are refused; the targets of `include:`, `a:`, `mx:` and `exists:` must be domain names or RFC 7208 macro domain-specs. `include:` of one of the stack's own domains or of `%{d}`/`%{o}` (a loop: permerror) is refused; prefix lengths are plain numbers (`/032` is refused). The `ip4:`/`ip6:` blocks together may cover at most a /8 of public IPv4 and a /16 of public IPv6 space (IPv4 reached through `::ffff:0:0/96` counts as IPv4): more lets anyone there pass SPF as the domain, as `+all` would. `a`/`mx` CIDR lengths no wider than /8 and //16.",
            brief: "extra terms such as ip4:192.0.2.10 or include:_spf.example.net (default none; at most 10 DNS-lookup terms in all)",
        },
        {
            key: "all",
            kind: "choice",
            allowed: ["~all", "-all"],
            default: "~all",
            doc: "`~all` (soft fail, the guide's advice) or `-all`.",
            brief: '"~all" (default) or "-all"',
            refuse: (v) =>
                v === "+all" || v === "all"
                    ? `${show(v)} lets every host on the internet send as your domain; use "~all" (soft fail, the default) or "-all"`
                    : v === "?all"
                      ? `"?all" (neutral) gives receivers nothing to act on; use "~all" (soft fail, the default) or "-all"`
                      : undefined,
        },
    ],
} as const satisfies Section;

export const DMARC = {
    name: "dmarc",
    shape: "object",
    raw: "json",
    summary: "DMARC record at _dmarc,",
    rows: [
        { key: "enabled", kind: "boolean", default: true, doc: "Publish `_dmarc`.", brief: "default true" },
        {
            key: "policy",
            kind: "choice",
            allowed: ["none", "quarantine", "reject"],
            default: "none",
            doc: "`none`, `quarantine` or `reject`. Start with `none` and read the reports.",
            brief: "none (default), quarantine or reject",
        },
        {
            key: "rua",
            kind: "strings",
            doc: "Addresses for aggregate reports (the record must stay under 450 characters): `user@domain` or `mailto:user@domain`, optionally with DMARC's size limit (`!10m`). Letters, digits and `. _ + -` before the `@` (`!` and `,` have meanings of their own in the record).",
            brief: "addresses for aggregate reports",
        },
        {
            key: "subdomainPolicy",
            kind: "choice",
            allowed: ["none", "quarantine", "reject"],
            readmeDefault: "unset (as `policy`)",
            doc: "`sp`: the policy for the domain's subdomains, `none`, `quarantine` or `reject`. Unset, they take `policy`.",
            brief: "sp: none, quarantine or reject for subdomains (default: as policy)",
        },
        {
            key: "nonexistentPolicy",
            kind: "choice",
            allowed: ["none", "quarantine", "reject"],
            readmeDefault: "unset (as `subdomainPolicy`, else `policy`)",
            doc: "`np`: the policy for subdomains that do not exist in DNS, `none`, `quarantine` or `reject`. Unset, they take `subdomainPolicy`, else `policy`.",
            brief: "np: none, quarantine or reject for subdomains that do not exist (default: as subdomainPolicy, else policy)",
        },
        {
            key: "testing",
            kind: "boolean",
            default: false,
            doc: "`true` writes `t=y`: you are testing the policy, and receivers are asked to apply one step less (`quarantine` as `none`, `reject` as `quarantine`). RFC 9989's replacement of `pct`. No effect with `policy` `none`.",
            brief: "true writes t=y, the test flag: receivers apply the policy one step softer (default false)",
        },
        {
            key: "dkimAlignment",
            kind: "choice",
            allowed: ["relaxed", "strict"],
            readmeDefault: "unset (`relaxed`)",
            doc: "`adkim`: `relaxed` (the DKIM signer may be a parent or subdomain of the From domain) or `strict` (the same name). Unset, receivers take `relaxed`.",
            brief: "adkim: relaxed or strict (default: unset, receivers take relaxed)",
        },
        {
            key: "spfAlignment",
            kind: "choice",
            allowed: ["relaxed", "strict"],
            readmeDefault: "unset (`relaxed`)",
            doc: "`aspf`: `relaxed` or `strict`, as `dkimAlignment` for the SPF-checked MAIL FROM domain. Unset, receivers take `relaxed`.",
            brief: "aspf: relaxed or strict (default: unset, receivers take relaxed)",
        },
        {
            key: "ruf",
            kind: "strings",
            doc: "Addresses for failure reports (one per failing message; they may hold the message's headers or content), written as `rua`'s. Few receivers send them.",
            brief: "addresses for failure reports",
        },
        {
            key: "fo",
            kind: "string",
            readmeDefault: "unset (`0`)",
            doc: "When to send failure reports (needs `ruf`): options colon-separated, `0` (all checks failed, receivers' default) or `1` (any failed), `d` (a DKIM signature failed), `s` (SPF failed), e.g. `1:d:s`.",
            brief: "failure report options, e.g. 1 or 1:d:s (needs ruf)",
        },
    ],
} as const satisfies Section;

export const NO_MAIL = {
    name: "noMail",
    shape: "list",
    raw: "json",
    summary: "Names that send no mail (default none), a list of",
    note: "Each gets v=spf1 -all and _dmarc v=DMARC1; p=reject; it must not be a mail domain or the MX host.",
    rows: [
        {
            key: "name",
            kind: "string",
            required: true,
            doc: "Names that send no mail: each gets `v=spf1 -all` and `_dmarc.<name>` `v=DMARC1; p=reject`, so receivers reject mail forged in its name. In a configured domain's zone or in another zone the API token can read (found by name). Not a mail domain, the MX host or a DMARC report address's domain. An entry may be the name alone (`pulumi config set --path 'mailauth:noMail[0]' parked.example.com`).",
            brief: "the name",
        },
        {
            key: "nullMx",
            kind: "boolean",
            default: false,
            doc: "`nullMx`: also the null MX `MX 0 .` (RFC 7505): senders bounce mail to the name at once; refused when the name already has an MX.",
            brief: "also publish the null MX 0 . (RFC 7505; default false)",
        },
    ],
} as const satisfies Section;

export const OPENDKIM = {
    name: "opendkim",
    shape: "object",
    raw: "json",
    summary: "OpenDKIM,",
    rows: [
        {
            key: "reportAddress",
            kind: "string",
            doc: "Sender of OpenDKIM's failure reports (`ReportAddress`). A plain `user@domain`, letters, digits and `. _ + -` before the `@`: OpenDKIM hands it to a shell when it sends a report.",
            readmeDefault: "`postmaster@<first domain>`",
            brief: "sender of failure reports (default postmaster@<first domain>)",
        },
        {
            key: "trustedHosts",
            kind: "strings",
            doc: "Extra hosts or networks whose mail is signed; `127.0.0.1`, `::1` and `*.<domain>` always are. Together they may cover at most a /16 of public IPv4 and a /48 of public IPv6 space (private and special-purpose ranges such as `10.0.0.0/8`, `192.168.0.0/16`, `fc00::/7` may be any size): OpenDKIM signs mail from a trusted host with the domains' real keys, so `0.0.0.0/0`, `::/0`, `2000::/3` or `::ffff:0:0/96` would let anyone who reaches the server send mail that passes DKIM and DMARC. A `*.name` wildcard only within the configured domains.",
            brief: "extra hosts or networks whose mail is signed (127.0.0.1, ::1 and *.<domain> always are)",
        },
        {
            key: "nameservers",
            kind: "strings",
            doc: `Resolvers OpenDKIM asks (\`Nameservers\`); loopback and private addresses are fine, unspecified, link-local and multicast ones refused. Needs ${UNBOUND_NEEDED} (Debian's); EPEL's is not and would ignore it, so the run stops there (point \`/etc/resolv.conf\` at them instead). Empty: OpenDKIM's built-in recursive resolver from the root servers, or the system resolver where it has none (EPEL); \`opendkim -V\` on the host decides, and opendkim.conf says which.`,
            brief: "resolvers OpenDKIM asks (default its own recursive resolver)",
        },
        {
            key: "milterTransport",
            kind: "choice",
            allowed: ["auto", "unix", "inet"],
            default: "auto",
            doc: "`auto`: a unix socket on Debian/Ubuntu (inside Postfix's queue directory, as smtpd is chrooted there; 1.7x the inet socket's signed-mail throughput in [BENCHMARKS.md](BENCHMARKS.md)), the guide's `inet:127.0.0.1:8891` on EL (SELinux already allows it). Or force `unix` / `inet`. `unix` on EL: `/run/opendkim/opendkim.sock`, which SELinux labels for OpenDKIM (`dkim_milter_data_t`; the queue directory's `postfix_spool_t` is refused to it), reached by absolute path: the run stops, saying why, if master.cf chroots smtpd or cleanup or SELinux does not label that directory so.",
            brief: "auto (default: unix socket on Debian/Ubuntu, inet on EL), unix or inet",
        },
    ],
} as const satisfies Section;

/**
 * The SPF policy agent's options (policyd-spf.conf): python3-spf-engine / postfix-policyd-spf-python
 * 3.0.4-2. Its defaults, spf_engine/policydspfsupp.py:34-38: HELO_reject and Mail_From_reject
 * `Fail`, skip_addresses `127.0.0.0/8,::ffff:127.0.0.0/104,::1`. The values it acts on,
 * spf_engine/__init__.py: HELO_reject SPF_Not_Pass, Softfail, Fail, Null (:124,134,143), False
 * (:186), No_Check (:542); Mail_From_reject the same but for Null (:159,169,178,186,647), which
 * only the HELO check knows (:566).
 */
export const POLICYD_SPF_DEFAULT_SKIP = ["127.0.0.0/8", "::ffff:127.0.0.0/104", "::1"] as const;
export const HELO_REJECT = ["SPF_Not_Pass", "Softfail", "Fail", "Null", "False", "No_Check"] as const;
export const MAIL_FROM_REJECT = ["SPF_Not_Pass", "Softfail", "Fail", "False", "No_Check"] as const;

/** A lowercase false/true the CLI turned into a boolean (`--path`): policyd-spf compares its words exactly. */
function capitalFalse(v: unknown): string | undefined {
    return v === false || v === true || v === "false" || v === "true"
        ? `policyd-spf reads its words with their capitals, so ${String(v)} would not be understood; use "False" (never reject, add a header only) or one of the other values`
        : undefined;
}

export const POLICYD_SPF = {
    name: "policydSpf",
    shape: "object",
    raw: "json",
    summary: "The SPF policy agent's options (policyd-spf.conf; only the keys set are written, destroy puts back the file's own),",
    rows: [
        {
            key: "skipAddresses",
            kind: "strings",
            readmeDefault: "the package's `127.0.0.0/8`, `::ffff:127.0.0.0/104`, `::1`",
            doc: "`skip_addresses`: networks (CIDR, e.g. `192.0.2.17`, `198.51.100.0/24`, `2001:db8:1::/48`) whose mail is not SPF-checked: your backup MX and the relays that forward mail to this server (their address is not the sender's, so SPF would fail). The package's own loopback entries are always kept; the list written is theirs and these, in place of the file's `skip_addresses` (list there what else you skip). Each must be an IPv4 or IPv6 network with no host bits set (`192.0.2.0/24`, not `192.0.2.1/24`): policyd-spf stops reading the list at the first entry it cannot read. Not `0.0.0.0/0` or `::/0` (use `mailFromReject`/`heloReject` `No_Check` to stop checking).",
            brief: "networks not SPF-checked: backup MX, relays forwarding to this server (added to the package's 127.0.0.0/8,::ffff:127.0.0.0/104,::1)",
        },
        {
            key: "heloReject",
            kind: "choice",
            allowed: HELO_REJECT,
            readmeDefault: "unset (the package's `Fail`)",
            doc: "`HELO_reject`: `SPF_Not_Pass` (reject unless Pass, None or a temporary error), `Softfail` (reject Softfail and Fail), `Fail` (the package's default), `Null` (reject a Fail only for mail with an empty MAIL FROM), `False` (never reject, add a header only), `No_Check` (do not check the HELO name). Unset: the file's own line is left as it is.",
            brief: "HELO_reject: SPF_Not_Pass, Softfail, Fail, Null, False or No_Check (default: unset, the file's own; the package's is Fail)",
            refuse: capitalFalse,
        },
        {
            key: "mailFromReject",
            kind: "choice",
            allowed: MAIL_FROM_REJECT,
            readmeDefault: "unset (the package's `Fail`)",
            doc: "`Mail_From_reject`: `SPF_Not_Pass`, `Softfail`, `Fail` (the package's default), `False` or `No_Check`, as `heloReject` for the MAIL FROM domain (`Null` is the HELO check's only). Unset: the file's own line is left as it is.",
            brief: "Mail_From_reject: SPF_Not_Pass, Softfail, Fail, False or No_Check (default: unset, the file's own; the package's is Fail)",
            refuse: capitalFalse,
        },
    ],
} as const satisfies Section;

export const ADOPT_RECORDS = {
    name: "adoptRecords",
    shape: "value",
    raw: "text",
    type: "boolean",
    summary:
        "Take over records already in the zone at the names the stack publishes (SPF, MX, DMARC and its report authorizations, the MX host's A/AAAA and SPF, the noMail names' records), in the same pulumi up; pulumi destroy puts them back as they were. DKIM selectors are never taken over (a record publishing a key you give in dkimKeys is imported instead). Default false: such records stop the run at preview.",
    rows: [
        {
            key: "adoptRecords",
            kind: "boolean",
            default: false,
            doc: "Take over records already at the names the stack publishes; `pulumi destroy` puts them back. See [Your zone already has records](#your-zone-already-has-records).",
            brief: "",
        },
    ],
} as const satisfies Section;

export const IMPORT_RECORDS = {
    name: "importRecords",
    shape: "value",
    raw: "elsewhere",
    summary:
        "Records already in the zone that the stack's records take over by import, a map of the stack's record resource name (e.g. example.com-spf) to \"<zone id>/<record id>\"; the preview prints the command for each record in the way. Taken over in the next pulumi up with the stack's value and comment (Pulumi CLI 3.174 or later); pulumi destroy then deletes them.",
    rows: [
        {
            key: "importRecords",
            kind: "map",
            doc: 'Records already in the zone that the stack\'s records take over by import (`{"example.com-spf": "<zone id>/<record id>"}`, as the preview prints it); `pulumi destroy` then deletes them. See [Your zone already has records](#your-zone-already-has-records).',
            brief: "",
        },
    ],
} as const satisfies Section;

export const DKIM_KEYS = {
    name: "dkimKeys",
    shape: "value",
    raw: "elsewhere",
    summary:
        'Your own DKIM private keys, for selectors already published with them (migrating a domain): a map of "<domain>/<selector>" to a PEM private key, each set with --secret (pulumi config set --secret --path \'mailauth:dkimKeys["example.com/mail"]\' < key.pem). RSA, 1024 to 4096 bits (RFC 8301). The stack makes no key for such a selector; a record already there that publishes that key is imported (importRecords, as the preview prints), one with another key stops the run. Default none: the stack makes every key.',
    rows: [
        {
            key: "dkimKeys",
            kind: "map",
            doc: 'Your own private key per selector, `{"<domain>/<selector>": "<PEM>"}`, each set with `--secret` (a key in plain text is refused): the stack makes no key for that selector, publishes the record of yours and installs yours. RSA, 1024 to 4096 bits (RFC 8301 3.2; under 2048 a warning); a public key, an encrypted key or another type is refused before anything changes. A record already at the selector that publishes that key is imported (`importRecords`, as the preview prints: never deleted first); one with another key stops the run. See [Migrating a domain with its existing key](#migrating-a-domain-with-its-existing-key).',
            brief: "",
        },
    ],
} as const satisfies Section;

export const SSH = {
    name: "ssh",
    shape: "object",
    raw: "json",
    summary: "SSH connection to the mail server (required without mailauth:hosts; with it, unset: each host's ssh* fields),",
    rows: [
        {
            key: "host",
            kind: "string",
            readmeDefault: "(required without `hosts`)",
            doc: "Address or name of the server (a single-label name from `/etc/hosts` works too). With `hosts`, unset (each host's `sshHost`).",
            brief: "address or name of the server (required without mailauth:hosts)",
        },
        { key: "port", kind: "integer", default: 22, min: 1, max: 65535, doc: "SSH port.", brief: "default 22" },
        {
            key: "user",
            kind: "string",
            default: "root",
            doc: "`root`, or a user with passwordless sudo (commands then run with `sudo -n`).",
            brief: "root (default) or a user with passwordless sudo",
        },
        {
            key: "hostKey",
            kind: "string",
            doc: "The server's public host key to pin: `ssh-ed25519 AAAA...` or `ecdsa-sha2-nistp256 AAAA...`, parsed before anything runs. Not `ssh-rsa`: pulumi-command then offers only SHA-1 `ssh-rsa`, which OpenSSH 8.8+ and EL9 refuse. An empty value is refused (what `ssh-keyscan` leaves when it finds nothing). Unset, the host key is not checked at all, and preview says so in a warning.",
            brief: 'the server\'s public host key to pin, e.g. "ssh-ed25519 AAAA..." from ssh-keyscan (recommended)',
            refuse: emptyHostKey,
        },
    ],
} as const satisfies Section;

/**
 * `mailauth:hosts`: several mail hosts (issue 21; design: the MX hosts with their priorities, the
 * relays that sign and send). Replaces mailauth:ssh and mx.hostname/priority/ipv4/ipv6.
 */
export const HOSTS = {
    name: "hosts",
    shape: "list",
    raw: "json",
    summary: "Several mail hosts, in place of mailauth:ssh and mx.hostname/priority/ipv4/ipv6 (default none: the one host of ssh and mx), a list of",
    note: "At least one with mx and one relay; one mailauth:sshPrivateKey for all.",
    rows: [
        {
            key: "hostname",
            kind: "string",
            required: true,
            doc: "Several mail hosts (see [Several hosts](docs/several-hosts.md)), each `hostname`: its name (MX target, HELO name, PTR target), unique.",
            brief: "the host's name (MX target, HELO name, PTR target)",
        },
        {
            key: "ipv4",
            kind: "string",
            doc: "`ipv4`, `ipv6`: its addresses, A/AAAA published when the name lies in one of the domains, SPF `ip4:`/`ip6:` for a relay that is not an MX, checked by the check (reverse DNS).",
            brief: "its addresses: A/AAAA when hostname lies in one of the domains; SPF ip4:/ip6: for a relay that is no MX",
        },
        {
            key: "ipv6",
            kind: "string",
            doc: "",
            brief: "its addresses: A/AAAA when hostname lies in one of the domains; SPF ip4:/ip6: for a relay that is no MX",
        },
        {
            key: "mx",
            kind: "integer",
            min: 0,
            max: 65535,
            doc: "`mx`: its MX priority, 0 to 65535 (unset: not an MX).",
            brief: "its MX priority, 0 to 65535 (default: not an MX)",
        },
        {
            key: "relay",
            kind: "boolean",
            default: true,
            doc: "`relay` (default `true`): it sends the domains' mail, signs with their DKIM keys and SPF covers it; `false`: an inbound-only backup MX (no keys).",
            brief: "it sends and signs the domains' mail (default true; false: an inbound-only backup MX, no keys)",
        },
        {
            key: "selector",
            kind: "string",
            doc: "`selector` (a relay only; default: the domains' own): the host signs every domain's mail with a key of its own under this selector, so that it can be rotated or removed alone (see [A key per host](docs/several-hosts.md#a-key-per-host)); not with a rotation calendar, and unlike every domain's and other host's selector.",
            brief: "a key of its own: the selector it signs every domain's mail with (a relay only; default: the domains' shared key; not with a rotation calendar)",
        },
        {
            key: "previousSelectors",
            kind: "strings",
            doc: "`previousSelectors`: its own old selectors, kept published and installed on it after a rotation, as a domain's `previousSelectors` (at most 10).",
            brief: "its own selectors kept published after a rotation (default none)",
        },
        {
            key: "sshHost",
            kind: "string",
            doc: "`sshHost` (default `ipv4`, else `hostname`), `sshPort` (22), `sshUser` (`root`), `sshHostKey`: as `ssh.host`, `ssh.port`, `ssh.user`, `ssh.hostKey`.",
            brief: "SSH address (default ipv4, else hostname)",
        },
        { key: "sshPort", kind: "integer", default: 22, min: 1, max: 65535, doc: "", brief: "default 22" },
        { key: "sshUser", kind: "string", default: "root", doc: "", brief: "root (default) or a user with passwordless sudo" },
        { key: "sshHostKey", kind: "string", doc: "", brief: "its public host key to pin (recommended)", refuse: emptyHostKey },
    ],
} as const satisfies Section;

export const SSH_PRIVATE_KEY = {
    name: "sshPrivateKey",
    shape: "value",
    raw: "secret",
    type: "string",
    required: true,
    summary: "The SSH private key, set with --secret (pulumi config set --secret mailauth:sshPrivateKey < ~/.ssh/mailauth); without a passphrase.",
    rows: [
        {
            key: "sshPrivateKey",
            kind: "secret",
            required: true,
            doc: "The SSH private key, set with `--secret` (the CLI refuses it in plain text). A key with a passphrase is refused before anything runs: pulumi-command cannot use it.",
            readmeDefault: "(required, secret)",
            brief: "",
        },
    ],
} as const satisfies Section;

export const TTL = {
    name: "ttl",
    shape: "value",
    raw: "text",
    type: "integer",
    summary: "TTL of every record in seconds, 60 to 86400, or 1 for Cloudflare's automatic TTL (the default).",
    rows: [
        {
            key: "ttl",
            kind: "integer",
            default: 1,
            min: 60,
            max: 86400,
            also: [1],
            allowedText: "1 (automatic) or a number of seconds from 60 to 86400",
            doc: "TTL of every record: `1` or 60–86400 seconds.",
            readmeDefault: "`1` (automatic)",
            brief: "",
        },
    ],
} as const satisfies Section;

/** A rotation calendar's durations: `<n>d`, a whole number of days from 1 to 3650 (components/rotation.ts). */
const DAYS = "a number of days such as 180d (1d to 3650d)";

export const ROTATION = {
    name: "rotation",
    shape: "object",
    raw: "json",
    summary: "DKIM rotation on a calendar for every domain (a domain's own rotation fields go over it); unset: manual rotation,",
    note: "Period k starts at start + k*every (UTC) and its selector is k<YYYYMMDD>.",
    rows: [
        {
            key: "start",
            kind: "string",
            readmeDefault: "(required for a calendar)",
            doc: "The first period's start, a UTC date `YYYY-MM-DD` (midnight UTC). The domain's `selector` signs until then. See [Rotation on a calendar](#rotation-on-a-calendar).",
            brief: "first period's start, a UTC date YYYY-MM-DD (the domain's selector signs until then)",
        },
        {
            key: "every",
            kind: "string",
            default: "180d",
            doc: `How long each selector signs, ${DAYS}.`,
            brief: "period length, default 180d",
        },
        {
            key: "publishAhead",
            kind: "string",
            default: "3d",
            doc: `How long before its period the next selector is published (record and key, not signing), ${DAYS}, less than \`every\`.`,
            brief: "the next key is published this long before it signs, default 3d",
        },
        {
            key: "retire",
            kind: "string",
            default: "7d",
            doc: `How long the previous selector stays published with its key after it stops signing, ${DAYS}, less than \`revoke\`. Counted from the latest day the signing gate may switch, itself \`retire\` days after the period starts (docs/rotation-calendar.md, The overlap): the old key stays \`2 * retire\` days after the period's start.`,
            brief: "the previous key stays published this long after it stops signing, default 7d",
        },
        {
            key: "revoke",
            kind: "string",
            default: "30d",
            doc: `When, after it stops signing (counted as \`retire\` is), the previous selector's record is removed; from \`retire\` until then it is published revoked (\`p=\` empty) and its key file is gone. ${DAYS}; \`retire + revoke\` at most 10 times \`every\`.`,
            brief: "its revoked record (empty p=) is removed this long after it stops signing, default 30d",
        },
    ],
} as const satisfies Section;

export const NOW = {
    name: "now",
    shape: "value",
    raw: "text",
    type: "string",
    summary:
        "The date the rotation calendar takes as today, a UTC date (YYYY-MM-DD) or date-time (YYYY-MM-DDTHH:MM:SSZ); default empty: the clock. For tests, and for planning: pulumi preview with a future now shows what that day's up does.",
    rows: [
        {
            key: "now",
            kind: "string",
            // Pulumi.yaml must give it a default: a declared key without one is required by the CLI.
            default: "",
            readmeDefault: "the clock",
            doc: "The date the rotation calendar takes as today (UTC date or date-time): `pulumi preview` with a future `now` shows what that day's `up` does.",
            brief: "",
        },
    ],
} as const satisfies Section;

/** The longest the key test may wait for DNS to show a key (it holds `pulumi up` that long). */
export const MAX_TEST_SECONDS = 1800;

export const TEST_KEY = {
    name: "testKey",
    shape: "object",
    raw: "json",
    summary: 'The guide\'s key check after provisioning: opendkim-testkey on the host until "key OK" or the timeout,',
    rows: [
        { key: "enabled", kind: "boolean", default: true, doc: "Run `opendkim-testkey` for each domain after provisioning.", brief: "default true" },
        {
            key: "timeoutSeconds",
            kind: "integer",
            default: 300,
            min: 0,
            max: MAX_TEST_SECONDS,
            doc: "How long to retry until `key OK` (DNS propagation), 0 to 1800 (it holds `pulumi up` that long); the verdict is the `testKey` output either way.",
            brief: `seconds, default 300, at most ${MAX_TEST_SECONDS}`,
        },
    ],
} as const satisfies Section;

export const CHECK = {
    name: "check",
    shape: "object",
    raw: "json",
    summary: "After pulumi up, what receivers conclude from the published DNS (the check stack output, npm run check),",
    rows: [
        {
            key: "enabled",
            kind: "boolean",
            default: true,
            doc: "Check after every `pulumi up` (not at preview) and export the `check` output; see [Checking what receivers see](#checking-what-receivers-see).",
            brief: "default true",
        },
        {
            key: "resolvers",
            kind: "strings",
            readmeDefault: "empty (the system's resolvers)",
            doc: "The resolvers the check asks, from the machine running `pulumi`: IP addresses, each optionally with a port (`192.0.2.53:5353`, `[2001:db8::53]:5353`). Empty: the system's resolvers (`/etc/resolv.conf`). Recursive resolvers: an authoritative-only server refuses the names above your zones that the DMARC tree walk asks (`_dmarc.com`), and the check reports that as a DNS error.",
            brief: "resolvers the check asks, IP addresses with an optional port (default the system's)",
        },
        {
            key: "starttls",
            kind: "boolean",
            default: false,
            doc: "Also connect to port 25 of each host address from the machine running `pulumi` (EHLO, STARTTLS) and check the certificate offered: it covers `mx.hostname` and is in date (a fail), and chains to a public CA (a self-signed or unknown issuer is a warning). Off by default: many networks block outbound port 25.",
            brief: "check STARTTLS on port 25 and its certificate (default false)",
        },
    ],
} as const satisfies Section;

/**
 * What `ssh-keyscan ... | cut` leaves when it finds nothing (wrong port, key type, host): taken as
 * "no pin", it would turn host-key checking off without a word.
 */
function emptyHostKey(v: unknown, path: string): string | undefined {
    return typeof v === "string" && v.trim() === ""
        ? `is empty (did ssh-keyscan find nothing? check its -p PORT and -t ed25519,ecdsa); set the server's key, or remove the setting to connect without checking it: pulumi config rm --path '${path}'`
        : undefined;
}

/** Every setting, in the order Pulumi.yaml and the README list them. */
export const SECTIONS: readonly Section[] = [
    DOMAINS,
    ROTATION,
    NOW,
    MX,
    SPF,
    DMARC,
    NO_MAIL,
    OPENDKIM,
    POLICYD_SPF,
    ADOPT_RECORDS,
    IMPORT_RECORDS,
    DKIM_KEYS,
    SSH,
    HOSTS,
    SSH_PRIVATE_KEY,
    TTL,
    TEST_KEY,
    CHECK,
];

// --- Types from the tables ---------------------------------------------------------------------

type Rows<S extends Section> = S["rows"][number];
/** A row's value as the reader gives it: a string may be missing (unset, or refused). */
export type ReadValue<R> = R extends { kind: "integer"; default: number }
    ? number
    : R extends { kind: "integer" }
      ? number | undefined
      : R extends { kind: "boolean" }
        ? boolean
        : R extends { kind: "strings" }
          ? string[]
          : R extends { kind: "map" }
            ? unknown
            : R extends { kind: "choice"; allowed: readonly (infer A)[] }
              ? R extends { default: string }
                  ? A
                  : A | undefined
              : R extends { kind: "string"; default: string }
                ? string
                : string | undefined;
/** What the reader gives for a section: each row's value by key. */
export type Read<S extends Section> = { [R in Rows<S> as R["key"]]: ReadValue<R> };

type Optional<R> = R extends { required: true } | { default: unknown } ? never : R extends { kind: "string" | "choice" | "integer" } ? R : never;
/** A section's settings once validated: a string or choice neither required nor defaulted is optional. */
export type Values<S extends Section> = { [R in Exclude<Rows<S>, Optional<Rows<S>>> as R["key"]]: Exclude<ReadValue<R>, undefined> } & {
    [R in Optional<Rows<S>> as R["key"]]?: Exclude<ReadValue<R>, undefined>;
};
