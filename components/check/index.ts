/**
 * What receivers will conclude about each domain, from the published DNS (never from state): SPF
 * evaluated as a receiver evaluates it, for MAIL FROM `postmaster@<domain>` and for the HELO name
 * (the MX host) from each host address; each expected DKIM selector's key; the DMARC record and the
 * report authorizations it needs; the MX and forward-confirmed reverse DNS of each host address.
 *
 * SPF evaluation and DMARC parsing are mailauth's (npm `mailauth`, 7.1.0, pinned), loaded by path
 * (components/check/mailauth.d.ts says why). Its resolver option is a function (name, rrtype) ->
 * Promise with `dns.promises.resolve`'s answers and error codes (lib/spf/index.js:365-366 and 412;
 * lib/dmarc/get-dmarc-record.js:161 and 178-186): here a `dns.promises.Resolver` with the servers given.
 *
 * Nothing here throws for what it finds: each finding is an item, pass, warn or fail, with the
 * reason and the fix.
 */
import { promises as dnsPromises } from "dns";
import * as net from "net";
// lib/spf/index.js:607 exports { spf: verify }; its types: lib/spf/index.d.ts.
import { spf } from "mailauth/lib/spf";
import type { SPFResult } from "mailauth";
import getDmarcRecord = require("mailauth/lib/dmarc/get-dmarc-record");
import { dkimPublicKey, dkimRecordName } from "../records/dkim";
import { dmarcRecordName, isDmarcValue, REPORT_AUTHORIZATION_VALUE, reportAuthorizationName } from "../records/dmarc";
import { isSpfValue, SPF_MAX_LOOKUPS } from "../records/spf";
import { canonicalIpv6, parseIpv6 } from "../ipv6";
import { probeStarttls, StarttlsOptions, StarttlsResult, starttlsItem } from "./starttls";

export type Status = "pass" | "warn" | "fail";

export interface CheckItem {
    /** What was checked, e.g. `spf mail-from 192.0.2.10`. */
    check: string;
    status: Status;
    reason: string;
    /** What to do; "" for a pass. */
    fix: string;
}

export interface CheckDomain {
    name: string;
    /** Each selector the stack publishes, with the `p=` value it published (base64). */
    dkim: { selector: string; publicKey: string }[];
    /**
     * The selector the host's SigningTable names this run (components/signingGate.ts: the calendar's
     * active one, or the one before it while the gate holds it; else the domain's `selector`): what
     * the stack configured the host to sign with, not read back from the host. Unset: no such item.
     * Several (mailauth:hosts with a relay's own selector): each selector a relay signs with, an item each.
     */
    signing?: string | readonly string[];
    /** The MX host name (also the HELO name). */
    mxHost: string;
    /** The host's IPv4/IPv6 addresses; empty: those the MX host name resolves to. */
    addresses: string[];
    /**
     * Several hosts (mailauth:hosts): each one's SPF (MAIL FROM and HELO) and reverse DNS from its
     * addresses, and the MX of each MX host; mxHost and addresses are then not read.
     */
    hosts?: CheckHost[];
}

export interface CheckHost {
    /** Its name: HELO name, PTR target, MX target when `mx`. */
    hostname: string;
    /** Its addresses; empty: those the name resolves to. */
    addresses: string[];
    /** It is an MX of the domain. */
    mx: boolean;
}

export interface CheckInput {
    domains: CheckDomain[];
    /** Resolver addresses (`ip` or `ip:port`, `[ipv6]:port`); empty or unset: the system's. */
    resolvers?: readonly string[];
    /** Per query, in ms (default 2000), tried twice. */
    timeoutMs?: number;
    /** Set: also STARTTLS on port 25 of each host address, once per address (`mailauth:check.starttls`; components/check/starttls.ts). */
    starttls?: StarttlsOptions;
}

/** Per domain, its items in order. */
export type CheckResult = Record<string, CheckItem[]>;

/** RFC 7208 4.6.4: at most 2 lookups that return no answer. mailauth's limit (lib/spf/index.js:13). */
export const SPF_MAX_VOID = 2;

