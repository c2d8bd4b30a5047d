import { describe, expect, it } from "vitest";
import { validateSettings, RawSettings } from "../../components/settings";
import * as pulumi from "@pulumi/pulumi";
import { exampleConfig, programError, runProgram } from "../harness";
import { readRawSettings } from "../../components/config";
import { pulumiConfig, README_END, README_START, readmeTable } from "../../components/settingsDocs";
import { SECTIONS } from "../../components/settingsTable";
import { SPF_MAX, SPF_WIDEST_PREFIX } from "../../components/records/spf";
import { exampleRawSettings, settingsProblems } from "../settings-problems";

const raw = exampleRawSettings;

const problems = settingsProblems;

const domain = { name: "example.com", zoneId: "0123456789abcdef0123456789abcdef", selector: "s1" };
const ssh = { host: "192.0.2.25" };

// Each bad input, the setting it names, and what the message must say.
const cases: [string, Partial<Record<keyof RawSettings, unknown>>, RegExp][] = [
    ["domains missing", { domains: undefined }, /^mailauth:domains: required, not set/],
    ["domains empty", { domains: [] }, /^mailauth:domains: must be a non-empty list/],
    ["domain not an object", { domains: ["example.com"] }, /^mailauth:domains\[0\]: must be an object/],
    ["domain name missing", { domains: [{ ...domain, name: undefined }] }, /^mailauth:domains\[0\]\.name: required, not set/],
    ["domain name invalid", { domains: [{ ...domain, name: "exa mple" }] }, /^mailauth:domains\[0\]\.name: "exa mple" is not a domain name/],
    ["zone id invalid", { domains: [{ ...domain, zoneId: "zone-1" }] }, /^mailauth:domains\[0\]\.zoneId: must be a Cloudflare zone id \(32 lowercase hex/],
    ["selector invalid", { domains: [{ ...domain, selector: "2026_11" }] }, /^mailauth:domains\[0\]\.selector: "2026_11" is not a valid selector/],
    [
        "previous selector invalid",
        { domains: [{ ...domain, previousSelectors: ["old.key"] }] },
        /^mailauth:domains\[0\]\.previousSelectors: "old\.key" is not a valid selector/,
    ],
    [
        "active selector listed as previous",
        { domains: [{ ...domain, previousSelectors: ["s1"] }] },
        /previousSelectors: must not contain the active selector "s1"/,
    ],
    ["key too small", { domains: [{ ...domain, keyBits: 1024 }] }, /keyBits: 1024-bit RSA keys are too weak for DKIM/],
    ["key size odd", { domains: [{ ...domain, keyBits: 2000 }] }, /keyBits: must be one of 1024, 2048, 3072, 4096, got 2000/],
    ["domain listed twice", { domains: [domain, domain] }, /^mailauth:domains: domain "example.com" is listed twice/],
    [
        "unknown domain field",
        { domains: [{ ...domain, selecter: "x" }] },
        /^mailauth:domains\[0\]\.selecter: unknown setting; allowed here: name, zoneId, selector/,
    ],
    ["mx missing", { mx: undefined }, /^mailauth:mx: required, not set/],
    ["mx host invalid", { mx: { hostname: "mail_server" } }, /^mailauth:mx\.hostname: "mail_server" is not a host name/],
    ["mx priority out of range", { mx: { hostname: "mail.example.com", priority: 70000 } }, /^mailauth:mx\.priority: must be a whole number from 0 to 65535/],
    ["mx ipv4 invalid", { mx: { hostname: "mail.example.com", ipv4: "192.0.2.300" } }, /^mailauth:mx\.ipv4: "192\.0\.2\.300" is not an IPv4 address/],
    ["mx ipv6 invalid", { mx: { hostname: "mail.example.com", ipv6: "2001:db8::zz" } }, /^mailauth:mx\.ipv6: "2001:db8::zz" is not an IPv6 address/],
    [
        "mx address outside the zones",
        { mx: { hostname: "mail.elsewhere.net", ipv4: "192.0.2.1" } },
        /^mailauth:mx\.hostname: "mail\.elsewhere\.net" must lie inside one of the configured domains/,
    ],
    ["spf +all", { spf: { all: "+all" } }, /^mailauth:spf\.all: "\+all" lets every host on the internet send as your domain/],
    ["spf ?all", { spf: { all: "?all" } }, /^mailauth:spf\.all: "\?all" \(neutral\)/],
    [
        "spf all in mechanisms",
        { spf: { mechanisms: ["+all"] } },
        /^mailauth:spf\.mechanisms: "\+all" is not allowed here; the all term is set by mailauth:spf\.all/,
    ],
    ["spf ptr", { spf: { mechanisms: ["ptr"] } }, /^mailauth:spf\.mechanisms: "ptr": the ptr mechanism is deprecated/],
    ["spf redirect", { spf: { mechanisms: ["redirect=_spf.example.net"] } }, /redirect= is ignored when an all term is present/],
    ["spf junk mechanism", { spf: { mechanisms: ["ip4 192.0.2.1"] } }, /^mailauth:spf\.mechanisms: "ip4 192\.0\.2\.1" is not an SPF mechanism/],
    ["spf bad ip4", { spf: { mechanisms: ["ip4:192.0.2.0/33"] } }, /"ip4:192\.0\.2\.0\/33" does not hold a valid IPv4 address or block/],
    ["spf bad ip6", { spf: { mechanisms: ["ip6:2001:db8::/129"] } }, /"ip6:2001:db8::\/129" does not hold a valid IPv6 address or block/],
    [
        "spf over 10 lookups",
        { spf: { mechanisms: Array.from({ length: 10 }, (_, i) => `include:_spf${i}.example.net`) } },
        /^mailauth:spf\.mechanisms: the record would need 11 DNS lookups .* at most 10/,
    ],
    ["spf all unknown", { spf: { all: "-ALL" } }, /^mailauth:spf\.all: must be one of ~all, -all, got "-ALL"/],
    ["dmarc policy", { dmarc: { policy: "block" } }, /^mailauth:dmarc\.policy: must be one of none, quarantine, reject, got "block"/],
    ["dmarc rua", { dmarc: { rua: ["reports"] } }, /^mailauth:dmarc\.rua: "reports" is not a report address/],
    [
        "dmarc rua with DMARC's own separators",
        { dmarc: { rua: ["a!b@example.com"] } },
        /^mailauth:dmarc\.rua: "a!b@example\.com" is not a report address: .*optionally with a size limit/,
    ],
    ["dmarc enabled not boolean", { dmarc: { enabled: "yes" } }, /^mailauth:dmarc\.enabled: must be true or false, got "yes"/],
    [
        "dmarc subdomain policy",
        { dmarc: { subdomainPolicy: "block" } },
        /^mailauth:dmarc\.subdomainPolicy: must be one of none, quarantine, reject, got "block"/,
    ],
    [
        "dmarc nonexistent policy",
        { dmarc: { nonexistentPolicy: "drop" } },
        /^mailauth:dmarc\.nonexistentPolicy: must be one of none, quarantine, reject, got "drop"/,
    ],
    ["dmarc testing as t's letter", { dmarc: { testing: "y" } }, /^mailauth:dmarc\.testing: must be true or false, got "y"/],
    ["dmarc alignment as the tag's letter", { dmarc: { dkimAlignment: "s" } }, /^mailauth:dmarc\.dkimAlignment: must be one of relaxed, strict, got "s"/],
    ["dmarc spf alignment", { dmarc: { spfAlignment: "exact" } }, /^mailauth:dmarc\.spfAlignment: must be one of relaxed, strict, got "exact"/],
    ["dmarc ruf", { dmarc: { ruf: ["forensic"] } }, /^mailauth:dmarc\.ruf: "forensic" is not a report address/],
    ["dmarc fo", { dmarc: { ruf: ["f@example.com"], fo: "1:0" } }, /^mailauth:dmarc\.fo: "1:0": 0 and 1 exclude each other; allowed: 0, 1, d, s/],
    ["dmarc fo without ruf", { dmarc: { fo: "1" } }, /^mailauth:dmarc\.fo: "1" is set without mailauth:dmarc\.ruf/],
    ["report address", { opendkim: { reportAddress: "postmaster" } }, /^mailauth:opendkim\.reportAddress: "postmaster" is not a plain mail address/],
    [
        "report address with shell syntax",
        { opendkim: { reportAddress: "a$(reboot)@example.com" } },
        /^mailauth:opendkim\.reportAddress: "a\$\(reboot\)@example\.com" is not a plain mail address .*passes it to a shell/,
    ],
    ["trusted host", { opendkim: { trustedHosts: ["10.0.0.0/40"] } }, /^mailauth:opendkim\.trustedHosts: "10\.0\.0\.0\/40" is not an address, CIDR block/],
    ["trusted hosts not a list", { opendkim: { trustedHosts: "10.0.0.1" } }, /^mailauth:opendkim\.trustedHosts: must be a list of strings/],
    ["nameserver", { opendkim: { nameservers: ["dns.example.net"] } }, /^mailauth:opendkim\.nameservers: "dns\.example\.net" is not an IP address/],
    ["milter transport", { opendkim: { milterTransport: "tcp" } }, /^mailauth:opendkim\.milterTransport: must be one of auto, unix, inet, got "tcp"/],
    ["ssh missing", { ssh: undefined }, /^mailauth:ssh: required, not set/],
    ["ssh host invalid", { ssh: { host: "mail server" } }, /^mailauth:ssh\.host: "mail server" is not an IP address or host name/],
    ["ssh port", { ssh: { ...ssh, port: 0 } }, /^mailauth:ssh\.port: must be a whole number from 1 to 65535, got 0/],
    ["ssh user", { ssh: { ...ssh, user: "Root User" } }, /^mailauth:ssh\.user: "Root User" is not a Unix user name/],
    ["ssh host key", { ssh: { ...ssh, hostKey: "AAAAC3NzaC1lZDI1NTE5" } }, /^mailauth:ssh\.hostKey: must be a key type and its base64 data/],
    ["ssh host key truncated", { ssh: { ...ssh, hostKey: "ssh-ed25519 AAAA" } }, /^mailauth:ssh\.hostKey: the key data does not hold a ssh-ed25519 key/],
    [
        "ssh host key rsa",
        { ssh: { ...ssh, hostKey: "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ" } },
        /^mailauth:ssh\.hostKey: an ssh-rsa host key cannot be pinned/,
    ],
    ["ssh host key empty", { ssh: { ...ssh, hostKey: "" } }, /^mailauth:ssh\.hostKey: is empty \(did ssh-keyscan find nothing\?/],
    ["ssh private key with a passphrase", { sshPrivateKey: "encrypted" }, /^mailauth:sshPrivateKey: the key is protected by a passphrase/],
    ["ssh private key missing", { sshPrivateKey: "missing" }, /^mailauth:sshPrivateKey: required, not set; run: pulumi config set --secret/],
    ["ssh private key invalid", { sshPrivateKey: "invalid" }, /^mailauth:sshPrivateKey: is not a private key/],
    [
        "selectors differing in case",
        { domains: [{ ...domain, selector: "Jan2027", previousSelectors: ["jan2027"] }] },
        /^mailauth:domains\[0\]: selectors "Jan2027" and "jan2027" differ only in case/,
    ],
    [
        "spf include with shell syntax",
        { spf: { mechanisms: ["include:$(id)"] } },
        /^mailauth:spf\.mechanisms: "include:\$\(id\)": "\$\(id\)" is not a domain name or RFC 7208 macro domain-spec/,
    ],
    ["spf a: target", { spf: { mechanisms: ["a:mail"] } }, /^mailauth:spf\.mechanisms: "a:mail": "mail" is not a domain name/],
    ["mx ipv6 with a zone id", { mx: { hostname: "mail.example.com", ipv6: "fe80::1%eth0" } }, /^mailauth:mx\.ipv6: "fe80::1%eth0" is an interface-local/],
    [
        "control characters",
        { mx: { hostname: "mail.example.com\n\u001b[2J" } },
        /^mailauth:mx\.hostname: "mail\.example\.com\\n\\u001b\[2J" contains a control character/,
    ],
    [
        "section given as a plain string",
        { mx: "mail.example.com" },
        /^mailauth:mx: must be an object with hostname, .*got "mail\.example\.com"; set its fields with pulumi config set --path 'mailauth:mx\.hostname' VALUE/,
    ],
    [
        "selector number too long to keep",
        { domains: [{ ...domain, selector: 12345678901234567890 }] },
        /^mailauth:domains\[0\]\.selector: the number .* is too long to keep exactly; set it as a string: pulumi config set --type string --path/,
    ],
    ["ttl", { ttl: 30 }, /^mailauth:ttl: must be 1 \(automatic\) or a number of seconds from 60 to 86400, got 30/],
    ["test key timeout", { testKey: { timeoutSeconds: -1 } }, /^mailauth:testKey\.timeoutSeconds: must be a whole number from 0 to 1800/],
    // Issue 22: settings that hand the domains to everyone.
    [
        "trusted hosts: all of IPv4",
        { opendkim: { trustedHosts: ["0.0.0.0/0"] } },
        /^mailauth:opendkim\.trustedHosts: 0\.0\.0\.0\/0 together cover \d+ public IPv4 addresses .*passes DKIM and DMARC/,
    ],
    [
        "trusted hosts: all of IPv6",
        { opendkim: { trustedHosts: ["::/0"] } },
        /^mailauth:opendkim\.trustedHosts: ::\/0 together cover .*public IPv6 space as large as a \/1 \(at most a \/48/,
    ],
    ["trusted hosts: half of IPv4", { opendkim: { trustedHosts: ["0.0.0.0/1"] } }, /^mailauth:opendkim\.trustedHosts: 0\.0\.0\.0\/1 together cover/],
    ["trusted hosts: global unicast", { opendkim: { trustedHosts: ["2000::/3"] } }, /^mailauth:opendkim\.trustedHosts: 2000::\/3 together cover public IPv6/],
    [
        "trusted hosts: IPv4 through mapped IPv6",
        { opendkim: { trustedHosts: ["::ffff:0:0/96"] } },
        /^mailauth:opendkim\.trustedHosts: ::ffff:0:0\/96 together cover \d+ public IPv4 addresses \(as many as a \/1; at most a \/16/,
    ],
    [
        "spf: all of IPv4",
        { spf: { mechanisms: ["ip4:0.0.0.0/0"] } },
        /^mailauth:spf\.mechanisms: ip4:0\.0\.0\.0\/0 together authorise \d+ public IPv4 addresses .*as \+all would/,
    ],
    [
        "spf: two halves",
        { spf: { mechanisms: ["ip4:0.0.0.0/1", "ip4:128.0.0.0/1"] } },
        /^mailauth:spf\.mechanisms: ip4:0\.0\.0\.0\/1 ip4:128\.0\.0\.0\/1 together authorise/,
    ],
    [
        "spf: all of IPv6",
        { spf: { mechanisms: ["ip6:::/0"] } },
        /^mailauth:spf\.mechanisms: ip6:::\/0 together authorise .*public IPv6 space as large as a \/1 \(at most a \/16/,
    ],
    // Issue 23.9: values that passed but failed later.
    ["mx hostname the root", { mx: { hostname: "." } }, /^mailauth:mx\.hostname: "\." is the DNS root/],
    [
        "mx ipv4 loopback",
        { mx: { hostname: "mail.example.com", ipv4: "127.0.0.1" } },
        /^mailauth:mx\.ipv4: "127\.0\.0\.1" is a loopback address, which no server on the internet can reach/,
    ],
    ["mx ipv4 link-local", { mx: { hostname: "mail.example.com", ipv4: "169.254.1.1" } }, /^mailauth:mx\.ipv4: "169\.254\.1\.1" is a link-local address/],
    ["mx ipv6 loopback", { mx: { hostname: "mail.example.com", ipv6: "::1" } }, /^mailauth:mx\.ipv6: "::1" is the loopback address/],
    ["mx ipv4 multicast", { mx: { hostname: "mail.example.com", ipv4: "239.1.1.1" } }, /^mailauth:mx\.ipv4: "239\.1\.1\.1" is a multicast address/],
    ["mx ipv6 multicast", { mx: { hostname: "mail.example.com", ipv6: "ff02::1" } }, /^mailauth:mx\.ipv6: "ff02::1" is a multicast address/],
    [
        "nameserver multicast",
        { opendkim: { nameservers: ["224.0.0.251"] } },
        /^mailauth:opendkim\.nameservers: "224\.0\.0\.251" is a multicast address, where no resolver answers/,
    ],
    [
        "spf include of the own domain",
        { spf: { mechanisms: ["include:Example.com."] } },
        /^mailauth:spf\.mechanisms: "include:Example\.com\." includes the domain's own record \(example\.com\), a loop/,
    ],
    ["spf include %{d}", { spf: { mechanisms: ["include:%{d}"] } }, /^mailauth:spf\.mechanisms: "include:%\{d\}" includes the domain's own record/],
    [
        "spf prefix with a leading zero",
        { spf: { mechanisms: ["ip4:192.0.2.0/032"] } },
        /"ip4:192\.0\.2\.0\/032" does not hold a valid IPv4 address or block \(the prefix length a plain number/,
    ],
    [
        "record name over 253",
        { domains: [{ ...domain, name: `${"a".repeat(60)}.${"b".repeat(60)}.${"c".repeat(60)}.${"d".repeat(55)}.com`, selector: "s".repeat(20) }] },
        /^mailauth:domains\[0\]\.name: .* is 242 characters; with its selector's \._domainkey\. in front the record name would be 274, over DNS's 253/,
    ],
    ["name of 127 labels", { domains: [{ ...domain, name: `${"a.".repeat(126)}c` }] }, /^mailauth:domains\[0\]\.name: .* has 127 labels; at most 10/],
    [
        "40 report addresses",
        { dmarc: { rua: Array.from({ length: 40 }, (_, i) => `dmarc-reports-${i}@example.com`) } },
        /^mailauth:dmarc\.rua: the 40 addresses make the record \d+ characters; keep DMARC under 450/,
    ],
    ["key test for a day", { testKey: { timeoutSeconds: 86400 } }, /^mailauth:testKey\.timeoutSeconds: must be a whole number from 0 to 1800, got 86400/],
    [
        "ssh host as an ssh option",
        { ssh: { host: "-oProxyCommand=touch /tmp/x" } },
        /^mailauth:ssh\.host: "-oProxyCommand=touch \/tmp\/x" is not an IP address or host name/,
    ],
    ["ssh user as an ssh option", { ssh: { host: "192.0.2.25", user: "-oProxyCommand=x" } }, /^mailauth:ssh\.user: "-oProxyCommand=x" is not a Unix user name/],
    [
        "unknown section field",
        { opendkim: { nameserver: ["192.0.2.53"] } },
        /^mailauth:opendkim\.nameserver: unknown setting; allowed here: reportAddress, trustedHosts, nameservers, milterTransport/,
    ],
];

describe("settings validation", () => {
    it("accepts the documented example and fills in the defaults", () => {
        const s = validateSettings(raw());
        expect(s.spf.record).toBe("v=spf1 mx ip4:192.0.2.25 ~all");
        expect(s.dmarc.record).toBe("v=DMARC1; p=none; rua=mailto:dmarc-reports@example.com");
        expect(s.domains.map((d) => d.keyBits)).toEqual([2048, 2048]);
        expect(s.opendkim.milterTransport).toBe("auto");
        expect(s.testKey).toEqual({ enabled: true, timeoutSeconds: 300 });
    });

    it("defaults to the guide's SPF and a p=none DMARC", () => {
        const s = validateSettings(raw({ spf: undefined, dmarc: undefined }));
        expect(s.spf.record).toBe("v=spf1 mx ~all");
        expect(s.dmarc).toMatchObject({ enabled: true, record: "v=DMARC1; p=none" });
    });

    it(`has ${cases.length} distinct messages, one per kind of bad input`, () => {
        expect(cases.length).toBeGreaterThanOrEqual(20);
        const messages = cases.map(([, patch]) => problems(raw(patch)).join("\n"));
        expect(new Set(messages).size).toBe(cases.length);
    });

    it.each(cases)("rejects: %s", (_, patch, message) => {
        const found = problems(raw(patch));
        expect(
            found.some((p) => message.test(p)),
            found.join("\n"),
        ).toBe(true);
    });

    it("reports every problem at once", () => {
        const found = problems(raw({ ttl: 5, spf: { all: "+all" }, ssh: { host: "192.0.2.25", port: 99999 }, dmarc: { policy: "x" } }));
        expect(found).toHaveLength(4);
    });

    it("takes a domain name with a trailing dot or capitals as the same domain (mail is signed; a repeat is caught)", () => {
        const s = validateSettings(raw({ domains: [{ ...domain, name: "Example.COM." }] }));
        expect(s.domains[0].name).toBe("example.com");
        const found = problems(raw({ domains: [domain, { ...domain, name: "Example.COM." }] }));
        expect(found).toEqual([`mailauth:domains: domain "example.com" is listed twice (names are compared without case and trailing dot)`]);
    });

    it("reports no follow-on problem: a refused domain does not make the MX look outside the domains", () => {
        const other = { name: "example.org", zoneId: "fedcba9876543210fedcba9876543210", selector: "s1" };
        const found = problems(raw({ domains: [{ ...domain, selector: "bad_selector" }, other], mx: { hostname: "mail.example.com", ipv4: "192.0.2.25" } }));
        expect(found).toEqual([expect.stringMatching(/^mailauth:domains\[0\]\.selector: "bad_selector" is not a valid selector/)]);
    });

    it("allows what the line leaves: private ranges of any size, a /16 of public IPv4 and a /48 of IPv6 trusted, a /8 and a /16 in SPF, a resolver on the server", () => {
        const ok = raw({
            opendkim: {
                trustedHosts: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "198.51.0.0/16", "2001:db8:1::/48", "::1"],
                nameservers: ["127.0.0.1", "::1", "10.0.0.53"],
            },
            spf: { mechanisms: ["ip4:1.0.0.0/8", "ip6:2a00::/16", "include:_spf.example.com", "include:%{d}._spf.example.net"] },
            mx: { hostname: "mail.example.com", ipv4: "192.0.2.25", ipv6: "2001:db8::25" },
        });
        expect(problems(ok)).toEqual([]);
        // A server on a private network (as the lab's) may publish its private address.
        expect(problems(raw({ mx: { hostname: "mail.example.com", ipv4: "10.231.0.2", ipv6: "fd00::2" } }))).toEqual([]);
        // One address past the line is refused; overlapping blocks count once.
        expect(problems(raw({ opendkim: { trustedHosts: ["1.2.0.0/16", "1.3.0.0/32"] } }))).toHaveLength(1);
        expect(problems(raw({ opendkim: { trustedHosts: ["1.2.0.0/16", "1.2.0.0/17"] } }))).toEqual([]);
        expect(problems(raw({ spf: { mechanisms: ["ip4:1.0.0.0/8", "ip4:2.0.0.1"] } }))).toHaveLength(1);
        expect(problems(raw({ testKey: { timeoutSeconds: 1800 } }))).toEqual([]);
    });

    it("draws one SPF line for ip4:/ip6: blocks and a/mx CIDR lengths: a /8 of IPv4 and a /16 of IPv6 (records/spf.ts SPF_WIDEST_PREFIX)", () => {
        expect(SPF_WIDEST_PREFIX).toEqual({ v4: 8, v6: 16 });
        expect(SPF_MAX).toEqual({ v4: 2n ** 24n, v6: 2n ** 112n });
        const spf = (...mechanisms: string[]) => problems(raw({ spf: { mechanisms } }));
        expect(spf("ip4:1.0.0.0/8", "ip6:2a00::/16", "a/8", "mx//16", "a/8//16")).toEqual([]);
        expect(spf("ip4:2.0.0.0/7")).toEqual([
            expect.stringMatching(/together authorise 33554432 public IPv4 addresses \(as many as a \/7; at most a \/8 is allowed\)/),
        ]);
        expect(spf("ip6:2a00::/15")).toEqual([expect.stringMatching(/public IPv6 space as large as a \/15 \(at most a \/16 is allowed\)/)]);
        expect(spf("a/7//15")).toEqual([
            'mailauth:spf.mechanisms: "a/7//15" widens each IPv4 address of the name to its /7 (33554432 addresses) and each IPv6 address of the name to its /15: ' +
                "receivers would pass mail from every host there as your domain's, as +all would (RFC 7208 5.6). At most /8 for IPv4 and //16 for IPv6, " +
                "the line ip4:/ip6: blocks keep too; better, no CIDR length at all",
        ]);
    });

    it("counts 10 lookup terms as allowed (mx plus nine includes)", () => {
        const mechanisms = Array.from({ length: 9 }, (_, i) => `include:_spf${i}.example.net`);
        expect(problems(raw({ spf: { mechanisms } }))).toEqual([]);
    });
});

describe("the program on bad input", () => {
    it("stops before making any resource, naming every bad setting, as a RunError (no stack trace in the CLI)", async () => {
        const config = exampleConfig();
        config["mailauth:ttl"] = 30;
        config["mailauth:spf"] = { all: "+all" };
        const message = await programError(config, { sshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nnot a key\n-----END OPENSSH PRIVATE KEY-----" });
        expect(message).toMatch(/^mailauth: 3 configuration problem\(s\); nothing was changed/);
        expect(message).toContain("mailauth:ttl");
        expect(message).toContain("mailauth:spf.all");
        expect(message).toContain("mailauth:sshPrivateKey: is not a private key");
        expect(message).not.toContain("not a key");
        let error: unknown;
        try {
            validateSettings(raw({ ttl: 30 }));
        } catch (e) {
            error = e;
        }
        // The language host prints a RunError's message alone (@pulumi/pulumi cmd/run/run.js ~377-379).
        expect(pulumi.RunError.isInstance(error)).toBe(true);
    });

    it("makes resources once the input is good", async () => {
        const run = await runProgram(exampleConfig());
        expect(run.resources.length).toBeGreaterThan(10);
    });
});

describe("Pulumi.yaml", () => {
    it("declares, with a description, every setting the program reads, and nothing else", () => {
        const fs = require("fs") as typeof import("fs");
        const yaml = require("js-yaml") as typeof import("js-yaml");
        const project = yaml.load(fs.readFileSync(`${__dirname}/../../Pulumi.yaml`, "utf8")) as {
            config: Record<string, { description?: string; type?: string; default?: unknown; secret?: boolean }>;
        };
        // What the program asks its Config for: in index.ts by name, and through readRawSettings (which
        // reads what components/settingsTable.ts declares), asked of a Config that records each key.
        const program = fs.readFileSync(`${__dirname}/../../index.ts`, "utf8");
        const read = [...program.matchAll(/config\.(?:get|getObject|getSecret|require\w*)\("(\w+)"\)/g)].map((m) => `mailauth:${m[1]}`);
        const asked = (key: string) => void read.push(`mailauth:${key}`);
        readRawSettings({ get: asked, getSecret: asked, getObject: asked, require: asked } as unknown as pulumi.Config);
        expect(Object.keys(project.config).sort()).toEqual([...new Set(read)].sort());
        for (const [key, decl] of Object.entries(project.config)) expect(decl.description?.length, key).toBeGreaterThan(30);
        // `secret: true` is enforced by the CLI only with a declared type (pulumi/pulumi pkg/workspace/config.go).
        expect(project.config["mailauth:sshPrivateKey"]).toMatchObject({ type: "string", secret: true });
        expect(project.config["mailauth:ttl"]).toMatchObject({ type: "integer", default: 1 });
    });

    it("gives defaults that the program accepts as they are", () => {
        const fs = require("fs") as typeof import("fs");
        const yaml = require("js-yaml") as typeof import("js-yaml");
        const project = yaml.load(fs.readFileSync(`${__dirname}/../../Pulumi.yaml`, "utf8")) as { config: Record<string, { default?: unknown }> };
        const d = (k: string) => project.config[`mailauth:${k}`].default;
        const s = validateSettings(raw({ spf: d("spf"), dmarc: d("dmarc"), opendkim: d("opendkim"), ttl: d("ttl"), testKey: d("testKey") }));
        expect(s.spf.record).toBe("v=spf1 mx ~all");
        expect(s.ttl).toBe(1);
    });
});

describe("each setting declared once (components/settingsTable.ts)", () => {
    const fs = require("fs") as typeof import("fs");
    const yaml = require("js-yaml") as typeof import("js-yaml");
    const root = `${__dirname}/../..`;

    it("Pulumi.yaml declares what the table says: description, default, type and secret of every setting", () => {
        const project = yaml.load(fs.readFileSync(`${root}/Pulumi.yaml`, "utf8")) as { config: Record<string, unknown> };
        // Written by `npm run docs:settings` (scripts/docs-settings.js).
        expect(project.config).toEqual(pulumiConfig());
    });

    it("every default the table gives is the one Pulumi.yaml's description names, and the one the program applies", () => {
        for (const s of SECTIONS) {
            for (const r of s.rows) {
                if (!("default" in r) || r.default === undefined) continue;
                const said = s.shape === "value" ? s.summary : r.brief;
                expect(said, `${s.name}.${r.key}`).toMatch(/default/i);
                expect(said, `${s.name}.${r.key}`).toContain(String(r.default));
            }
        }
        // Nothing set: every section takes its rows' defaults.
        const v = validateSettings(
            raw({ spf: undefined, dmarc: undefined, opendkim: undefined, ttl: undefined, testKey: undefined, ssh: { host: "192.0.2.25" } }),
        );
        const byName: Record<string, Record<string, unknown>> = { spf: v.spf, dmarc: v.dmarc, opendkim: v.opendkim, testKey: v.testKey, ssh: v.ssh };
        for (const s of SECTIONS.filter((x) => byName[x.name])) {
            for (const r of s.rows) if ("default" in r && r.default !== undefined) expect(byName[s.name][r.key], `${s.name}.${r.key}`).toEqual(r.default);
        }
        expect(v.ttl).toBe(1);
        expect(v.adoptRecords).toBe(false);
    });

    it("every allowed value of a choice is named in the README's row, and only those are accepted", () => {
        for (const s of SECTIONS) {
            for (const r of s.rows) {
                if (r.kind !== "choice") continue;
                for (const a of r.allowed) expect(r.doc, `${s.name}.${r.key}`).toContain(`\`${a}\``);
                const found = problems(raw({ [s.name]: { [r.key]: "not-one-of-them" } } as Partial<Record<keyof RawSettings, unknown>>));
                expect(found).toEqual([`mailauth:${s.name}.${r.key}: must be one of ${r.allowed.join(", ")}, got "not-one-of-them"`]);
            }
        }
    });

    it("the README's settings table is the table's (npm run docs:settings writes it)", () => {
        const readme = fs.readFileSync(`${root}/README.md`, "utf8");
        const a = readme.indexOf(README_START);
        const b = readme.indexOf(README_END);
        expect(a, "README.md has the settings markers").toBeGreaterThan(0);
        expect(readme.slice(a + README_START.length, b)).toBe(`\n${readmeTable()}\n`);
    });

    it("reports a bad adoptRecords, or one without its token, with all the other problems", () => {
        const found = problems(raw({ ttl: 5, adoptRecords: "yes" }));
        expect(found).toEqual([
            `mailauth:ttl: must be 1 (automatic) or a number of seconds from 60 to 86400, got 5`,
            `mailauth:adoptRecords: must be true or false, got "yes"`,
        ]);
        expect(problems(raw({ ttl: 5, adoptRecords: "true", cloudflareToken: false }))).toEqual([
            `mailauth:ttl: must be 1 (automatic) or a number of seconds from 60 to 86400, got 5`,
            `mailauth:adoptRecords: needs the Cloudflare API token as cloudflare:apiToken (pulumi config set --secret cloudflare:apiToken) or CLOUDFLARE_API_TOKEN`,
        ]);
        expect(validateSettings(raw({ adoptRecords: "true", cloudflareToken: true })).adoptRecords).toBe(true);
        for (const v of [undefined, "", "false", false]) expect(validateSettings(raw({ adoptRecords: v })).adoptRecords).toBe(false);
    });

    it("the program reports adoptRecords without its token in the same message as the other problems", async () => {
        const saved = process.env.CLOUDFLARE_API_TOKEN;
        delete process.env.CLOUDFLARE_API_TOKEN;
        try {
            const message = await programError({ ...exampleConfig(), "mailauth:adoptRecords": "true", "mailauth:ttl": 30 });
            expect(message).toMatch(/^mailauth: 2 configuration problem\(s\); nothing was changed/);
            expect(message).toContain("mailauth:ttl: must be 1 (automatic)");
            expect(message).toContain("mailauth:adoptRecords: needs the Cloudflare API token");
        } finally {
            if (saved !== undefined) process.env.CLOUDFLARE_API_TOKEN = saved;
        }
    });
});
