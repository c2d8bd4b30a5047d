/**
 * An IPv6 address in its one text form (RFC 5952 section 4): lower case, no leading zeros in a group,
 * the longest run of two or more zero groups (the first of equal runs) as `::`, a single zero group
 * kept. Cloudflare stores and returns an AAAA record's content so; a configured `2001:DB8:0:0::1`
 * published as given would differ from what the provider reads back on every run (the record updated
 * on each `pulumi up`: cloudflare/terraform-provider-cloudflare#3354). An address with a dotted IPv4 tail
 * (`::ffff:192.0.2.1`) keeps the tail dotted (RFC 5952 5). Anything that is not an IPv6 address is
 * returned as it is (the settings refuse it before).
 */
import * as net from "net";

export function canonicalIpv6(address: string): string {
    if (net.isIP(address) !== 6) return address;
    let text = address.toLowerCase();
    let tail = "";
    const dotted = text.match(/^(.*:)(\d+\.\d+\.\d+\.\d+)$/);
    if (dotted) {
        text = `${dotted[1]}0:0`;
        tail = dotted[2];
    }
    const [head, rest] = text.includes("::") ? text.split("::") : [text, undefined];
    const left = head ? head.split(":") : [];
    const right = rest === undefined ? [] : rest ? rest.split(":") : [];
    const groups = rest === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill("0"), ...right];
    const words = groups.map((g) => parseInt(g, 16).toString(16));
    const limit = tail ? 6 : 8;
    let best = { at: -1, len: 0 };
    for (let i = 0; i < limit; ) {
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
    let out: string;
    if (best.at < 0) out = shown.join(":");
    else out = `${shown.slice(0, best.at).join(":")}::${shown.slice(best.at + best.len).join(":")}`;
    if (tail) out = best.at >= 0 && best.at + best.len === limit ? `${out}${tail}` : `${out}:${tail}`;
    return out;
}
