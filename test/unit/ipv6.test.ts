/** IPv6 in one parser and one text form: mx.ipv6 published in RFC 5952 form (issue 15.9, terraform-provider-cloudflare#3354), as Cloudflare stores it. */
import * as crypto from "crypto";
import { describe, expect, it } from "vitest";
import { canonicalIpv6, formatIpv6, parseIpv6 } from "../../components/ipv6";
import { mailDnsTargets } from "../../components/mailDns";
import { parseBlock } from "../../components/validate/addresses";
import { FakeCloudflare } from "../cloudflare";

describe("canonical IPv6", () => {
    it.each([
        ["2001:DB8:0:0:0:0:0:1", "2001:db8::1"],
        ["2001:0db8:0000:0000:0001:0000:0000:0001", "2001:db8::1:0:0:1"], // the first of two equal runs
        ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // one zero group stays
        ["2001:db8:0:0:1:0:0:0", "2001:db8:0:0:1::"], // the longest run
        ["0:0:0:0:0:0:0:1", "::1"],
        ["2001:db8::", "2001:db8::"],
        ["::FFFF:192.0.2.1", "::ffff:192.0.2.1"],
        ["2001:db8::0:1", "2001:db8::1"],
        ["fe80::0:0:1", "fe80::1"], // Cloudflare's own example (dns-record-types.mdx)
        ["::", "::"],
        ["::1.2.3.4", "::1.2.3.4"],
        ["1:0:0:2:0:0:0:3", "1:0:0:2::3"],
    ])("%s -> %s", (given, want) => {
        expect(canonicalIpv6(given)).toBe(want);
    });

    it("parses the full form to its value and prints the form Node's URL serializer prints, which parses back to it", () => {
        for (let i = 0; i < 500; i++) {
            const bytes = crypto.randomBytes(16);
            // Runs of zeros, as real addresses have them.
            for (let g = 0; g < 8; g++) if (Math.random() < 0.4) bytes.writeUInt16BE(0, g * 2);
            const value = BigInt(`0x${bytes.toString("hex")}`);
            const full = Array.from({ length: 8 }, (_, g) =>
                bytes
                    .readUInt16BE(g * 2)
                    .toString(16)
                    .toUpperCase()
                    .padStart(4, "0"),
            ).join(":");
            expect(parseIpv6(full)).toBe(value);
            const text = formatIpv6(value);
            expect(parseIpv6(text)).toBe(value);
            expect(canonicalIpv6(full)).toBe(text);
            // The address checks count blocks with the same parser.
            expect(parseBlock(`${text}/128`)?.first).toBe(value);
            // Node prints the same RFC 5952 form (its URL host serializer, WHATWG "IPv6 serializer").
            expect(new URL(`http://[${full}]/`).hostname).toBe(`[${text}]`);
        }
    });

    it("is not fooled by what is not an IPv6 address", () => {
        for (const bad of ["2001:db8::1%eth0", "1.2.3.4", "2001:db8:::1", "[::1]", "::ffff:1.2.3.256", ""]) expect(parseIpv6(bad), bad).toBeUndefined();
    });

    it("the AAAA record's value is built canonical: what Cloudflare reads back, so a second up changes nothing", () => {
        const [aaaa] = mailDnsTargets("example.com", {
            domain: "example.com",
            mxAddresses: { hostname: "mail.example.com", ipv6: "2001:DB8:0000::0025" },
            spf: "v=spf1 mx -all",
            dkim: {},
            ttl: 1,
            comment: "x",
        } as any).filter((t) => t.type === "AAAA");
        expect(aaaa.value).toBe("2001:db8::25");
        // The fake keeps an AAAA record as Cloudflare does: the stack's value is what it returns.
        const cf = new FakeCloudflare();
        cf.addZone("example.com");
        expect(cf.addRecord("example.com", { name: "mail.example.com", type: "AAAA", content: "2001:DB8:0000::0025" }).content).toBe(aaaa.value);
    });
});
