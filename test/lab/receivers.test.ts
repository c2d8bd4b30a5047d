/**
 * What receivers conclude, on the lab: the stack's check after `pulumi up` (components/check),
 * against the lab's DNS only, passes for a correct stack and names each failure a hand or a
 * provider can cause (issue 18); the records of issue 19 read by independent verifiers.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { DOMAINS, useLab } from "./fixture";
import { DNS_ADDR, FORBIDDEN_ADDR, HOST_ADDR, inLab, ptrName } from "./lab";
import type { CheckItem } from "../../components/check";
import { main as npmRunCheck } from "../../components/check/cli";

const lab = useLab({ fresh: true });

const CHECK = { "mailauth:check": { enabled: true, resolvers: [DNS_ADDR] } };

/** The check output of one `up`, by domain. */
async function upCheck(patch: Record<string, unknown> = {}): Promise<Record<string, CheckItem[]>> {
    const report = await lab.runner.up(lab.config({ ...CHECK, ...patch }));
    return report.outputs.check as Record<string, CheckItem[]>;
}
const notPassing = (items: CheckItem[]) => items.filter((i) => i.status !== "pass").map((i) => `${i.check}: ${i.status}: ${i.reason}`);
const item = (items: CheckItem[], check: RegExp) => items.find((i) => check.test(i.check));

/**
 * `npm run check`, as an operator runs it between two `up`s, from saved files: the stack's config as
 * `pulumi config --json` prints it and its outputs (components/check/cli.ts). Its exit status and table.
 */
let saved: { config: string; outputs: string } | undefined;
async function operatorCheck(): Promise<{ code: number; table: string }> {
    const lines: string[] = [];
    const code = await npmRunCheck(["--config", saved!.config, "--outputs", saved!.outputs], {
        out: (l) => lines.push(l),
        err: (l) => lines.push(l),
        pulumi: () => "{}",
    });
    return { code, table: lines.join("\n") };
}