export type Resolve = (name: string, rrtype: string) => Promise<any>;

/** A resolver as mailauth takes it: Node's own, on the given servers (dns.promises.Resolver, setServers). */
export function makeResolver(servers: readonly string[] = [], timeoutMs = 2000): Resolve {
    const r = new dnsPromises.Resolver({ timeout: timeoutMs, tries: 2 });
    if (servers.length > 0) r.setServers([...servers]);
    return (name, rrtype) => r.resolve(name, rrtype as any);
}

/**
 * How hard one run of the check may press the resolvers: at most this many queries in flight, and
 * query starts spaced to at most this many per second. Public resolvers throttle a client that asks
 * too fast: Google Public DNS's documented default is 1,500 queries per second per IPv4 address or
 * IPv6 /64 (developers.google.com/speed/public-dns/docs/isp, "Compare your per-IP address
 * rate(s) to the default rate limits"; an older copy of that page says 1,000); Cloudflare's 1.1.1.1
 * documents no figure, only that typical use should meet no rate limiting
 * (developers.cloudflare.com/1.1.1.1/infrastructure/network-operators, "Rate Limiting"). A quarter
 * of the lower Google figure leaves room for whatever else the machine asks from the same address.
 * A pool alone bounds the rate only through the round trip (16 in flight at 5 ms is 3,200 per
 * second), hence both; Google allows short bursts over the limit (same page), the pool keeps them to 16. Measured in `npm run bench` (BENCHMARKS.md, "The check").
 */
export const MAX_IN_FLIGHT = 16;
export const MAX_QUERIES_PER_SECOND = 250;

export interface ResolverCounts {
    /** Queries sent to the resolvers (each question once per run). */
    sent: number;
    /** Questions answered from this run's cache (or joined to the same question in flight). */
    cached: number;
    /** The most sent at once. */
    peakInFlight: number;
}

/**
 * `resolve` with one answer per question per run (type and name, without case: RFC 4343) shared by
 * every domain, item and SPF evaluation: the MX host's A/AAAA and SPF record, its PTRs, a shared
 * include or report domain are asked once, however many domains name them. An error (NXDOMAIN,
 * NODATA, a timeout) is kept as well, as mailauth's own per-evaluation memo keeps it
 * (lib/spf/index.js memoizeResolver). Each caller gets its own copy of the answer. Queries go out
 * at most `maxInFlight` at once and `perSecond` in any second (MAX_IN_FLIGHT, MAX_QUERIES_PER_SECOND).
 */
export function sharedResolver(
    base: Resolve,
    { maxInFlight = MAX_IN_FLIGHT, perSecond = MAX_QUERIES_PER_SECOND }: { maxInFlight?: number; perSecond?: number } = {},
): Resolve & { counts: ResolverCounts } {
    const answers = new Map<string, Promise<any>>();
    const counts: ResolverCounts = { sent: 0, cached: 0, peakInFlight: 0 };
    const waiting: (() => void)[] = [];
    let inFlight = 0;
    // When the last queries went out: a new one waits until fewer than `budget` went out in the last
    // second. The budget is four fifths of `perSecond`: Node hands a query to c-ares at once, but a
    // busy event loop can send several together later (the bench measured 266 in a resolver's
    // second against 250 scheduled), and the bound is on what the resolver sees.
    const starts: number[] = [];
    const budget = Math.max(1, Math.floor(perSecond * 0.8));
    const WINDOW_MS = 1000;
    const slot = async () => {
        if (inFlight >= maxInFlight) await new Promise<void>((res) => waiting.push(res));
        else inFlight++;
        // A slot is handed over without inFlight going down (release), so no newcomer takes it first.
        for (;;) {
            const now = performance.now();
            if (starts.length < budget || now - starts[0] >= WINDOW_MS) {
                starts.push(now);
                if (starts.length > budget) starts.shift();
                break;
            }
            await new Promise((res) => setTimeout(res, starts[0] + WINDOW_MS - now));
        }
        counts.peakInFlight = Math.max(counts.peakInFlight, inFlight);
    };
    const release = () => {
        const next = waiting.shift();
        if (next) next();
        else inFlight--;
    };
    const resolve = (name: string, rrtype: string) => {
        const key = `${rrtype.toUpperCase()} ${lower(name)}`;
        let answer = answers.get(key);
        if (answer) counts.cached++;
        else {
            answer = (async () => {
                await slot();
                counts.sent++;
                try {
                    return await base(name, rrtype);
                } finally {
                    release();
                }
            })();
            answers.set(key, answer);
        }
        return answer.then((a) => structuredClone(a));
    };
    return Object.assign(resolve, { counts });
}

