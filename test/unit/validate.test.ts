/**
 * The validators, each tested directly against what the consumer of the value accepts: keys as
 * ssh-keygen writes them, SPF domain-specs and DMARC URIs per their RFCs, addresses OpenDKIM
 * hands to a shell, values shown in messages.
 */
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { hasControlCharacters, show } from "../../components/validate/show";
import { checkHostKey, classifyPrivateKey } from "../../components/validate/sshKeys";
import { ipFamily, isSafeAddress } from "../../components/validate/mail";
import { isSpfDomainSpec } from "../../components/records/spf";
import { parseDmarcUri } from "../../components/records/dmarc";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mailauth-keys-"));
/** A key pair written by the real ssh-keygen; returns [private key text, public key line]. */
function sshKeygen(type: string, opts: string[] = []): [string, string] {
    const file = path.join(dir, `${type}-${crypto.randomUUID()}`);
    execFileSync("ssh-keygen", ["-q", "-t", type, "-f", file, "-C", "test@example", ...opts]);
    return [fs.readFileSync(file, "utf8"), fs.readFileSync(`${file}.pub`, "utf8").trim()];
}

describe("pinned host keys (as pulumi-command's ssh.ParseAuthorizedKey reads them)", () => {
    it("accepts ssh-keygen's ed25519 and ecdsa public keys, with or without a comment", () => {
        for (const [type, bits] of [
            ["ed25519", []],
            ["ecdsa", ["-b", "256"]],
            ["ecdsa", ["-b", "384"]],
            ["ecdsa", ["-b", "521"]],
        ] as const) {
            const [, pub] = sshKeygen(type, [...bits, "-N", ""]);
            expect(checkHostKey(pub), pub).toMatchObject({ ok: true });
            expect(checkHostKey(pub.split(" ").slice(0, 2).join(" ")), pub).toMatchObject({ ok: true });
        }
    });

    it("refuses an ssh-rsa pin, saying what to pin instead", () => {
        const [, pub] = sshKeygen("rsa", ["-b", "1024", "-N", ""]);
        const r = checkHostKey(pub);
        expect(r.ok).toBe(false);
        expect(!r.ok && r.problem).toMatch(/ssh-rsa host key cannot be pinned.*SHA-1.*OpenSSH 8\.8.*ssh-keyscan -p PORT -t ed25519,ecdsa/);
    });

    it("refuses truncated, mislabelled, multi-line and host-prefixed keys", () => {
        const [, ed] = sshKeygen("ed25519", ["-N", ""]);
        const [, ec] = sshKeygen("ecdsa", ["-N", ""]);
        const [type, blob] = ed.split(" ");
        for (const bad of [
            "ssh-ed25519 AAAA",
            `${type} ${blob.slice(0, 40)}`,
            `ecdsa-sha2-nistp256 ${blob}`,
            `ssh-ed25519 ${ec.split(" ")[1]}`,
            `${ed}\n${ec}`,
            `mail.example.com ${ed}`,
            "ssh-ed25519",
            "ssh-dss AAAAB3NzaC1kc3MAAACBAP",
        ]) {
            expect(checkHostKey(bad).ok, bad).toBe(false);
        }
    });
});

describe("the SSH private key (as ssh.ParsePrivateKey without a passphrase reads it)", () => {
    it("accepts unencrypted keys in OpenSSH's format and in PEM/PKCS#8", () => {
        expect(classifyPrivateKey(sshKeygen("ed25519", ["-N", ""])[0])).toBe("ok");
        expect(classifyPrivateKey(sshKeygen("rsa", ["-b", "1024", "-N", "", "-m", "PEM"])[0])).toBe("ok");
        const pkcs8 = crypto.generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
        expect(classifyPrivateKey(pkcs8)).toBe("ok");
        // `pulumi config set` strips the trailing newline of a value piped in.
        expect(classifyPrivateKey(sshKeygen("ed25519", ["-N", ""])[0].trimEnd())).toBe("ok");
    });

    it("detects a passphrase in OpenSSH's own format (ssh-keygen's default), in PEM and in PKCS#8", () => {
        expect(classifyPrivateKey(sshKeygen("ed25519", ["-N", "secret passphrase"])[0])).toBe("encrypted");
        expect(classifyPrivateKey(sshKeygen("rsa", ["-b", "1024", "-N", "secret passphrase", "-m", "PEM"])[0])).toBe("encrypted");
        const pkcs8 = crypto
            .generateKeyPairSync("ed25519")
            .privateKey.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "secret" })
            .toString();
        expect(classifyPrivateKey(pkcs8)).toBe("encrypted");
    });

    it("refuses what is not a private key, and tells missing from invalid", () => {
        expect(classifyPrivateKey(undefined)).toBe("missing");
        expect(classifyPrivateKey("  \n")).toBe("missing");
        expect(classifyPrivateKey("hunter2")).toBe("invalid");
        expect(classifyPrivateKey(sshKeygen("ed25519", ["-N", ""])[1])).toBe("invalid");
        expect(classifyPrivateKey("-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n")).toBe("invalid");
        const [key] = sshKeygen("ed25519", ["-N", ""]);
        const lines = key.trim().split("\n");
        expect(classifyPrivateKey([lines[0], lines[1].slice(0, 20), lines[lines.length - 1]].join("\n"))).toBe("invalid");
    });
});