describe("the check after pulumi up, against the lab DNS", () => {
    it("a correct stack passes every item, for both domains (SPF for MAIL FROM and HELO, DKIM, DMARC, MX, FCrDNS)", async () => {
        const config = lab.config(CHECK);
        const report = await lab.runner.up(config);
        const check = report.outputs.check as Record<string, CheckItem[]>;
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mailauth-lab-check-"));
        saved = { config: path.join(dir, "config.json"), outputs: path.join(dir, "outputs.json") };
        const json: Record<string, { value?: string; secret: boolean }> = {};
        for (const [k, v] of Object.entries(config)) json[k] = { value: typeof v === "string" ? v : JSON.stringify(v), secret: false };
        json["mailauth:sshPrivateKey"] = { secret: true };
        fs.writeFileSync(saved.config, JSON.stringify(json));
        fs.writeFileSync(saved.outputs, JSON.stringify(report.outputs));
        const operator = await operatorCheck();
        expect(operator.code, operator.table).toBe(0);
        expect(Object.keys(check).sort()).toEqual([...DOMAINS].sort());
        for (const domain of DOMAINS) {
            expect(notPassing(check[domain]), domain).toEqual([]);
            for (const what of [/^spf mail-from /, /^spf helo /, /^dkim /, /^dmarc$/, /^mx$/, /^fcrdns /])
                expect(item(check[domain], what), `${domain} ${what}`).toBeDefined();
        }
    });

    it("a second SPF record added by hand: fail, naming the name", async () => {
        lab.dns.set("example.com", "TXT", 60, '"v=spf1 a -all"');
        try {
            const { code, table } = await operatorCheck();
            expect(code).toBe(1);
            expect(table).toMatch(/example\.com +spf record example\.com +FAIL/);
        } finally {
            lab.dns.unset("example.com", "TXT", '"v=spf1 a -all"');
        }
    });

    it("a wrong PTR (the provider's): fcrdns fails, naming both names", async () => {
        lab.dns.unset(ptrName(HOST_ADDR), "PTR", "mail.example.com.");
        lab.dns.set(ptrName(HOST_ADDR), "PTR", 60, "host-10-231-0-2.provider.example.net.");
        try {
            const { code, table } = await operatorCheck();
            expect(code).toBe(1);
            expect(table).toMatch(/fcrdns 10\.231\.0\.2 +FAIL/);
            expect(table).toContain("host-10-231-0-2.provider.example.net");
        } finally {
            lab.dns.unset(ptrName(HOST_ADDR), "PTR", "host-10-231-0-2.provider.example.net.");
            lab.dns.set(ptrName(HOST_ADDR), "PTR", 60, "mail.example.com.");
        }
    });

    it("a DKIM record edited by hand: fail for that selector", async () => {
        const name = "s1._domainkey.example.org";
        const before = inLab(["kdig", "+short", `@${DNS_ADDR}`, name, "TXT"]).trim();
        expect(before).toMatch(/p=MII/);
        lab.dns.unset(name, "TXT", before);
        lab.dns.set(name, "TXT", 60, '"v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAedited"');
        try {
            const { code, table } = await operatorCheck();
            expect(code).toBe(1);
            expect(table).toMatch(/example\.org +dkim s1 +FAIL/);
        } finally {
            lab.dns.unset(name, "TXT", '"v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAedited"');
            lab.dns.set(name, "TXT", 60, before);
        }
    });

    it("more than 10 DNS lookups through includes: fail, with the count", async () => {
        // The stack counts its own terms (at most 10, components/records/spf.ts); what an include brings
        // in it cannot see: one include of a record that itself includes ten names (each a lookup, none void).
        for (let i = 0; i < 10; i++) lab.dns.set(`i${i}.example.net`, "TXT", 60, `"v=spf1 ip4:192.0.2.${i} -all"`);
        lab.dns.set("big.example.net", "TXT", 60, `"v=spf1 ${Array.from({ length: 10 }, (_, i) => `include:i${i}.example.net`).join(" ")} -all"`);
        const mechanisms = ["include:big.example.net"];
        const check = await upCheck({ "mailauth:spf": { mechanisms } });
        const spf = item(check["example.com"], /^spf record example\.com$/)!;
        expect(spf.status).toBe("fail");
        expect(spf.reason).toMatch(/1[0-9] of 10 DNS lookups|lookup/i);
        // Back to the stack's own record for what follows.
        await upCheck();
    });

    it("a report address in a domain the stack does not manage, without its authorization record: warn, with the record to publish", async () => {
        const check = await upCheck({ "mailauth:dmarc": { policy: "none", rua: ["dmarc@example.net"] } });
        const auth = item(check["example.com"], /^dmarc report example\.net$/)!;
        expect(auth.status, auth.reason).toBe("warn");
        expect(auth.fix).toContain("example.com._report._dmarc.example.net");
        expect(auth.fix).toContain("v=DMARC1");
        await upCheck();
    });
});

describe("names that send no mail, as a receiver's SPF checker sees them", () => {
    it("pyspf: mail in the name of a listed name fails from the server's own address too; the null MX is served", async () => {
        await lab.runner.up(lab.config({ "mailauth:noMail": [{ name: "parked.example.com", nullMx: true }] }));
        const spf = (ip: string) =>
            inLab([
                "/usr/bin/python3",
                "-c",
                "import spf, sys; print(spf.check2(i=sys.argv[1], s=sys.argv[2], h=sys.argv[3])[0])",
                ip,
                "x@parked.example.com",
                "mail.example.com",
            ]).trim();
        expect(spf(HOST_ADDR)).toBe("fail");
        expect(spf(FORBIDDEN_ADDR)).toBe("fail");
        expect(inLab(["kdig", "+short", `@${DNS_ADDR}`, "parked.example.com", "MX"]).trim()).toBe("0 .");
        expect(inLab(["kdig", "+short", `@${DNS_ADDR}`, "_dmarc.parked.example.com", "TXT"]).trim()).toBe('"v=DMARC1; p=reject"');
        await lab.runner.up(lab.config());
    });
});

