/**
 * How much of the public internet a list of address blocks covers: the line between "the
 * server's own addresses, the relay's block" and "everyone", for OpenDKIM's trusted hosts
 * (whose mail it signs) and for SPF's ip4:/ip6: mechanisms (whose mail receivers accept).
 *
 * "Public" is every address outside the special-purpose ranges below (IANA's IPv4 and IPv6
 * Special-Purpose Address Registries, RFC 6890): what is not known to be private counts as
 * public, so a block over unallocated space is counted too. IPv4 reached through IPv6
 * (`::ffff:0:0/96` mapped addresses, RFC 4291 2.5.5.2; the NAT64 prefix `64:ff9b::/96`, RFC 6052)
 * counts as the IPv4 space it stands for: `::ffff:0:0/96` is all of IPv4. OpenDKIM's
 * data sets take IPv4-mapped IPv6 addresses (opendkim.conf(5) PeerList, which InternalHosts
 * follows) and its lookup tries every prefix length of the client's address from /0 up
 * (trusteddomainproject/OpenDKIM opendkim/util.c:425 dkimf_checkip, `for (bits = 0; bits <= 128;
 * bits++)` ~495, and the IPv4 branch ~583), so `0.0.0.0/0` or `::/0` matches every client.
 */
import * as net from "net";
import { parseIpv6 } from "../ipv6";

export interface Block {
    family: 4 | 6;
    first: bigint;
    last: bigint;
}

function v4ToBig(addr: string): bigint {
    return addr.split(".").reduce((n, o) => (n << 8n) | BigInt(Number(o)), 0n);
}

/** A block `addr[/bits]` (bits as a plain decimal), or undefined when it is not one. */
export function parseBlock(value: string): Block | undefined {
    const [addr, bits, ...rest] = value.split("/");
    const family = net.isIP(addr);
    if (rest.length > 0 || addr.includes("%") || family === 0) return undefined;
    const width = family === 4 ? 32 : 128;
    if (bits !== undefined && !/^(?:0|[1-9]\d{0,2})$/.test(bits)) return undefined;
    const len = bits === undefined ? width : Number(bits);
    if (len > width) return undefined;
    const base = family === 4 ? v4ToBig(addr) : parseIpv6(addr)!;
    const host = (1n << BigInt(width - len)) - 1n;
    const first = base & ~host & ((1n << BigInt(width)) - 1n);
    return { family: family as 4 | 6, first, last: first | host };
}

const range = (cidr: string): Block => parseBlock(cidr)!;

/** IANA special-purpose IPv4 ranges (RFC 6890 and its updates), none of them reachable as a sender on the internet. */
const PRIVATE_V4 = [
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
].map(range);
/** IPv6 ranges that stand for IPv4 space: counted as the IPv4 addresses they map. */
const EMBEDDED_V4 = ["::ffff:0:0/96", "64:ff9b::/96"].map(range);
/** Special-purpose IPv6 ranges (unspecified, loopback, discard, documentation, ULA, link-local, multicast). */
const PRIVATE_V6 = ["::/128", "::1/128", "100::/64", "2001:db8::/32", "fc00::/7", "fe80::/10", "ff00::/8"].map(range);

const overlap = (a: Block, b: Block): [bigint, bigint] | undefined => {
    const lo = a.first > b.first ? a.first : b.first;
    const hi = a.last < b.last ? a.last : b.last;
    return lo <= hi ? [lo, hi] : undefined;
};

/** The union of blocks of one family, as sorted, disjoint intervals. */
function union(blocks: Block[]): Block[] {
    const sorted = [...blocks].sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
    const out: Block[] = [];
    for (const b of sorted) {
        const prev = out[out.length - 1];
        if (prev && b.first <= prev.last + 1n) {
            if (b.last > prev.last) prev.last = b.last;
        } else {
            out.push({ ...b });
        }
    }
    return out;
}

function publicCount(blocks: Block[], privates: Block[]): bigint {
    let n = 0n;
    for (const b of union(blocks)) {
        n += b.last - b.first + 1n;
        for (const p of privates) {
            const o = overlap(b, p);
            if (o) n -= o[1] - o[0] + 1n;
        }
    }
    return n;
}