const lower = (name: string) => name.toLowerCase().replace(/\.$/, "");
const noRecord = (e: any) => e?.code === "ENOTFOUND" || e?.code === "ENODATA";

/** TXT strings at a name, each record's strings joined (RFC 7208 3.3, RFC 6376 3.6.2.2); [] for none. */
async function txt(resolve: Resolve, name: string): Promise<string[]> {
    try {
        return ((await resolve(name, "TXT")) as string[][]).map((r) => r.join(""));
    } catch (e) {
        if (noRecord(e)) return [];
        throw e;
    }
}

async function addresses(resolve: Resolve, name: string): Promise<string[]> {
    const out: string[] = [];
    for (const type of ["A", "AAAA"]) {
        try {
            out.push(...((await resolve(name, type)) as string[]));
        } catch (e) {
            if (!noRecord(e)) throw e;
        }
    }
    return out;
}

/** An address in one form, to compare (`2001:DB8::1` and `2001:db8:0::1` alike). */
function canonical(ip: string): string {
    return net.isIPv4(ip) ? ip : canonicalIpv6(ip);
}

const item = (check: string, status: Status, reason: string, fix = ""): CheckItem => ({ check, status, reason, fix });
const errorItem = (check: string, e: any): CheckItem =>
    item(
        check,
        "fail",
        `DNS error: ${String(e?.message ?? e).includes(e?.code) ? e.message : `${e?.code ?? ""} ${e?.message ?? e}`.trim()}`,
        "check that the resolvers answer for this name, then run the check again",
    );

/**
 * An address that no SPF record authorizes: IPv6 discard-only (RFC 6666, 100::/64). Evaluated from
 * it, a record runs to its end, so its every lookup is counted: a record that needs more than 10
 * passes for the host's own mail (the stack's record starts with `mx`, RFC 7208 4.6: evaluation stops
 * at the first match) and still gives a permerror to every sender its later terms are there for.
 */
const NOWHERE = "100::1";

/**
 * Exactly one SPF record at `name` (RFC 7208 4.5: two or more are a permerror; none is "none"), and
 * the DNS lookups the whole record takes, with its void lookups (RFC 7208 4.6.4: at most 10 and 2).
 */
async function spfRecordItem(resolve: Resolve, name: string, expectedHint: string): Promise<CheckItem> {
    const check = `spf record ${name}`;
    try {
        const records = (await txt(resolve, name)).filter(isSpfValue);
        if (records.length === 0)
            return item(check, "fail", `no SPF record at ${name}: receivers get SPF "none"`, `publish ${expectedHint} at ${name} (pulumi up does)`);
        if (records.length > 1)
            return item(
                check,
                "fail",
                `${records.length} SPF records at ${name} (${records.map((r) => `"${r}"`).join(", ")}): receivers return permerror (RFC 7208 4.5)`,
                `delete every SPF record at ${name} but the stack's own`,
            );
        const r = await spf({ sender: `postmaster@${name}`, ip: NOWHERE, helo: name, mta: "mailauth-check", resolver: resolve as any });
        const counts = lookupCounts(r);
        if (r.status.result === "permerror" || r.status.result === "temperror")
            return item(check, "fail", `"${records[0]}": ${r.status.result} (${counts})${because(r)}`, spfFix(r, name));
        return item(check, "pass", `one SPF record, "${records[0]}" (${counts})`);
    } catch (e) {
        return errorItem(check, e);
    }
}

