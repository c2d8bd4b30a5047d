/**
 * IPv6 addresses: the one parser of their text forms (RFC 4291 2.2: hex groups, one `::`, an
 * optional dotted IPv4 tail) into the 128-bit number, and the one text form of a number (RFC 5952
 * section 4): lower case, no leading zeros in a group, the longest run of two or more zero groups
 * (the first of equal runs) as `::`, a single zero group kept. The address checks
 * (components/validate/addresses.ts) count blocks with the first; the AAAA record is published in
 * the second, which is how Cloudflare stores and returns it: "Cloudflare uses the canonical notation
 * [RFC 5952 4.2] to store DNS records. This means that an AAAA record with content `fe80::0:0:1` is
 * stored and returned as `fe80::1`" (cloudflare/cloudflare-docs
 * src/content/docs/dns/manage-dns-records/reference/dns-record-types.mdx @3e5c0a7, A and AAAA).
 * A configured `2001:DB8:0:0::1` published as given would differ from what the provider reads back
 * on every run (the record updated on each `pulumi up`: cloudflare/terraform-provider-cloudflare#3354).
 * An address written with a dotted IPv4 tail (`::ffff:192.0.2.1`) keeps it (RFC 5952 5); the settings
 * refuse such addresses as mx.ipv6 anyway.
 */
import * as net from "net";

/** The 128-bit value of an IPv6 address (no zone id), or undefined when it is not one. */
export function parseIpv6(address: string): bigint | undefined {
    if (address.includes("%") || net.isIP(address) !== 6) return undefined;
    let text = address;
    const dotted = text.match(/^(.*:)(\d+\.\d+\.\d+\.\d+)$/);
    if (dotted) {
        const v4 = dotted[2].split(".").reduce((n, o) => (n << 8n) | BigInt(Number(o)), 0n);
        text = `${dotted[1]}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
    }
    const [head, tail] = text.includes("::") ? text.split("::") : [text, undefined];
    const left = head ? head.split(":") : [];
    const right = tail === undefined ? [] : tail ? tail.split(":") : [];
    const groups = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill("0"), ...right];
    return groups.reduce((n, g) => (n << 16n) | BigInt(parseInt(g, 16)), 0n);
}

/** The RFC 5952 text of a 128-bit value; with `dottedTail`, the last 32 bits as a dotted quad. */
export function formatIpv6(value: bigint, dottedTail = false): string {
    const words = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(16 * (7 - i))) & 0xffffn).toString(16));
    const limit = dottedTail ? 6 : 8;
    let best = { at: -1, len: 0 };
    for (let i = 0; i < limit;) {
        if (words[i] !== "0") {
            i++;
            continue;
        }
        let j = i;
        while (j < limit && words[j] === "0") j++;
        if (j - i > best.len && j - i >= 2) best = { at: i, len: j - i };
        i = j;
    }
    const shown = words.slice(0, limit);
    let out = best.at < 0 ? shown.join(":") : `${shown.slice(0, best.at).join(":")}::${shown.slice(best.at + best.len).join(":")}`;
    if (dottedTail) {
        const quad = [24n, 16n, 8n, 0n].map((s) => String(Number((value >> s) & 0xffn))).join(".");
        out = best.at >= 0 && best.at + best.len === limit ? `${out}${quad}` : `${out}:${quad}`;
    }
    return out;
}

/** An IPv6 address in RFC 5952 form; anything that is not one is returned as it is (the settings refuse it before). */
export function canonicalIpv6(address: string): string {
    const value = parseIpv6(address);
    return value === undefined ? address : formatIpv6(value, /\d+\.\d+\.\d+\.\d+$/.test(address));
}
