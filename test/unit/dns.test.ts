import * as crypto from "crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { exampleConfig, Run, runProgram } from "../harness";
import { dkimRecordName, dkimSelectorOf } from "../../components/records/dkim";

const SPF = "v=spf1 mx ip4:192.0.2.25 ~all";
const DMARC = "v=DMARC1; p=none; rua=mailto:dmarc-reports@example.com";

/** Joins Cloudflare's quoted TXT chunks back into the value. */
function unquote(content: string): { chunks: string[]; value: string } {
    const chunks = [...content.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]);
    expect(chunks.map((c) => `"${c}"`).join(" ")).toBe(content);
    return { chunks, value: chunks.join("") };
}

describe("DNS records under the example config", () => {
    let run: Run;
    beforeAll(async () => {
        run = await runProgram(exampleConfig());
    });
    const records = () => run.resources.filter((r) => r.type === "cloudflare:index/dnsRecord:DnsRecord");
    const byName = (n: string) => records().find((r) => r.name === n)!;

    it("publishes exactly the expected records, none proxied, all with the configured TTL", () => {
        expect(
            records()
                .map((r) => `${r.inputs.type} ${r.inputs.name}`)
                .sort(),
        ).toEqual(
            [
                "A mail.example.com",
                "MX example.com",
                "MX example.org",
                "TXT 20261127._domainkey.example.com",
                "TXT 20261127._domainkey.example.org",
                "TXT _dmarc.example.com",
                "TXT _dmarc.example.org",
                "TXT example.com",
                "TXT example.org",
                "TXT mail.example.com",
                // example.org's reports go to dmarc-reports@example.com: example.com authorizes them.
                "TXT example.org._report._dmarc.example.com",
            ].sort(),
        );
        for (const r of records()) {
            expect(r.inputs.proxied).toBe(false);
            expect(r.inputs.ttl).toBe(3600);
        }
    });

    it("puts each record in its own domain's zone", () => {
        for (const r of records()) {
            const zone = r.inputs.name.endsWith("example.org") ? "fedcba9876543210fedcba9876543210" : "0123456789abcdef0123456789abcdef";
            expect(r.inputs.zoneId, r.name).toBe(zone);
        }
    });

    it("points MX at the mail host with its priority, and gives the host its address", () => {
        expect(byName("example.com-mx").inputs).toMatchObject({ content: "mail.example.com", priority: 10 });
        expect(byName("example.org-mx").inputs).toMatchObject({ content: "mail.example.com", priority: 10 });
        expect(byName("example.com-mx-a").inputs).toMatchObject({ name: "mail.example.com", content: "192.0.2.25" });
    });

    it("publishes the mail host's own SPF record at its name, for the HELO check of bounces (RFC 7208 2.3)", () => {
        expect(byName("example.com-mx-spf").inputs).toMatchObject({ name: "mail.example.com", type: "TXT", zoneId: "0123456789abcdef0123456789abcdef" });
        expect(unquote(byName("example.com-mx-spf").inputs.content).value).toBe("v=spf1 a -all");
        expect(records().filter((r) => r.inputs.name === "mail.example.com" && r.inputs.type === "TXT")).toHaveLength(1);
    });

    it("publishes SPF and DMARC at the right names with the exact values", () => {
        for (const d of ["example.com", "example.org"]) {
            expect(unquote(byName(`${d}-spf`).inputs.content).value).toBe(SPF);
            expect(byName(`${d}-spf`).inputs.name).toBe(d);
            expect(unquote(byName(`${d}-dmarc`).inputs.content).value).toBe(DMARC);
        }
    });

    it("authorizes example.org's DMARC reports to its address at example.com, in example.com's zone, and no domain's reports to itself", () => {
        expect(byName("example.com-dmarc-report-example.org").inputs).toMatchObject({
            name: "example.org._report._dmarc.example.com",
            type: "TXT",
            zoneId: "0123456789abcdef0123456789abcdef",
        });
        expect(unquote(byName("example.com-dmarc-report-example.org").inputs.content).value).toBe("v=DMARC1");
        expect(records().filter((r) => String(r.inputs.name).includes("._report._dmarc."))).toHaveLength(1);
    });

    it("writes DKIM TXT as quoted chunks of at most 255 bytes that rejoin to the exact value", () => {
        for (const d of ["example.com", "example.org"]) {
            const { chunks, value } = unquote(byName(`${d}-dkim-20261127`).inputs.content);
            expect(chunks.length).toBeGreaterThan(1);
            for (const c of chunks) expect(Buffer.byteLength(c)).toBeLessThanOrEqual(255);
            expect(value).toMatch(/^v=DKIM1; k=rsa; p=[A-Za-z0-9+/]+=*$/);
        }
    });

    it("publishes a 2048-bit RSA public key that matches the generated private key", () => {
        for (const d of ["example.com", "example.org"]) {
            const { value } = unquote(byName(`${d}-dkim-20261127`).inputs.content);
            const der = Buffer.from(value.replace(/^.*p=/, ""), "base64");
            const pub = crypto.createPublicKey({ key: der, format: "der", type: "spki" });
            expect(pub.asymmetricKeyType).toBe("rsa");
            expect(pub.asymmetricKeyDetails?.modulusLength).toBe(2048);
            const priv = crypto.createPrivateKey(run.keys.get(`${d}-20261127-rsa`)!.privateKeyPem);
            const sig = crypto.sign("sha256", Buffer.from("mail"), priv);
            expect(crypto.verify("sha256", Buffer.from("mail"), pub, sig)).toBe(true);
        }
    });

    it("exports every record with its unquoted value, and the selectors", () => {
        const out = run.outputs.records as { name: string; type: string; value: string }[];
        expect(out).toHaveLength(11);
        expect(out).toContainEqual({ name: "example.org._report._dmarc.example.com", type: "TXT", value: "v=DMARC1" });
        expect(out).toContainEqual({ name: "mail.example.com", type: "TXT", value: "v=spf1 a -all" });
        expect(out).toContainEqual({ name: "example.com", type: "TXT", value: SPF });
        expect(out).toContainEqual({ name: "_dmarc.example.org", type: "TXT", value: DMARC });
        expect(run.outputs.selectors).toEqual({
            "example.com": { active: "20261127", previous: [] },
            "example.org": { active: "20261127", previous: [] },
        });
    });
});

describe("DKIM record names (components/records/dkim.ts)", () => {
    it("a selector's name, and the selector read back from a name: one label before _domainkey, nothing deeper", () => {
        expect(dkimRecordName("20261127", "example.com")).toBe("20261127._domainkey.example.com");
        expect(dkimSelectorOf(dkimRecordName("20261127", "example.com"), "example.com")).toBe("20261127");
        expect(dkimSelectorOf("a.b._domainkey.example.com", "example.com")).toBeUndefined();
        expect(dkimSelectorOf("s1._domainkey.example.org", "example.com")).toBeUndefined();
        expect(dkimSelectorOf("example.com", "example.com")).toBeUndefined();
    });
});