const lookupCounts = (r: SPFResult) => `${r.lookups?.count ?? 0} of ${SPF_MAX_LOOKUPS} DNS lookups, ${r.lookups?.void ?? 0} of ${SPF_MAX_VOID} void`;
const because = (r: SPFResult) => (r.status.comment ? `: ${r.status.comment.replace(/^mailauth-check: /, "")}` : "");

/** The fix for an SPF evaluation that ended in an error (permerror, temperror) at `name`. */
function spfFix(r: SPFResult, name: string): string {
    if ((r.lookups?.count ?? 0) > SPF_MAX_LOOKUPS)
        return `the record at ${name} needs more than ${SPF_MAX_LOOKUPS} DNS lookups (RFC 7208 4.6.4): replace include:s by ip4:/ip6: terms or drop some (mailauth:spf.mechanisms)`;
    if ((r.lookups?.void ?? 0) > SPF_MAX_VOID)
        return `more than ${SPF_MAX_VOID} terms of the record at ${name} name hosts that do not exist (RFC 7208 4.6.4): remove them`;
    if (r.status.result === "temperror") return "a DNS query failed: check the resolvers and the zone, then run the check again";
    return `fix the record at ${name} (or a record it includes): ${r.status.comment?.replace(/^mailauth-check: /, "") ?? "a permanent error"}`;
}

/** SPF as a receiver evaluates it (mailauth lib/spf/index.js:365), for one identity from one address. */
async function spfItem(resolve: Resolve, kind: "mail-from" | "helo", domain: string, helo: string, ip: string): Promise<CheckItem> {
    const identity = kind === "mail-from" ? `postmaster@${domain}` : helo;
    const check = `spf ${kind} ${ip}`;
    // An empty sender makes mailauth check the HELO identity, as postmaster@<helo> (lib/spf/index.js:372-375, RFC 7208 2.3).
    const r = await spf({ sender: kind === "mail-from" ? identity : undefined, ip, helo, mta: "mailauth-check", resolver: resolve as any });
    const counts = lookupCounts(r);
    const result = r.status.result;
    if (result === "pass" && !r.warnings?.length) return item(check, "pass", `SPF pass for ${identity} from ${ip} (${counts})`);
    const at = kind === "mail-from" ? domain : helo;
    if (result === "pass")
        return item(
            check,
            "warn",
            `SPF pass for ${identity} from ${ip} (${counts}), but a strict receiver would not agree: ${r.warnings!.join(", ")}`,
            `fix the record at ${at}: "${r.rr ?? ""}"`,
        );
    const fix =
        result === "permerror" || result === "temperror"
            ? spfFix(r, at)
            : kind === "mail-from"
              ? `let ${ip} pass: the MX host must resolve to it (the record has mx), or add ip4:/ip6: for it to mailauth:spf.mechanisms`
              : `publish "v=spf1 a -all" at ${helo} (mailauth:mx.heloSpf) and let ${helo} resolve to ${ip}`;
    return item(check, "fail", `SPF ${result} for ${identity} from ${ip} (${counts})${because(r)}`, fix);
}

/** How a DKIM item words each finding of keyRecordItem: [reason, fix] for a failure. */
interface KeyRecordTexts {
    /** No TXT record at the name. */
    missing: [string, string];
    /** More than one TXT record there (the fix: delete all but the stack's own). */
    several: (count: number) => string;
    /** The one record has the empty p= (revoked, RFC 6376 3.6.1); without it, that is another key. */
    revoked?: [string, string];
    /** The stack published no key to compare with; without it, the record is compared with "" as well. */
    unknown?: [string, string];
    /** The record's key p= is not the stack's. */
    other: (p: string) => [string, string];
    /** The record publishes the stack's key p=. */
    pass: (p: string) => string;
}

/**
 * The DKIM key record at `name` as receivers need it: exactly one record there, not revoked (when
 * the item asks), with the stack's key `expected`. Every TXT record at the name is the key record
 * (v=DKIM1 is only recommended, RFC 6376 3.6.1); its tag=value pairs are read with white space
 * inside the value ignored (components/records/dkim.ts).
 */