describe("SPF domain-specs (RFC 7208 7.1)", () => {
    it("accepts names and macro domain-specs", () => {
        for (const ok of [
            "_spf.google.com",
            "spf.protection.outlook.com",
            "example.com.",
            "%{i}._spf.example.net",
            "%{ir}.%{v}._spf.%{d2}",
            "%{l1r-}.example.org",
        ]) {
            expect(isSpfDomainSpec(ok), ok).toBe(true);
        }
    });
    it("refuses shell syntax, single labels, bad macros and spaces", () => {
        for (const bad of ["$(id)", "example", "exa mple.com", "%{x}.example.com", "%{i", "a..example.com", "example.123", "-bad.example.com", ""]) {
            expect(isSpfDomainSpec(bad), bad).toBe(false);
        }
    });
});

describe("DMARC report URIs (RFC 7489 6.3, 6.4) and the report address OpenDKIM hands to a shell", () => {
    it("accepts addresses and mailto URIs, with a size limit", () => {
        expect(parseDmarcUri("dmarc@example.com")?.uri).toBe("mailto:dmarc@example.com");
        expect(parseDmarcUri("mailto:dmarc+rua@example.com!10m")?.uri).toBe("mailto:dmarc+rua@example.com!10m");
    });
    it("refuses what would change the record's meaning", () => {
        for (const bad of ["a!b@example.com", "a,b@example.com", "a;p=reject@example.com", "mailto:x@example.com!10x", "x@example", "reports"]) {
            expect(parseDmarcUri(bad), bad).toBeUndefined();
        }
    });
    it("allows only inert report addresses", () => {
        expect(isSafeAddress("postmaster@example.com")).toBe(true);
        expect(isSafeAddress("dkim-reports+x@mail.example.com")).toBe(true);
        for (const bad of [
            "a$(id)@example.com",
            "a`id`@example.com",
            "a;b@example.com",
            "a b@example.com",
            "a'b@example.com",
            ".a@example.com",
            "a..b@example.com",
            "a|b@example.com",
        ]) {
            expect(isSafeAddress(bad), bad).toBe(false);
        }
    });
});

describe("addresses for DNS and resolvers", () => {
    it("refuses IPv6 zone ids and link-local addresses", () => {
        expect(ipFamily("2001:db8::25")).toBe(6);
        expect(ipFamily("192.0.2.25")).toBe(4);
        expect(ipFamily("fe80::1%eth0")).toBe(0);
        expect(ipFamily("2001:db8::1%eth0")).toBe(0);
        expect(ipFamily("fe80::1")).toBe(0);
    });
});

describe("values shown in messages", () => {
    it("escapes control characters, shortens long values and never shows a private key", () => {
        expect(show("exa\nmple\u001b[31m")).toBe('"exa\\nmple\\u001b[31m"');
        expect(show("x".repeat(500)).length).toBeLessThan(120);
        expect(show("-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn...")).not.toContain("b3Blbn");
        expect(show({ k: "-----BEGIN PRIVATE KEY-----" })).not.toContain("BEGIN");
        expect(hasControlCharacters("a\tb")).toBe(true);
        expect(hasControlCharacters("plain")).toBe(false);
    });
});