export interface PublicSpan {
    /** Public IPv4 addresses covered, IPv4 reached through mapped and NAT64 IPv6 included. */
    v4: bigint;
    /** Public IPv6 addresses covered, the IPv4-standing ranges left out. */
    v6: bigint;
}

/** How many public addresses the blocks cover together (overlaps counted once). */
export function publicSpan(blocks: Block[]): PublicSpan {
    const v4: Block[] = blocks.filter((b) => b.family === 4);
    const v6: Block[] = blocks.filter((b) => b.family === 6);
    for (const b of v6) {
        for (const e of EMBEDDED_V4) {
            const o = overlap(b, e);
            if (o) v4.push({ family: 4, first: o[0] - e.first, last: o[1] - e.first });
        }
    }
    return { v4: publicCount(v4, PRIVATE_V4), v6: publicCount(v6, [...PRIVATE_V6, ...EMBEDDED_V4]) };
}

/** The special-purpose ranges a single address may fall in, and whether a published A/AAAA record or a resolver may use it. */
const NAMED: { block: Block; name: string; dns: boolean; resolver: boolean }[] = (
    [
        ["0.0.0.0/8", 'an unspecified ("this network") address', false, false],
        ["10.0.0.0/8", "a private address (RFC 1918)", true, true],
        ["100.64.0.0/10", "a carrier-grade NAT address (RFC 6598)", true, true],
        ["127.0.0.0/8", "a loopback address", false, true],
        ["169.254.0.0/16", "a link-local address", false, false],
        ["172.16.0.0/12", "a private address (RFC 1918)", true, true],
        ["192.0.0.0/24", "an IETF protocol-assignment address", false, false],
        // Private ranges serve mail inside a private network (the lab's hosts: test/lab/lab.ts
        // HOST_ADDR): allowed as A/AAAA. Documentation ranges (RFC 5737, RFC 3849) are what examples and tests use: allowed.
        ["192.0.2.0/24", "a documentation address", true, true],
        ["192.168.0.0/16", "a private address (RFC 1918)", true, true],
        ["198.18.0.0/15", "a benchmarking address (RFC 2544)", false, false],
        ["198.51.100.0/24", "a documentation address", true, true],
        ["203.0.113.0/24", "a documentation address", true, true],
        ["224.0.0.0/4", "a multicast address", false, false],
        ["240.0.0.0/4", "a reserved or broadcast address", false, false],
        ["::/128", "the unspecified address", false, false],
        ["::1/128", "the loopback address", false, true],
        ["::ffff:0:0/96", "an IPv4-mapped address (publish the IPv4 address in mx.ipv4)", false, false],
        ["64:ff9b::/96", "a NAT64 address standing for an IPv4 address", false, false],
        ["100::/64", "a discard-only address", false, false],
        ["2001:db8::/32", "a documentation address", true, true],
        ["fc00::/7", "a unique local (private) address", true, true],
        ["fe80::/10", "a link-local address", false, false],
        ["ff00::/8", "a multicast address", false, false],
    ] as [string, string, boolean, boolean][]
).map(([cidr, name, dns, resolver]) => ({ block: range(cidr), name, dns, resolver }));

/**
 * Why one address cannot serve as `use`: an A/AAAA record of the mail server ("dns": other
 * servers connect to it from the internet) or a resolver OpenDKIM queries ("resolver": one on
 * the server itself or the local network is fine, a multicast or unspecified one is not).
 * Undefined when it can.
 */
export function addressProblem(value: string, use: "dns" | "resolver"): string | undefined {
    const b = parseBlock(value);
    if (!b || value.includes("/")) return "not an address";
    const hit = NAMED.find((n) => n.block.family === b.family && n.block.first <= b.first && b.first <= n.block.last);
    if (!hit || hit[use]) return undefined;
    return hit.name;
}

/** A count of addresses as the prefix length of a block of that size, e.g. 2^24 -> "/8". */
export function asPrefix(count: bigint, family: 4 | 6): string {
    const width = family === 4 ? 32 : 128;
    let bits = 0;
    while (1n << BigInt(bits + 1) <= count) bits++;
    return `/${width - bits}`;
}