async function keyRecordItem(resolve: Resolve, check: string, name: string, expected: string | undefined, texts: KeyRecordTexts): Promise<CheckItem> {
    try {
        const records = await txt(resolve, name);
        if (records.length === 0) return item(check, "fail", ...texts.missing);
        if (records.length > 1) return item(check, "fail", texts.several(records.length), `delete every TXT record at ${name} but the stack's own`);
        const p = dkimPublicKey(records[0]);
        if (texts.revoked && p === "") return item(check, "fail", ...texts.revoked);
        if (texts.unknown && !expected) return item(check, "fail", ...texts.unknown);
        if (p === expected) return item(check, "pass", texts.pass(p));
        return item(check, "fail", ...texts.other(p));
    } catch (e) {
        return errorItem(check, e);
    }
}

async function dkimItem(resolve: Resolve, domain: string, selector: string, expected: string): Promise<CheckItem> {
    const name = dkimRecordName(selector, domain);
    const short = (p: string) => (p.length > 24 ? `${p.slice(0, 12)}…${p.slice(-8)}` : p);
    return keyRecordItem(resolve, `dkim ${selector}`, name, expected, {
        missing: [`no DKIM record at ${name}: receivers cannot verify mail signed with selector ${selector}`, "run pulumi up to publish it"],
        several: (count) => `${count} TXT records at ${name}: receivers may take either key`,
        other: (p) => [
            `${name} publishes p=${p === "" ? "(none)" : short(p)}, not the stack's key p=${short(expected)}: mail signed with selector ${selector} fails DKIM`,
            `put back the record the stack published ("v=DKIM1; k=rsa; p=${short(expected)}", in full in the stack output records): edit it in Cloudflare, or delete it and run pulumi up`,
        ],
        pass: (p) => `${name} publishes the stack's key (p=${short(p)})`,
    });
}

/** One `dkim signing <selector>` item per selector that signs the domain's mail (CheckDomain.signing). */
function signingItems(resolve: Resolve, d: CheckDomain): Promise<CheckItem>[] {
    const list = d.signing === undefined ? [] : typeof d.signing === "string" ? [d.signing] : d.signing;
    return list.map((sel) => signingItem(resolve, d.name, sel, d.dkim.find((k) => k.selector === sel)?.publicKey));
}

/**
 * The selector that signs: the one the stack wrote into the host's SigningTable this run is published,
 * not revoked, with the key the stack installed for it (`expected`, as published by the stack). This
 * checks the published truth against what the stack configured the host to sign with; it does not
 * read the host's SigningTable or a signed message (opendkim-testkey on the host, the `testKey`
 * output, checks the host's key file against DNS; the lab signs real mail).
 */
async function signingItem(resolve: Resolve, domain: string, selector: string, expected: string | undefined): Promise<CheckItem> {
    const name = dkimRecordName(selector, domain);
    const configured = `the host signs ${domain}'s mail with selector ${selector} (the SigningTable the stack wrote this run)`;
    return keyRecordItem(resolve, `dkim signing ${selector}`, name, expected, {
        missing: [
            `${configured}, but ${name} has no record: receivers cannot verify any of its mail (DKIM permerror, no key)`,
            "run pulumi up to publish it; if it was deleted by hand, the stack puts it back",
        ],
        several: (count) => `${configured}, but ${name} has ${count} TXT records: receivers may take either key`,
        revoked: [
            `${configured}, but ${name} publishes the empty p= (revoked, RFC 6376 3.6.1): receivers fail every signature it makes`,
            `sign with a published selector: pulumi up (the signing gate moves to one whose record is in the zone), or put back the record the stack published`,
        ],
        unknown: [`${configured}, but the stack published no key for it`, "run pulumi up: the stack publishes a key for every selector it installs"],
        other: () => [
            `${configured}, but ${name} publishes another key than the one installed for it: its signatures fail DKIM`,
            `put back the record the stack published: edit it in Cloudflare, or delete it and run pulumi up`,
        ],
        pass: () => `${configured}; ${name} publishes its key`,
    });
}

