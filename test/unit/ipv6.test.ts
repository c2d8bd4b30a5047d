/** mx.ipv6 published in RFC 5952 form (issue 15.9, terraform-provider-cloudflare#3354). */
import { describe, expect, it } from "vitest";
import { canonicalIpv6 } from "../../components/ipv6";
import { mailDnsTargets } from "../../components/mailDns";

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
    ])("%s -> %s", (given, want) => {
        expect(canonicalIpv6(given)).toBe(want);
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
    });
});