describe("your own key (mailauth:dkimKeys), as a verifier sees it", () => {
    it("the key you give signs; the published p= is its public key; dkimverify accepts the mail", async () => {
        const key = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
        const pem = key.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
        lab.runner.secretKeys = ["mailauth:dkimKeys"];
        const domains = [
            { name: "example.com", zoneId: "0".repeat(32), selector: "s1" },
            { name: "example.org", zoneId: "1".repeat(32), selector: "s2", previousSelectors: ["s1"] },
        ];
        await lab.runner.up(lab.config({ "mailauth:domains": domains, "mailauth:dkimKeys": { "example.org/s2": pem.trimEnd() } }));
        const published = inLab(["kdig", "+short", `@${DNS_ADDR}`, "s2._domainkey.example.org", "TXT"])
            .trim()
            .replace(/" "|"/g, "");
        expect(published).toBe(`v=DKIM1; k=rsa; p=${key.publicKey.export({ type: "spki", format: "der" }).toString("base64")}`);
        const message = await lab.sendLocal("alice@example.org", "own-key");
        expect(message).toMatch(/^DKIM-Signature:.* s=s2;/ms);
        expect(lab.dkimverify(message)).toBe("signature ok");
        // The key went to the host on stdin only: not in any command line the runner sent.
        expect(JSON.stringify(Object.values(lab.runner.resources).map((r) => r.inputs.create ?? ""))).not.toContain(pem.split("\n")[1]);
    });
});

describe("DMARC with RFC 9989's tags, as a receiver that knows RFC 7489 reads it", () => {
    /** authheaders' verdict on a message from alice@example.com (test/demo/verify.py). */
    async function verdict(subject: string) {
        const message = await lab.sendLocal("alice@example.com", subject);
        const out = inLab(["/usr/bin/python3", path.join(__dirname, "..", "demo", "verify.py"), HOST_ADDR, "alice@example.com", "mail.example.com"], {
            input: message,
        });
        return JSON.parse(out).dmarc;
    }
    const dmarc = {
        policy: "quarantine",
        testing: true,
        nonexistentPolicy: "reject",
        dkimAlignment: "strict",
        spfAlignment: "strict",
        rua: ["dmarc-reports@example.com"],
    };

    it("authheaders (python3-authheaders 0.15.2) parses the record with t, np and strict alignment: pass, p=quarantine, adkim=s and aspf=s honoured", async () => {
        await lab.runner.up(lab.config({ "mailauth:dmarc": dmarc }));
        expect(inLab(["kdig", "+short", `@${DNS_ADDR}`, "_dmarc.example.com", "TXT"]).trim()).toBe(
            '"v=DMARC1; p=quarantine; np=reject; t=y; adkim=s; aspf=s; rua=mailto:dmarc-reports@example.com"',
        );
        expect(await verdict("dmarc-9989")).toMatchObject({ result: "pass", policy: "quarantine", adkim: "s", aspf: "s", dkimAligned: true, spfAligned: true });
    });

    it("with sp= stricter than p=, authheaders applies sp= to the domain itself (its own quirk, docs/dmarc.md)", async () => {
        // authheaders 0.15.2 __init__.py:96-98 takes the From domain as its own organizational domain
        // when it has a record, and :207-224 then applies sp (or np) because that domain is set.
        await lab.runner.up(lab.config({ "mailauth:dmarc": { ...dmarc, subdomainPolicy: "reject" } }));
        expect(await verdict("dmarc-9989-sp")).toMatchObject({ result: "pass", policy: "reject" });
        await lab.runner.up(lab.config());
    });
});

describe("policyd-spf's own options (mailauth:policydSpf), as the agent applies them", () => {
    it("a relay listed in skipAddresses is not SPF-checked (its hard-failing mail is accepted); dropped, it is rejected again", async () => {
        await lab.runner.up(lab.config({ "mailauth:policydSpf": { skipAddresses: [`${FORBIDDEN_ADDR}/32`] } }));
        expect(lab.host!.ssh("grep -E '^skip_addresses' /etc/postfix-policyd-spf-python/policyd-spf.conf").trim()).toContain(`${FORBIDDEN_ADDR}/32`);
        expect(lab.swaks("bob@hard.example.net", FORBIDDEN_ADDR, "spf-skipped")).toMatch(/250 2\.0\.0 Ok: queued/);
        await lab.runner.up(lab.config());
        expect(lab.swaks("bob@hard.example.net", FORBIDDEN_ADDR, "spf-checked-again")).toMatch(/^<\*\* 550 5\.7\.23 .*SPF fail/m);
    });
});