/** The `mailto:` hosts of a DMARC `rua` value (RFC 7489 6.4: URIs separated by commas, an optional !size). */
function mailtoHosts(rua: string): string[] {
    const hosts: string[] = [];
    for (const uri of rua.split(",")) {
        const m = uri.trim().match(/^mailto:[^@]*@([^!]+)/i);
        if (m) hosts.push(lower(m[1].trim()));
    }
    return [...new Set(hosts)];
}

async function dmarcItems(resolve: Resolve, domain: string): Promise<CheckItem[]> {
    const name = dmarcRecordName(domain);
    let records: string[];
    try {
        records = (await txt(resolve, name)).filter(isDmarcValue);
    } catch (e) {
        return [errorItem("dmarc", e)];
    }
    if (records.length === 0)
        return [item("dmarc", "fail", `no DMARC record at ${name}: receivers apply no policy`, "publish one (mailauth:dmarc.enabled), pulumi up")];
    if (records.length > 1)
        // A set of several is discarded as if none were there (RFC 9989 4.10; get-dmarc-record.js:171-172).
        return [
            item(
                "dmarc",
                "fail",
                `${records.length} DMARC records at ${name}: receivers discard them all (RFC 9989 4.10)`,
                `delete every DMARC record at ${name} but the stack's own`,
            ),
        ];
    const parsed = getDmarcRecord.parseDmarcRecord(records[0]);
    if (!parsed) return [item("dmarc", "fail", `the record at ${name} does not parse: "${records[0]}"`, "put back the stack's record: pulumi up")];
    const items: CheckItem[] = [];
    const rua = typeof parsed.rua === "string" ? parsed.rua : "";
    if (parsed.p === "none" && !rua)
        items.push(
            item(
                "dmarc",
                "warn",
                `p=none with no rua: receivers apply no policy and send no reports, so nothing shows whether your mail passes ("${records[0]}")`,
                "set mailauth:dmarc.rua to an address that reads the reports, then tighten mailauth:dmarc.policy",
            ),
        );
    else items.push(item("dmarc", "pass", `one DMARC record, p=${parsed.p ?? "(none)"}${rua ? `, rua=${rua}` : ""}`));
    // A receiver sends reports to another organizational domain only if it authorizes them (RFC 7489 7.1;
    // the aggregate-reporting text, "Verifying External Destinations"): the organizational domain by the
    // DNS tree walk (RFC 9989 4.10.2), mailauth's getOrgDomain (get-dmarc-record.js:237).
    const lookup = getDmarcRecord.createRecordLookup(resolve as any);
    for (const host of mailtoHosts(rua)) {
        const check = `dmarc report ${host}`;
        try {
            const [mine, theirs] = await Promise.all([getDmarcRecord.getOrgDomain(lower(domain), lookup), getDmarcRecord.getOrgDomain(host, lookup)]);
            if (mine === theirs) continue;
            const authName = reportAuthorizationName(lower(domain), host);
            const found = (await txt(resolve, authName)).some(isDmarcValue);
            items.push(
                found
                    ? item(check, "pass", `${authName} authorizes reports for ${domain} to ${host}`)
                    : item(
                          check,
                          "warn",
                          `no report authorization at ${authName}: receivers send ${domain}'s reports to ${host} only if it says so`,
                          `the owner of ${host} must publish: ${authName}. TXT "${REPORT_AUTHORIZATION_VALUE}"`,
                      ),
            );
        } catch (e) {
            items.push(errorItem(check, e));
        }
    }
    return items;
}

async function mxItem(resolve: Resolve, domain: string, mxHost: string, hostAddresses: string[]): Promise<CheckItem> {
    try {
        let mx: { exchange: string; priority: number }[];
        try {
            mx = await resolve(domain, "MX");
        } catch (e) {
            if (!noRecord(e)) throw e;
            mx = [];
        }
        const hosts = mx.map((m) => lower(m.exchange));
        if (!hosts.includes(lower(mxHost)))
            return item(
                "mx",
                "fail",
                hosts.length ? `MX of ${domain} is ${hosts.join(", ")}, not ${mxHost}` : `${domain} has no MX record`,
                `publish MX ${mxHost} for ${domain} (mailauth:mx.publish), or set mailauth:mx.hostname to the real MX host`,
            );
        const resolved = (await addresses(resolve, mxHost)).map(canonical);
        const missing = hostAddresses.filter((a) => !resolved.includes(canonical(a)));
        if (missing.length > 0)
            return item(
                "mx",
                "fail",
                `MX ${mxHost} resolves to ${resolved.join(", ") || "nothing"}, not to ${missing.join(", ")}`,
                `publish A/AAAA ${missing.join(", ")} for ${mxHost} (mailauth:mx.ipv4, mx.ipv6)`,
            );
        return item("mx", "pass", `MX ${mxHost} resolves to ${resolved.join(", ")}`);
    } catch (e) {
        return errorItem("mx", e);
    }
}

