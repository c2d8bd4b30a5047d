/**
 * Every setting with hostile and absurd values (issue 22), through the program's own validation as
 * `pulumi preview` runs it: the example stack, one value changed as `pulumi config set --path` stores
 * it (test/cli.ts: strings, with "true"/"false" and plain integers turned into booleans and numbers),
 * the CLI's own checks, then the program under Pulumi's mocks with the Cloudflare fake answering the
 * zone check. Each row says what must happen: refused (the message must name the setting, say what is
 * allowed, and show the value escaped, with no stack trace) or accepted (deliberately: the reason is in
 * the row's note). Zone records with hostile content go through the same check at the end.
 */
import { describe, expect, it } from "vitest";
import { configSet, StackConfig } from "../cli";
import { FakeCloudflare } from "../cloudflare";
import { exampleConfig, runProgram } from "../harness";
import { checkZones, DomainPlan } from "../../components/zone";
import { legacyComment } from "../../components/stackMarker";
import { show } from "../../components/validate/show";
import { KNOWN_SCRIPTS, scriptOf } from "../../components/validate/names";
import { zoneReaderOf } from "../cloudflare";
// Internal to the SDK, as test/harness.ts uses it: "every outstanding resource RPC has finished".
const { waitForRPCs } = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs: () => Promise<void> };

type Verdict = "accepted" | RegExp;

interface Row {
    /** The key as typed after `pulumi config set --path`, e.g. `mailauth:mx.hostname`. */
    key: string;
    /** The value as typed (a string), or a structured value put in the stack file as is. */
    value: unknown;
    verdict: Verdict;
    /** Why a hostile value is accepted, or what the refusal protects. */
    note?: string;
    /** Further changes to the stack, applied after the value (e.g. an MX that fits the domains). */
    also?: (stack: StackConfig) => void;
    /** The Cloudflare account's zones (name -> id); default: the example's two zones. */
    zones?: Record<string, string>;
}

const ZONES = { "example.com": "0123456789abcdef0123456789abcdef", "example.org": "fedcba9876543210fedcba9876543210" };
const ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

/** What a shell, a config file or a terminal would read as something else. */
const META = [
    ["command substitution", "$(touch /tmp/pwned)"],
    ["backticks", "`id`"],
    ["a semicolon", "x;reboot"],
    ["a single quote", "x'y"],
    ["a double quote", 'x"y'],
    ["a newline", "x\ny"],
    ["a CR", "x\ry"],
    ["a NUL", "x\u0000y"],
    ["an escape sequence", "x\u001b[2Jy"],
    ["a bidi override", "x\u202ey"],
    ["a zero-width space", "x\u200by"],
    ["a soft hyphen", "x\u00ady"],
    ["a language tag (a format character past the BMP)", "x\u{e0001}y"],
    ["a space", "x y"],
    ["a comment mark", "x#y"],
    ["an option", "-oProxyCommand=touch /tmp/pwned"],
    ["a wildcard", "*"],
    ["a path", "/etc/shadow"],
    ["a data set", "refile:/etc/shadow"],
    ["4,000 characters", "a".repeat(4000)],
] as const;

/** Every string setting: each META value is refused by it. */
const STRING_SETTINGS = [
    "mailauth:domains[0].name",
    "mailauth:domains[0].zoneId",
    "mailauth:domains[0].selector",
    "mailauth:domains[0].previousSelectors[0]",
    "mailauth:mx.hostname",
    "mailauth:mx.ipv4",
    "mailauth:mx.ipv6",
    "mailauth:spf.mechanisms[0]",
    "mailauth:spf.all",
    "mailauth:dmarc.policy",
    "mailauth:dmarc.rua[0]",
    "mailauth:noMail[0].name",
    "mailauth:opendkim.reportAddress",
    "mailauth:opendkim.trustedHosts[0]",
    "mailauth:opendkim.nameservers[0]",
    "mailauth:opendkim.milterTransport",
    "mailauth:ssh.host",
    "mailauth:ssh.user",
    "mailauth:ssh.hostKey",
];

/** The setting a key names, as messages name it: `mailauth:mx.hostname`, `mailauth:domains[0].name`. */
function settingOf(key: string): string {
    return key.replace(/\[\d+\]$/, "");
}

const metaRows: Row[] = STRING_SETTINGS.flatMap((key) => META.map(([, value]): Row => ({ key, value, verdict: new RegExp(escapeRe(settingOf(key))) })));

