/**
 * Properties no single example shows: the key test reruns exactly when the published key changes,
 * every required setting is reported when missing, and every configured domain is provisioned.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { describe, expect, it } from "vitest";
import { exampleConfig, programError, reveal, ROOT, Run, runProgram, scriptOf, stagedFile } from "../harness";

const step = (run: Run, name: string) => run.resources.find((r) => r.name === `mailhost-${name}`)!;
/** A TXT record's content as Cloudflare stores it ("..." "..."), as one string. */
const txt = (content: string) => content.replace(/" "/g, "").replace(/^"|"$/g, "");

describe("the key test reruns when, and only when, a published key changes", () => {
    // The key test is one step; its stdin lists each domain with a digest of the published value
    // (components/mailHost.ts). A changed input is an update, which runs `create` again
    // (pulumi-command commandController.go ~76-80); unchanged inputs run nothing.
    const digest = (content: string) => crypto.createHash("sha256").update(txt(content)).digest("hex").slice(0, 16);
    it("carries the published DKIM value of each active selector, so a new key under the same selector reruns the test", async () => {
        const before = await runProgram(exampleConfig());
        const stdin = (run: Run) => reveal(step(run, "testkey").inputs.stdin) as string;
        for (const domain of ["example.com", "example.org"]) {
            const record = before.resources.find((r) => r.name === `${domain}-dkim-20261127`)!;
            expect(stdin(before)).toContain(`${domain} 20261127 ${digest(record.inputs.content)}\n`);
        }
        // A new key pair under the same selector (the key replaced).
        const after = await runProgram(exampleConfig(), { replaceKeys: true });
        expect(reveal(step(after, "testkey").inputs.create)).toBe(reveal(step(before, "testkey").inputs.create));
        expect(stdin(after)).not.toBe(stdin(before));
        const record = after.resources.find((r) => r.name === "example.com-dkim-20261127")!;
        expect(stdin(after)).toContain(`example.com 20261127 ${digest(record.inputs.content)}\n`);
    });

    it("does not change when something else changes, so the test does not rerun", async () => {
        const before = await runProgram(exampleConfig());
        const config = exampleConfig();
        config["mailauth:opendkim"] = { ...(config["mailauth:opendkim"] as object), trustedHosts: ["198.51.100.0/24"] };
        const after = await runProgram(config);
        expect(reveal(step(after, "testkey").inputs)).toEqual(reveal(step(before, "testkey").inputs));
    });
});

/**
 * The required settings, as Pulumi.yaml declares them: a key with no default, and inside each
 * `{a, b?, ...}` shape in its description, every field without a `?`.
 */
function requiredSettings(): { path: string[]; label: string }[] {
    const doc = yaml.load(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")) as { config: Record<string, any> };
    const out: { path: string[]; label: string }[] = [];
    for (const [key, decl] of Object.entries(doc.config)) {
        if (!key.startsWith("mailauth:") || (decl && decl.default !== undefined)) continue;
        out.push({ path: [key], label: key });
        const shape = String(decl?.description ?? "").match(/\{([^}]*)\}/);
        for (const field of shape ? shape[1].split(",").map((f) => f.trim()) : []) {
            if (/^\w+$/.test(field)) out.push({ path: [key, field], label: `${key}.${field}` });
        }
    }
    return out;
}

describe("required settings", () => {
    const required = requiredSettings();

    it("are read from Pulumi.yaml: at least the domains' name and the SSH key (mx and ssh: below, mailauth:hosts may replace them)", () => {
        expect(required.map((r) => r.label)).toEqual(expect.arrayContaining(["mailauth:domains", "mailauth:domains.name", "mailauth:sshPrivateKey"]));
    });

    it("without mailauth:hosts, mx.hostname and ssh.host, left out, stop the run naming them", async () => {
        for (const [key, field] of [
            ["mailauth:mx", "hostname"],
            ["mailauth:ssh", "host"],
        ]) {
            const config = exampleConfig();
            const section = { ...(config[key] as Record<string, unknown>) };
            delete section[field];
            config[key] = section;
            expect(await programError(config)).toMatch(new RegExp(`${key}\\.${field}: required, not set`));
        }
    });

    it("a domain's selector, required unless it rotates on a calendar: left out, the run stops naming it", async () => {
        const config = exampleConfig();
        const domains = (config["mailauth:domains"] as Record<string, unknown>[]).map((d) => ({ ...d }));
        delete domains[1].selector;
        config["mailauth:domains"] = domains;
        expect(await programError(config)).toMatch(/mailauth:domains\[1\]\.selector: required, not set/);
    });

    it("each one, left out, stops the run with an error that names it; a domain never disappears silently", async () => {
        for (const {
            path: [key, field],
            label,
        } of required) {
            const config = exampleConfig();
            let expected: RegExp;
            // A key with no value stops the CLI before the program runs (test/cli.ts models it);
            // either way the message names the key.
            const topLevel = new RegExp(`${key}: required|missing configuration values? .*'${key}'`);
            if (key === "mailauth:sshPrivateKey") {
                expect(await programError(config, { sshPrivateKey: null }), label).toMatch(topLevel);
                continue;
            }
            if (!field) {
                delete config[key];
                expected = topLevel;
            } else if (key === "mailauth:domains") {
                // The second domain: the first still provisions, the second must not vanish.
                const domains = (config[key] as Record<string, unknown>[]).map((d) => ({ ...d }));
                delete domains[1][field];
                config[key] = domains;
                expected = new RegExp(`${key.replace(/[$]/g, "")}\\[1\\]\\.${field}: required`);
            } else {
                const section = { ...(config[key] as Record<string, unknown>) };
                delete section[field];
                config[key] = section;
                expected = new RegExp(`${key}\\.${field}: required`);
            }
            expect(await programError(config), label).toMatch(expected);
        }
    });

    it("every configured domain gets its records, key, signing entry and key test", async () => {
        const config = exampleConfig();
        const domains = config["mailauth:domains"] as Record<string, unknown>[];
        config["mailauth:domains"] = [...domains, { name: "example.net", zoneId: "00112233445566778899aabbccddeeff", selector: "s1" }];
        const run = await runProgram(config);
        const opendkim = reveal(step(run, "opendkim").inputs.stdin) as string;
        for (const d of ["example.com", "example.org", "example.net"]) {
            const names = run.resources.map((r) => r.name);
            expect(names.filter((n) => n.startsWith(`${d}-`)).length, d).toBeGreaterThanOrEqual(4);
            expect(reveal(step(run, "testkey").inputs.stdin)).toMatch(new RegExp(`^${d.replace(/\./g, "\\.")} `, "m"));
            expect(stagedFile(opendkim, "SigningTable")).toContain(`*@${d} `);
            expect(stagedFile(opendkim, "KeyTable")).toContain(` ${d}:`);
            expect(run.outputs.selectors).toHaveProperty([d]);
            expect(run.outputs.testKey).toHaveProperty([d]);
        }
    });
});