/** Forward-confirmed reverse DNS: the PTR of `ip` names mxHost, and mxHost resolves back to `ip`. */
async function fcrdnsItem(resolve: Resolve, mxHost: string, ip: string): Promise<CheckItem> {
    const check = `fcrdns ${ip}`;
    try {
        let names: string[];
        try {
            names = ((await resolve(ptrName(ip), "PTR")) as string[]).map(lower);
        } catch (e) {
            if (!noRecord(e)) throw e;
            names = [];
        }
        const fix = `ask whoever runs ${ip} (the hosting provider) to set its PTR to ${mxHost}`;
        if (!names.includes(lower(mxHost)))
            return item(
                check,
                "fail",
                names.length
                    ? `PTR of ${ip} is ${names.join(", ")}, not ${mxHost}: receivers such as Gmail and Outlook reject or junk such mail`
                    : `${ip} has no PTR record (expected ${mxHost})`,
                fix,
            );
        const back = (await addresses(resolve, mxHost)).map(canonical);
        if (!back.includes(canonical(ip)))
            return item(
                check,
                "fail",
                `PTR of ${ip} is ${mxHost}, but ${mxHost} resolves to ${back.join(", ") || "nothing"}, not ${ip}`,
                `publish ${ip} for ${mxHost}`,
            );
        return item(check, "pass", `PTR of ${ip} is ${mxHost}, which resolves back to ${ip}`);
    } catch (e) {
        return errorItem(check, e);
    }
}

/** The reverse-lookup name of an address (RFC 1035 3.5, RFC 3596 2.5). */
export function ptrName(ip: string): string {
    if (net.isIPv4(ip)) return `${ip.split(".").reverse().join(".")}.in-addr.arpa`;
    const nibbles = (parseIpv6(ip) ?? 0n).toString(16).padStart(32, "0");
    return `${nibbles.split("").reverse().join(".")}.ip6.arpa`;
}

/** STARTTLS per address, probed once a run whatever the number of domains (undefined: not checked). */
type Probe = ((ip: string, mxHost: string) => Promise<CheckItem>) | undefined;

/** mailauth:hosts: the domain's own items, then per host its SPF from each address, its MX (an MX host) and reverse DNS. */
async function checkHosts(resolve: Resolve, d: CheckDomain, hosts: CheckHost[], probe: Probe): Promise<CheckItem[]> {
    const perHost = async (h: CheckHost): Promise<CheckItem[]> => {
        const label = `${h.mx ? "mx" : "host"} ${h.hostname}`;
        let ips = h.addresses;
        if (ips.length === 0) {
            try {
                ips = await addresses(resolve, h.hostname);
            } catch (e) {
                return [errorItem(label, e)];
            }
            if (ips.length === 0)
                return [
                    item(
                        label,
                        "fail",
                        `${h.hostname} resolves to no address: nothing to check SPF and reverse DNS from`,
                        `publish A/AAAA for ${h.hostname} (its ipv4/ipv6 in mailauth:hosts)`,
                    ),
                ];
        }
        const parts = await Promise.all([
            ...(lower(h.hostname) === lower(d.name) ? [] : [spfRecordItem(resolve, h.hostname, '"v=spf1 a -all"')]),
            ...ips.map((ip) => spfItem(resolve, "mail-from", d.name, h.hostname, ip)),
            ...ips.map((ip) => spfItem(resolve, "helo", d.name, h.hostname, ip)),
            ...(h.mx ? [mxItem(resolve, d.name, h.hostname, ips).then((i) => ({ ...i, check: label }))] : []),
            ...ips.map((ip) => fcrdnsItem(resolve, h.hostname, ip)),
            // STARTTLS is what a sender meets at an MX host.
            ...(probe && h.mx ? ips.map((ip) => probe(ip, h.hostname)) : []),
        ]);
        return parts;
    };
    const parts = await Promise.all([
        spfRecordItem(resolve, d.name, "the stack's SPF record"),
        ...d.dkim.map((k) => dkimItem(resolve, d.name, k.selector, k.publicKey)),
        ...signingItems(resolve, d),
        dmarcItems(resolve, d.name),
        ...hosts.map(perHost),
    ]);
    return parts.flatMap((p) => (Array.isArray(p) ? p : [p]));
}