const mxInOrg = (stack: StackConfig) => configSet(stack, "mailauth:mx.hostname", "mail.example.org", { path: true });

// Values that look like a setting's own kind, but are not what a careful mail admin would let through.
const rows: Row[] = [
    // Domain names: IDN, look-alikes, encodings, wildcards, public suffixes, duplicates.
    {
        key: "mailauth:domains[0].name",
        value: "exаmple.com",
        verdict: /domains\[0\]\.name: "exаmple\.com" is not a domain name \(.*\): .*xn--exmple-4nf\.com.*mixes Latin and Cyrillic/,
        note: "Cyrillic а (U+0430)",
    },
    {
        key: "mailauth:domains[0].name",
        value: "xn--exmple-4nf.com",
        verdict: /domains\[0\]\.name: .*mixes Latin and Cyrillic letters .*"а" \(U\+0430, Cyrillic\)/,
        note: "the same look-alike as its A-label",
    },
    { key: "mailauth:domains[0].name", value: "xn--a.com", verdict: /domains\[0\]\.name: "xn--a\.com" is not a domain name \(.*\): .*not valid punycode/ },
    { key: "mailauth:domains[0].name", value: "xn--ls8h.la", verdict: /domains\[0\]\.name: .*a symbol IDNA2008 does not allow/, note: "an emoji domain" },
    { key: "mailauth:domains[0].name", value: "пример.рф", verdict: /domains\[0\]\.name: .*written in Unicode.*write "xn--e1afmkfd\.xn--p1ai"/ },
    { key: "mailauth:domains[0].name", value: "ab--cd.com", verdict: /domains\[0\]\.name: .*reserved for encoded names \(RFC 5891/ },
    { key: "mailauth:domains[0].name", value: "*.example.com", verdict: /domains\[0\]\.name: "\*\.example\.com" is not a domain name/ },
    { key: "mailauth:domains[0].name", value: "com", verdict: /domains\[0\]\.name: "com" is not a domain name/ },
    { key: "mailauth:domains[0].name", value: "a..example.com", verdict: /domains\[0\]\.name: .*empty label/ },
    { key: "mailauth:domains[0].name", value: `${"a".repeat(64)}.com`, verdict: /domains\[0\]\.name: .*label of 64 characters/ },
    {
        key: "mailauth:domains[0].name",
        value: "example.net..",
        verdict: /domains\[0\]\.name: "example\.net\.\." is not a domain name .*empty label/,
        note: "one trailing dot is the root; a second made the records' names end in a dot",
    },
    { key: "mailauth:mx.hostname", value: "mail.example.com..", verdict: /mx\.hostname: "mail\.example\.com\.\." is not a host name: .*empty label/ },
    { key: "mailauth:domains[0].name", value: "example.123", verdict: /domains\[0\]\.name: .*no letter/ },
    {
        key: "mailauth:domains[0].name",
        value: "Example.ORG.",
        verdict: /mailauth:domains: domain "example\.org" is listed twice/,
        note: "the other domain, in capitals with a trailing dot",
    },
    {
        key: "mailauth:domains[1].name",
        value: "co.uk",
        verdict: /mailauth: Cloudflare: [\s\S]*co\.uk: zoneId fedcba9876543210fedcba9876543210 is the zone example\.org, which does not hold co\.uk/,
        note: "a public suffix: Cloudflare holds no zone for one (its apex must be one label below a public suffix), so the zone check refuses it",
    },
    {
        key: "mailauth:domains[1].name",
        value: "co.uk",
        also: (s) => {
            delete (s.values["mailauth:domains"] as any[])[1].zoneId;
        },
        zones: { ...ZONES, "example.co.uk": "0000000000000000000000000000c0uk" },
        verdict: /mailauth: Cloudflare: [\s\S]*co\.uk: no zone the API token can read holds co\.uk/,
        note: "found by name, in an account that holds a domain under it",
    },
    {
        key: "mailauth:domains[0].name",
        value: "sub.example.org",
        also: (s) => {
            delete (s.values["mailauth:domains"] as any[])[0].zoneId;
            mxInOrg(s);
        },
        verdict: "accepted",
        note: "a subdomain of another managed domain: its own SPF, MX, DMARC and selectors, distinct names in the parent's zone",
    },
    {
        key: "mailauth:domains[0].previousSelectors",
        value: Array.from({ length: 11 }, (_, i) => `old${i}`),
        verdict: /domains\[0\]\.previousSelectors: 11 selectors; at most 10/,
        note: "each a key, a record and a KeyTable line",
    },
    { key: "mailauth:domains[0].previousSelectors", value: Array.from({ length: 10 }, (_, i) => `old${i}`), verdict: "accepted" },
    {
        key: "mailauth:domains[0].selector",
        value: "xn--a",
        verdict: /domains\[0\]\.selector: "xn--a" is not a valid selector/,
        note: "invalid punycode as a DNS label",
    },
    { key: "mailauth:domains[0].selector", value: "_domainkey", verdict: /domains\[0\]\.selector: "_domainkey" is not a valid selector/ },
    { key: "mailauth:domains[0].selector", value: "20270601", verdict: "accepted", note: "stored as a number by --path, taken as typed" },
    {
        key: "mailauth:domains[0].selector",
        value: "99999999999999999999",
        verdict: "accepted",
        note: "past 2^64 the CLI keeps it a string: twenty digits, a valid DNS label",
    },
    {
        key: "mailauth:domains[0].selector",
        value: "9999999999999999999",
        verdict: /domains\[0\]\.selector: the number .* is too long to keep exactly/,
        note: "under 2^64 the CLI makes it a number that JavaScript cannot hold exactly",
    },
    // Key sizes as the CLI stores them.
    { key: "mailauth:domains[0].keyBits", value: "4096", verdict: "accepted" },
    { key: "mailauth:domains[0].keyBits", value: "16384", verdict: /domains\[0\]\.keyBits: must be a whole number from 1024 to 4096/ },
    { key: "mailauth:domains[0].keyBits", value: "-2048", verdict: /domains\[0\]\.keyBits: must be a whole number/ },
    { key: "mailauth:domains[0].keyBits", value: "2048.0", verdict: /domains\[0\]\.keyBits: must be a whole number/ },
    { key: "mailauth:domains[0].keyBits", value: "0x800", verdict: /domains\[0\]\.keyBits: must be a whole number/ },
    { key: "mailauth:domains[0].keyBits", value: "1e4", verdict: /domains\[0\]\.keyBits: must be a whole number/ },
    { key: "mailauth:domains[0].keyBits", value: "99999999999999999999999", verdict: /domains\[0\]\.keyBits: must be a whole number/ },
    { key: "mailauth:domains[0].keyBits", value: "true", verdict: /domains\[0\]\.keyBits: must be a whole number/ },
    // The MX host and its addresses.
    { key: "mailauth:mx.hostname", value: "mail.exаmple.com", verdict: /mx\.hostname: .*mixes Latin and Cyrillic|mx\.hostname: .*not a host name/ },
    { key: "mailauth:mx.hostname", value: "xn--a.example.com", verdict: /mx\.hostname: "xn--a\.example\.com" is not a host name: .*punycode/ },
    { key: "mailauth:mx.hostname", value: "*.example.com", verdict: /mx\.hostname: "\*\.example\.com" is not a host name/ },
    { key: "mailauth:mx.hostname", value: "mail.example.com:25", verdict: /mx\.hostname: .*is not a host name/ },
    {
        key: "mailauth:mx.hostname",
        value: "192.0.2.25",
        verdict: /mx\.hostname: "192\.0\.2\.25" is not a host name/,
        note: "an MX target must be a name (RFC 7505 aside)",
    },
    { key: "mailauth:mx.priority", value: "65536", verdict: /mx\.priority: must be a whole number from 0 to 65535/ },
    { key: "mailauth:mx.priority", value: "-1", verdict: /mx\.priority: must be a whole number/ },
    { key: "mailauth:mx.ipv4", value: "0x7f000001", verdict: /mx\.ipv4: "0x7f000001" is not an IPv4 address/ },
    { key: "mailauth:mx.ipv4", value: "127.1", verdict: /mx\.ipv4: "127\.1" is not an IPv4 address/ },
    { key: "mailauth:mx.ipv4", value: "192.000.002.025", verdict: /mx\.ipv4: .* is not an IPv4 address/, note: "leading zeros: octal to some parsers" },
    { key: "mailauth:mx.ipv4", value: "0.0.0.0", verdict: /mx\.ipv4: "0\.0\.0\.0" is an unspecified/ },
    { key: "mailauth:mx.ipv4", value: "255.255.255.255", verdict: /mx\.ipv4: .* is a reserved or broadcast address/ },
    { key: "mailauth:mx.ipv6", value: "::ffff:192.0.2.25", verdict: /mx\.ipv6: .* is an IPv4-mapped address/ },
    { key: "mailauth:mx.ipv6", value: "::", verdict: /mx\.ipv6: "::" is the unspecified address/ },
    { key: "mailauth:mx.ipv6", value: "[2001:db8::25]", verdict: /mx\.ipv6: .* is not an IPv6 address/ },
    { key: "mailauth:mx.ipv6", value: "2001:DB8:0:0::25", verdict: "accepted", note: "published as Cloudflare stores it, 2001:db8::25" },
    { key: "mailauth:mx.publish", value: "yes", verdict: /mx\.publish: must be true or false/ },
    // SPF terms that authorise everyone by another spelling, or do nothing but fail.
    {
        key: "mailauth:spf.mechanisms[0]",
        value: "a/0",
        verdict: /spf\.mechanisms: "a\/0" .*every address|spf\.mechanisms: "a\/0".*\/0/,
        note: "every IPv4 address whose first 0 bits match the domain's A record: all of them, as +all",
    },
    { key: "mailauth:spf.mechanisms[0]", value: "mx/1", verdict: /spf\.mechanisms: "mx\/1"/ },
    { key: "mailauth:spf.mechanisms[0]", value: "a//0", verdict: /spf\.mechanisms: "a\/\/0"/ },
    { key: "mailauth:spf.mechanisms[0]", value: "a:relay.example.net/4//8", verdict: /spf\.mechanisms: "a:relay\.example\.net\/4\/\/8"/ },
    { key: "mailauth:spf.mechanisms[0]", value: "a/8", verdict: "accepted", note: "the widest the SPF line (a /8 of IPv4) allows around each address" },
    { key: "mailauth:spf.mechanisms[0]", value: "mx//16", verdict: "accepted" },
    { key: "mailauth:spf.mechanisms[0]", value: "IP4:0.0.0.0/0", verdict: /spf\.mechanisms: IP4:0\.0\.0\.0\/0 together authorise/ },
    { key: "mailauth:spf.mechanisms[0]", value: "ip6:::ffff:0:0/96", verdict: /spf\.mechanisms: ip6:::ffff:0:0\/96 together authorise \d+ public IPv4/ },
    { key: "mailauth:spf.mechanisms[0]", value: "-ip4:0.0.0.0/0", verdict: "accepted", note: "fail for everyone else: authorises no one" },
    { key: "mailauth:spf.mechanisms[0]", value: "include:%{d}", verdict: /spf\.mechanisms: "include:%\{d\}" includes the domain's own record/ },
    {
        key: "mailauth:spf.mechanisms[0]",
        value: "include:example.org",
        verdict: /spf\.mechanisms: "include:example\.org" includes the domain's own record/,
        note: "another managed domain's record is the same mx ~all: a loop for it",
    },
    { key: "mailauth:spf.mechanisms[0]", value: "include:_spf.exаmple.net", verdict: /spf\.mechanisms: .* is not a domain name/ },
    {
        key: "mailauth:spf.mechanisms[0]",
        value: "include:_spf.xn--a.com",
        verdict: /spf\.mechanisms: "include:_spf\.xn--a\.com": "_spf\.xn--a\.com" is not a name receivers can look up: .*not valid punycode/,
        note: "no record there: permerror for every message",
    },
    { key: "mailauth:spf.mechanisms[0]", value: "a:mail.xn--exmple-4nf.com", verdict: /spf\.mechanisms: .*mixes Latin and Cyrillic/ },
    { key: "mailauth:spf.mechanisms[0]", value: "include:_spf.xn--e1afmkfd.xn--p1ai", verdict: "accepted", note: "a valid Cyrillic A-label" },
    { key: "mailauth:spf.mechanisms[0]", value: "exists:%{i}._spf.%{d}", verdict: "accepted", note: "an RFC 7208 macro" },
    { key: "mailauth:spf.all", value: "+all", verdict: /spf\.all: "\+all" lets every host/ },
    { key: "mailauth:spf.all", value: "~ALL", verdict: /spf\.all: must be one of ~all, -all/ },
    // DMARC.
    {
        key: "mailauth:dmarc.rua[0]",
        value: "mailto:a@example.com,mailto:b@evil.example",
        verdict: /dmarc\.rua: .* is not a report address/,
        note: "a second URI smuggled in",
    },
    { key: "mailauth:dmarc.rua[0]", value: "a@xn--a.com", verdict: /dmarc\.rua: "a@xn--a\.com" is not a report address/ },
    { key: "mailauth:dmarc.rua[0]", value: "a@exаmple.com", verdict: /dmarc\.rua: .* is not a report address/ },
    { key: "mailauth:dmarc.policy", value: "REJECT", verdict: /dmarc\.policy: must be one of none, quarantine, reject/ },
    { key: "mailauth:dmarc.enabled", value: "0", verdict: /dmarc\.enabled: must be true or false/ },
    // OpenDKIM.
    { key: "mailauth:opendkim.reportAddress", value: "postmaster@xn--a.com", verdict: /opendkim\.reportAddress: .* is not a plain mail address/ },
    { key: "mailauth:opendkim.reportAddress", value: "a@b@example.com", verdict: /opendkim\.reportAddress: .* is not a plain mail address/ },
    {
        key: "mailauth:opendkim.trustedHosts[0]",
        value: "*.co.uk",
        verdict: /opendkim\.trustedHosts: "\*\.co\.uk" trusts every host whose verified name ends in \.co\.uk/,
        note: "anyone can register a name under co.uk and give a server that name",
    },
    { key: "mailauth:opendkim.trustedHosts[0]", value: "*.gmail.com", verdict: /opendkim\.trustedHosts: "\*\.gmail\.com" trusts every host/ },
    { key: "mailauth:opendkim.trustedHosts[0]", value: "*.com", verdict: /opendkim\.trustedHosts: "\*\.com" is not an address/ },
    {
        key: "mailauth:opendkim.trustedHosts[0]",
        value: "*.mail.example.com",
        verdict: "accepted",
        note: "within a configured domain, whose DNS the user holds",
    },
    { key: "mailauth:opendkim.trustedHosts[0]", value: "relay.partner.example.net", verdict: "accepted", note: "one forward-confirmed host name" },
    { key: "mailauth:opendkim.trustedHosts[0]", value: "xn--a.example.com", verdict: /opendkim\.trustedHosts: "xn--a\.example\.com" is not an address/ },
    {
        key: "mailauth:opendkim.trustedHosts[0]",
        value: "!10.0.0.1",
        verdict: /opendkim\.trustedHosts: "!10\.0\.0\.1" is not an address/,
        note: "OpenDKIM's negation: not a setting",
    },
    { key: "mailauth:opendkim.trustedHosts[0]", value: "10.0.0.1/8/8", verdict: /opendkim\.trustedHosts: .* is not an address/ },
    { key: "mailauth:opendkim.trustedHosts[0]", value: "0.0.0.0/0", verdict: /opendkim\.trustedHosts: 0\.0\.0\.0\/0 together cover/ },
    { key: "mailauth:opendkim.nameservers[0]", value: "1.1.1.1#53", verdict: /opendkim\.nameservers: .* is not an IP address/ },
    { key: "mailauth:opendkim.nameservers[0]", value: "0.0.0.0", verdict: /opendkim\.nameservers: "0\.0\.0\.0" is an unspecified/ },
    // SSH: values ssh would take as options, and absurd ports.
    { key: "mailauth:ssh.host", value: "-oProxyCommand=touch /tmp/pwned", verdict: /ssh\.host: .* is not an IP address or host name/ },
    { key: "mailauth:ssh.host", value: "-p2222", verdict: /ssh\.host: "-p2222" is not an IP address or host name/ },
    { key: "mailauth:ssh.host", value: "root@192.0.2.25", verdict: /ssh\.host: .* is not an IP address or host name/ },
    { key: "mailauth:ssh.host", value: "192.0.2.25:22", verdict: /ssh\.host: .* is not an IP address or host name/ },
    { key: "mailauth:ssh.host", value: "xn--a", verdict: /ssh\.host: "xn--a" is not an IP address or host name/ },
    { key: "mailauth:ssh.host", value: "mailserver", verdict: "accepted", note: "a name from /etc/hosts or a search domain" },
    {
        key: "mailauth:ssh.host",
        value: "db--1.internal",
        verdict: "accepted",
        note: "only ssh reads it: the IDNA reservation of ??-- labels is for names in DNS registries",
    },
    {
        key: "mailauth:ssh.host",
        value: "-db.internal",
        verdict: /ssh\.host: "-db\.internal" is not an IP address or host name: .*starts or ends with a hyphen/,
    },
    { key: "mailauth:ssh.host", value: "2001:db8::25", verdict: "accepted" },
    { key: "mailauth:ssh.user", value: "-oProxyCommand=x", verdict: /ssh\.user: .* is not a Unix user name/ },
    { key: "mailauth:ssh.user", value: "-l", verdict: /ssh\.user: "-l" is not a Unix user name/ },
    { key: "mailauth:ssh.user", value: "a".repeat(33), verdict: /ssh\.user: .* is not a Unix user name/ },
    { key: "mailauth:ssh.port", value: "0", verdict: /ssh\.port: must be a whole number from 1 to 65535/ },
    { key: "mailauth:ssh.port", value: "65536", verdict: /ssh\.port: must be a whole number from 1 to 65535/ },
    { key: "mailauth:ssh.port", value: "22 -oProxyCommand=x", verdict: /ssh\.port: must be a whole number/ },
    {
        key: "mailauth:ssh.hostKey",
        value: `${ED25519} $(reboot)`,
        verdict: "accepted",
        note: "a comment after the key: parsed, never run (ssh.ParseAuthorizedKey)",
    },
    { key: "mailauth:ssh.hostKey", value: `${ED25519}\n${ED25519}`, verdict: /ssh\.hostKey: .*control character|ssh\.hostKey: must be one key line/ },
    // Timeouts and TTLs at their edges.
    { key: "mailauth:testKey.timeoutSeconds", value: "1801", verdict: /testKey\.timeoutSeconds: must be a whole number from 0 to 1800/ },
    { key: "mailauth:testKey.timeoutSeconds", value: "1e3", verdict: /testKey\.timeoutSeconds: must be a whole number/ },
    { key: "mailauth:testKey.timeoutSeconds", value: "Infinity", verdict: /testKey\.timeoutSeconds: must be a whole number/ },
    { key: "mailauth:testKey.timeoutSeconds", value: "1800", verdict: "accepted" },
    { key: "mailauth:testKey.enabled", value: "no", verdict: /testKey\.enabled: must be true or false/ },
    { key: "mailauth:ttl", value: "0", verdict: /mailauth:ttl: must be 1 \(automatic\) or a number of seconds from 60 to 86400/ },
    { key: "mailauth:ttl", value: "+60", verdict: /mailauth:ttl: must be 1/, note: "passes the CLI's integer check, refused by the program" },
    { key: "mailauth:ttl", value: "86401", verdict: /mailauth:ttl: must be 1/ },
    { key: "mailauth:ttl", value: "1.5", verdict: /configuration key 'mailauth:ttl' must be of type 'integer'/, note: "the CLI stops it" },
    // The two settings read outside validateSettings.
    { key: "mailauth:adoptRecords", value: "yes", verdict: /configuration key 'mailauth:adoptRecords' must be of type 'boolean'/, note: "the CLI stops it" },
    {
        key: "mailauth:importRecords",
        value: { "\u001b[2Jexample.com-spf": "x" },
        verdict: /mailauth:importRecords\["\\u001b\[2Jexample\.com-spf"\]: not a record the stack publishes/,
    },
    {
        key: "mailauth:importRecords",
        value: { "example.com-spf": "\u001b[2J/x" },
        verdict: /mailauth:importRecords\["example\.com-spf"\]: must be "<zone id>\/<record id>".*got "\\u001b\[2J\/x"/,
    },
    { key: "mailauth:importRecords", value: "not json", verdict: /mailauth:importRecords: must be a map/ },
];

function escapeRe(s: string): string {
    return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The stack with one value set as the CLI would store it. */
function stackWith(row: Row): StackConfig {
    const stack: StackConfig = { values: structuredClone(exampleConfig()), secret: new Set() };
    if (typeof row.value === "string") configSet(stack, row.key, row.value, { path: row.key.includes(".") || row.key.includes("[") });
    else setStructured(stack, row.key, row.value);
    // A changed first domain would leave the example's MX (mail.example.com, with an address) outside
    // every domain, a second problem hiding whether the name itself passed: the MX moves to example.org.
    if (row.key === "mailauth:domains[0].name") mxInOrg(stack);
    row.also?.(stack);
    return stack;
}

/** A structured value at a --path key, as it sits in the stack file. */
function setStructured(stack: StackConfig, key: string, value: unknown): void {
    const m = key.match(/^(mailauth:\w+)(.*)$/)!;
    if (m[2] === "") {
        stack.values[m[1]] = value;
        return;
    }
    let cursor: any = stack.values[m[1]];
    const segs = [...m[2].matchAll(/\.(\w+)|\[(\d+)\]/g)].map((x) => x[1] ?? Number(x[2]));
    for (const s of segs.slice(0, -1)) cursor = cursor[s];
    cursor[segs[segs.length - 1]] = value;
}

function fakeFor(zones: Record<string, string>): FakeCloudflare {
    const cf = new FakeCloudflare();
    for (const [name, id] of Object.entries(zones)) cf.addZone(name, id);
    return cf;
}

/** What the program does with the stack at preview: "accepted", or the message it stops with. */
async function outcome(row: Row): Promise<string> {
    const stack = stackWith(row);
    let result: string;
    try {
        await runProgram(stack.values, { preview: true, call: fakeFor(row.zones ?? ZONES).call });
        result = "accepted";
    } catch (e) {
        result = (e as Error).message;
    }
    // A program that throws while index.ts is loading (importRecords is read after the keys are
    // registered) leaves registrations in flight, which runProgram does not wait for then: wait here,
    // or they reach the next run's mocks ("unknown resource").
    await waitForRPCs().catch(() => undefined);
    return result;
}

const label = (r: Row) => `${r.key} = ${JSON.stringify(r.value).slice(0, 60)}`;

describe("every string setting refuses shell, config and terminal metacharacters", () => {
    it.each(metaRows.map((r) => [label(r), r] as const))("%s", async (_, row) => {
        const got = await outcome(row);
        expect(got, "accepted").not.toBe("accepted");
        expect(got).toMatch(row.verdict as RegExp);
        expectClean(got);
    });
});

describe("hostile and absurd values, setting by setting", () => {
    it.each(rows.map((r) => [label(r), r] as const))("%s", async (_, row) => {
        const got = await outcome(row);
        if (row.verdict === "accepted") {
            expect(got, row.note).toBe("accepted");
        } else {
            expect(got, `${row.note ?? ""} (accepted)`).not.toBe("accepted");
            expect(got).toMatch(row.verdict);
            expectClean(got);
        }
    });
});

/** A message as the CLI shows it: no stack trace, no raw control or invisible character. */
function expectClean(message: string): void {
    expect(message).not.toMatch(/\n\s+at .*\(|\n\s+at \//);
    // Every control, format or separator character but the newlines between problems (Unicode Cc, Cf, Zl, Zp).
    expect(message).not.toMatch(/(?!\n)[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u);
    expect(message.length).toBeLessThan(6000);
}

describe("all hostile values of one stack are reported at once", () => {
    it("names each bad setting in one message", async () => {
        const stack: StackConfig = { values: structuredClone(exampleConfig()), secret: new Set() };
        configSet(stack, "mailauth:domains[0].name", "xn--exmple-4nf.com", { path: true });
        mxInOrg(stack);
        configSet(stack, "mailauth:spf.mechanisms[0]", "a/0", { path: true });
        configSet(stack, "mailauth:opendkim.trustedHosts[0]", "*.co.uk", { path: true });
        configSet(stack, "mailauth:ssh.user", "-oProxyCommand=x", { path: true });
        configSet(stack, "mailauth:ttl", "0");
        let message = "";
        try {
            await runProgram(stack.values, { preview: true, call: fakeFor(ZONES).call });
        } catch (e) {
            message = (e as Error).message;
        }
        expect(message).toMatch(/^mailauth: 5 configuration problem\(s\); nothing was changed/);
        for (const s of ["domains[0].name", "spf.mechanisms", "opendkim.trustedHosts", "ssh.user", "ttl"]) expect(message).toContain(`mailauth:${s}`);
    });
});

describe("the script of a character", () => {
    it("is known for every letter, mark and digit of this Node's Unicode data (the list of scripts misses none)", () => {
        const any = new RegExp(`[${KNOWN_SCRIPTS.map((n) => `\\p{Script=${n}}`).join("")}\\p{Script=Common}\\p{Script=Inherited}]`, "u");
        const missed: string[] = [];
        for (let cp = 0; cp <= 0x10ffff; cp++) {
            if (cp >= 0xd800 && cp <= 0xdfff) continue;
            const ch = String.fromCodePoint(cp);
            if (/[\p{L}\p{M}\p{N}]/u.test(ch) && !any.test(ch)) missed.push(cp.toString(16));
        }
        expect(missed).toEqual([]);
        expect([scriptOf("a"), scriptOf("\u0430"), scriptOf("\u03b1"), scriptOf("1"), scriptOf("\u65e5")]).toEqual(["Latin", "Cyrillic", "Greek", "", "Han"]);
    });
});

describe("how a value is shown", () => {
    it("escapes a character past the BMP as \\u{...}, one that cannot be read as \\uXXXX followed by a digit", () => {
        expect(show("x\u{e0001}y")).toBe('"x\\u{e0001}y"');
        expect(show("x\u200by\u00ad")).toBe('"x\\u200by\\u00ad"');
    });
});

describe("importRecords is checked with the other settings", () => {
    it("a malformed entry and a bad setting are reported in one message", async () => {
        const stack: StackConfig = { values: structuredClone(exampleConfig()), secret: new Set() };
        configSet(stack, "mailauth:ttl", "0");
        configSet(stack, 'mailauth:importRecords["example.com-spf"]', "not-an-id", { path: true });
        let message = "";
        try {
            await runProgram(stack.values, { preview: true, call: fakeFor(ZONES).call });
        } catch (e) {
            message = (e as Error).message;
        }
        await waitForRPCs().catch(() => undefined);
        expect(message).toMatch(/^mailauth: 2 configuration problem\(s\)/);
        expect(message).toContain("mailauth:ttl");
        expect(message).toContain('mailauth:importRecords["example.com-spf"]: must be "<zone id>/<record id>"');
    });
});

describe("zone records with hostile content reaching the check", () => {
    const plan = (domain: string): DomainPlan => ({
        domain,
        component: domain,
        targets: [
            { kind: "spf", name: domain, type: "TXT", resource: `${domain}-spf`, value: "v=spf1 mx ~all" },
            { kind: "dmarc", name: `_dmarc.${domain}`, type: "TXT", resource: `${domain}-dmarc`, value: "v=DMARC1; p=none" },
            { kind: "dkim", name: `s1._domainkey.${domain}`, type: "TXT", resource: `${domain}-s1-dkim` },
        ],
        selectors: ["s1"],
        spfMechanisms: [],
        index: 0,
    });
    const comment = legacyComment("mailauth", "test");

    async function check(records: { name: string; type: string; content: string; comment?: string }[]): Promise<{ message: string; logs: string[] }> {
        const cf = fakeFor({ "example.com": ZONES["example.com"] });
        for (const r of records) cf.addRecord("example.com", r);
        const logs: string[] = [];
        try {
            await checkZones([plan("example.com")], {
                reader: zoneReaderOf(cf),
                adopt: false,
                comment,
                stack: "test",
                project: "mailauth",
                log: (m) => logs.push(m),
                warn: (m) => logs.push(m),
            });
            return { message: "accepted", logs };
        } catch (e) {
            return { message: (e as Error).message, logs };
        }
    }

    it("a wildcard record is no record at the stack's names (a name that exists is never answered by a wildcard, RFC 4592 2.2.1)", async () => {
        const { message } = await check([
            { name: "*.example.com", type: "TXT", content: '"v=spf1 +all"' },
            { name: "*._domainkey.example.com", type: "TXT", content: '"v=DKIM1; p=MIIB"' },
        ]);
        expect(message).toBe("accepted");
    });

    it("control characters, escape codes and bidi marks in content and comments are shown escaped", async () => {
        const { message } = await check([
            { name: "example.com", type: "TXT", content: '"v=spf1 include:x.net\u001b[2J\u202e ~all"', comment: "\u0007evil\u001b]0;title\u0007" },
            { name: "_dmarc.example.com", type: "TXT", content: '"v=DMARC1; p=none; rua=mailto:a@b.c\r\n"' },
        ]);
        expect(message).toMatch(/already exists/);
        expect(message).toContain("\\u001b[2J");
        expectClean(message);
    });

    it("a record of 2,048 characters (Cloudflare's TXT limit) is refused in a message of bounded size", async () => {
        const { message } = await check([{ name: "example.com", type: "TXT", content: `"v=spf1 ${"ip4:192.0.2.1 ".repeat(145)}~all"` }]);
        expect(message).toMatch(/already exists/);
        expectClean(message);
    });
});
