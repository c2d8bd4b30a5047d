import { describe, expect, it } from "vitest";
import { exampleConfig, reveal, Run, runProgram, scriptOf, stagedFile } from "../harness";
import { splitStdinStep } from "../../components/hostScripts";

function rotated(previous: string[]): Record<string, unknown> {
    const config = exampleConfig();
    const [com, org] = config["mailauth:domains"] as Record<string, unknown>[];
    config["mailauth:domains"] = [{ ...com, selector: "20270601", previousSelectors: previous }, org];
    return config;
}

// The stack's identity (mailauth-identity) is a tls key too, not a DKIM key.
const names = (run: Run, type: string) =>
    run.resources
        .filter((r) => r.type === type && r.name !== "mailauth-identity")
        .map((r) => r.name)
        .sort();
const staged = (run: Run, file: string) => stagedFile(run.resources.find((r) => r.name === "mailhost-opendkim")!.inputs.stdin, file);

describe("DKIM key rotation", () => {
    it("a new selector gets its own key and record; the previous one keeps both; signing moves to the new one", async () => {
        const before = await runProgram(exampleConfig());
        const after = await runProgram(rotated(["20261127"]));

        expect(names(after, "tls:index/privateKey:PrivateKey")).toEqual(["example.com-20261127-rsa", "example.com-20270601-rsa", "example.org-20261127-rsa"]);
        // The kept key is the same key as before: its record value does not change.
        const dkim = (run: Run, name: string) => run.resources.find((r) => r.name === name)?.inputs.content;
        expect(dkim(after, "example.com-dkim-20261127")).toBe(dkim(before, "example.com-dkim-20261127"));
        expect(dkim(after, "example.com-dkim-20270601")).toBeDefined();
        expect(dkim(after, "example.com-dkim-20270601")).not.toBe(dkim(after, "example.com-dkim-20261127"));

        // One keys step installs both selectors' keys: the new one and the kept one, the same key as before.
        expect(names(after, "command:remote:Command").filter((c) => c.startsWith("mailhost-key"))).toEqual(["mailhost-keys", "mailhost-keys-retire"]);
        const keyLines = (run: Run) => {
            const inputs = run.resources.find((r) => r.name === "mailhost-keys")!.inputs;
            return splitStdinStep(inputs.create, reveal(inputs.stdin))!
                .stdin.split("\n")
                .filter((l) => l.startsWith("#mailauth-key "));
        };
        expect(keyLines(after).map((l) => l.split(" ")[1])).toEqual([
            "/etc/opendkim/keys/example.com/20270601.private",
            "/etc/opendkim/keys/example.com/20261127.private",
            "/etc/opendkim/keys/example.org/20261127.private",
        ]);
        expect(keyLines(after)[1]).toBe(keyLines(before)[0]);
        // The retire step after OpenDKIM's: it keeps the key files still configured.
        const retire = after.resources.find((r) => r.name === "mailhost-keys-retire")!;
        expect(splitStdinStep(retire.inputs.create, retire.inputs.stdin)!.stdin).toBe(
            keyLines(after)
                .map((l) => `${l.split(" ")[1]}\n`)
                .join(""),
        );
        expect(retire.dependencies).toContain(after.resources.find((r) => r.name === "mailhost-opendkim")!.urn);
        // Less the header that names the stack (components/hostFiles.ts fileHeader).
        expect(staged(after, "SigningTable").replace(/^#.*\n/gm, "")).toBe(
            "*@example.com 20270601._domainkey.example.com\n*@example.org 20261127._domainkey.example.org\n",
        );
        expect(staged(after, "KeyTable")).toContain("20261127._domainkey.example.com example.com:20261127:");
        expect(staged(after, "KeyTable")).toContain("20270601._domainkey.example.com example.com:20270601:");

        // The host switches only after the new record exists.
        const opendkim = after.resources.find((r) => r.name === "mailhost-opendkim")!;
        const newRecord = after.resources.find((r) => r.name === "example.com-dkim-20270601")!;
        expect(opendkim.dependencies).toContain(newRecord.urn);
        // The key test follows the new selector, and runs again because that domain's key changed.
        // Its stdin: the script, then the list (components/hostScripts.ts stdinCommandLine).
        const testkey = (run: Run) => {
            const inputs = run.resources.find((r) => r.name === "mailhost-testkey")!.inputs;
            return splitStdinStep(inputs.create, inputs.stdin)!.stdin;
        };
        expect(testkey(after)).toMatch(/^example\.com 20270601 [0-9a-f]{16}\nexample\.org 20261127 [0-9a-f]{16}\n$/);
        expect(testkey(after).split("\n")[1]).toBe(testkey(before).split("\n")[1]);
        expect(testkey(after).split("\n")[0]).not.toBe(testkey(before).split("\n")[0]);
        expect(after.outputs.selectors).toMatchObject({ "example.com": { active: "20270601", previous: ["20261127"] } });
    });

    it("dropping the previous selector removes its key and record, and leaves its key file to the retire step", async () => {
        const after = await runProgram(rotated([]));
        expect(names(after, "tls:index/privateKey:PrivateKey")).not.toContain("example.com-20261127-rsa");
        expect(names(after, "cloudflare:index/dnsRecord:DnsRecord")).not.toContain("example.com-dkim-20261127");
        const retire = after.resources.find((r) => r.name === "mailhost-keys-retire")!;
        expect(splitStdinStep(retire.inputs.create, retire.inputs.stdin)!.stdin).not.toContain("/example.com/20261127.private");
        expect(staged(after, "KeyTable")).not.toContain("20261127._domainkey.example.com");
    });
});

describe("optional parts", () => {
    it("publishes no DMARC when disabled, no MX when managed elsewhere, no key test when off", async () => {
        const config = exampleConfig();
        config["mailauth:dmarc"] = { enabled: false };
        config["mailauth:mx"] = { hostname: "mail.example.com", publish: false };
        config["mailauth:testKey"] = { enabled: false };
        const run = await runProgram(config);
        const records = names(run, "cloudflare:index/dnsRecord:DnsRecord");
        expect(records.filter((n) => /dmarc|-mx/.test(n))).toEqual([]);
        expect(names(run, "command:remote:Command").filter((n) => n.includes("testkey"))).toEqual([]);
        expect(run.outputs.testKey).toEqual({});
    });

    it("uses the chosen milter transport on every OS family, and OpenDKIM's nameservers", async () => {
        const config = exampleConfig();
        config["mailauth:opendkim"] = { milterTransport: "inet", nameservers: ["192.0.2.53", "2001:db8::53"] };
        const run = await runProgram(config);
        expect(staged(run, "opendkim.conf.debian.unbound")).toContain("Socket                  inet:8891@127.0.0.1\n");
        expect(staged(run, "opendkim.conf.debian.unbound")).toContain("Nameservers             192.0.2.53,2001:db8::53\n");
        // An OpenDKIM without libunbound ignores Nameservers: no configuration for it, so the host refuses.
        expect(() => staged(run, "opendkim.conf.el.resolv")).toThrow(/no staged/);
        const postfix = scriptOf(
            run.resources.find((r) => r.name === "mailhost-postfix")!.inputs.create,
            run.resources.find((r) => r.name === "mailhost-postfix")!.inputs.stdin,
        );
        expect(postfix.match(/MILTER='[^']*'/g)).toEqual(["MILTER='inet:127.0.0.1:8891'", "MILTER='inet:127.0.0.1:8891'"]);
    });

    it("gives a 4096-bit key when asked, and splits its longer record into more chunks", async () => {
        const config = exampleConfig();
        const [com, org] = config["mailauth:domains"] as Record<string, unknown>[];
        config["mailauth:domains"] = [{ ...com, keyBits: 4096 }, org];
        const run = await runProgram(config);
        const content: string = run.resources.find((r) => r.name === "example.com-dkim-20261127")!.inputs.content;
        expect(content.split('" "').length).toBe(3);
    });
});