async function checkDomain(resolve: Resolve, d: CheckDomain, probe: Probe): Promise<CheckItem[]> {
    if (d.hosts) return checkHosts(resolve, d, d.hosts, probe);
    let hostAddresses = d.addresses;
    const items: CheckItem[] = [];
    if (hostAddresses.length === 0) {
        try {
            hostAddresses = await addresses(resolve, d.mxHost);
        } catch (e) {
            return [errorItem("mx", e)];
        }
        if (hostAddresses.length === 0)
            return [
                item(
                    "mx",
                    "fail",
                    `${d.mxHost} resolves to no address: nothing to check SPF and reverse DNS from`,
                    `publish A/AAAA for ${d.mxHost} (mailauth:mx.ipv4, mx.ipv6)`,
                ),
            ];
    }
    const heloSame = lower(d.mxHost) === lower(d.name);
    const parts = await Promise.all([
        spfRecordItem(resolve, d.name, "the stack's SPF record"),
        ...(heloSame ? [] : [spfRecordItem(resolve, d.mxHost, '"v=spf1 a -all"')]),
        ...hostAddresses.map((ip) => spfItem(resolve, "mail-from", d.name, d.mxHost, ip)),
        ...hostAddresses.map((ip) => spfItem(resolve, "helo", d.name, d.mxHost, ip)),
        ...d.dkim.map((k) => dkimItem(resolve, d.name, k.selector, k.publicKey)),
        ...signingItems(resolve, d),
        dmarcItems(resolve, d.name),
        mxItem(resolve, d.name, d.mxHost, hostAddresses),
        ...hostAddresses.map((ip) => fcrdnsItem(resolve, d.mxHost, ip)),
        ...(probe ? hostAddresses.map((ip) => probe(ip, d.mxHost)) : []),
    ]);
    for (const p of parts) items.push(...(Array.isArray(p) ? p : [p]));
    return items;
}

/**
 * Checks every domain, all at once, through one shared resolver (sharedResolver: each question asked
 * once a run, at most MAX_IN_FLIGHT queries at once); per domain its items. Rejects only on a bug,
 * never on what DNS holds.
 */
export async function checkPublished(input: CheckInput, base: Resolve = makeResolver(input.resolvers, input.timeoutMs)): Promise<CheckResult> {
    const resolve = sharedResolver(base);
    let probe: Probe;
    const starttls = input.starttls;
    if (starttls) {
        const probes = new Map<string, Promise<StarttlsResult>>();
        probe = async (ip, mxHost) => {
            const key = `${canonical(ip)} ${lower(mxHost)}`;
            if (!probes.has(key)) probes.set(key, probeStarttls(ip, mxHost, starttls));
            return starttlsItem(ip, mxHost, await probes.get(key)!, starttls.port ?? 25);
        };
    }
    const results = await Promise.all(input.domains.map((d) => checkDomain(resolve, d, probe)));
    return Object.fromEntries(input.domains.map((d, i) => [d.name, results[i]]));
}

/** The worst status of a domain's items. */
export function worst(items: readonly CheckItem[]): Status {
    return items.some((i) => i.status === "fail") ? "fail" : items.some((i) => i.status === "warn") ? "warn" : "pass";
}
