/**
 * `npm run check` (scripts/check.js, components/check/cli.ts): the stack's config as
 * `pulumi config --json` prints it and its `records` output, checked against a local DNS server
 * (test/dns-server.ts); the table, and the exit status (0 no fail, 1 a fail, 2 could not check).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { exampleConfig, runProgram } from "../harness";
import { main, Io } from "../../components/check/cli";
import { ptrName } from "../../components/check";
import type { PublishedRecord } from "../../components/mailDns";
import { DnsServer, startDnsServer, zoneOf as zoneOfRecords } from "../dns-server";

const ROOT = path.join(__dirname, "..", "..");

/** What the program published, and the PTR of the example's host (192.0.2.25). */
const zoneOf = (records: PublishedRecord[]) => zoneOfRecords(records, { [ptrName("192.0.2.25")]: { PTR: ["mail.example.com"] } });

/** The example stack's config as `pulumi config --json` prints it: each value its text; the secret SSH key without one. */
function configJson(extra: Record<string, unknown>): Record<string, { value?: string; secret: boolean }> {
    const out: Record<string, { value?: string; secret: boolean }> = {};
    for (const [k, v] of Object.entries({ ...exampleConfig(), ...extra })) out[k] = { value: typeof v === "string" ? v : JSON.stringify(v), secret: false };
    out["mailauth:sshPrivateKey"] = { secret: true };
    return out;
}

let server: DnsServer;
let records: PublishedRecord[];
let dir: string;
let files: { config: string; outputs: string };
beforeAll(async () => {
    server = await startDnsServer();
    records = (await runProgram(exampleConfig())).outputs.records as PublishedRecord[];
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mailauth-check-"));
    files = { config: path.join(dir, "config.json"), outputs: path.join(dir, "outputs.json") };
    fs.writeFileSync(files.config, JSON.stringify(configJson({ "mailauth:check": { resolvers: [server.address] } })));
    fs.writeFileSync(files.outputs, JSON.stringify({ records, testKey: { "example.com": "key OK" } }));
});
afterAll(async () => {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
});

function io(pulumi: Io["pulumi"] = () => "{}"): Io & { lines: string[]; errors: string[] } {
    const lines: string[] = [];
    const errors: string[] = [];
    return { lines, errors, out: (l) => lines.push(l), err: (l) => errors.push(l), pulumi };
}

describe("npm run check", () => {
    it("a correct stack: a table of passes, exit 0", async () => {
        server.zone = zoneOf(records);
        const o = io();
        expect(await main(["--config", files.config, "--outputs", files.outputs], o)).toBe(0);
        expect(o.errors).toEqual([]);
        expect(o.lines[0]).toMatch(/^DOMAIN +CHECK +STATUS +REASON$/);
        expect(
            o.lines.some((l) =>
                /^example\.com +spf mail-from 192\.0\.2\.25 +ok +SPF pass for postmaster@example\.com from 192\.0\.2\.25 \(1 of 10 DNS lookups, 0 of 2 void\)$/.test(
                    l,
                ),
            ),
        ).toBe(true);
        // The columns line up: every row's status starts where the header's does.
        const at = o.lines[0].indexOf("STATUS");
        expect(o.lines.slice(1, -2).every((l) => l.slice(at, at + 6) === "ok    ")).toBe(true);
        expect(o.lines.filter((l) => /^example\.(com|org) /.test(l)).every((l) => / ok {4}/.test(l))).toBe(true);
        expect(o.lines.at(-1)).toMatch(/^2 domain\(s\): 0 failing; \d+ pass, 0 warn, 0 fail$/);
    });

    it("a wrong PTR: FAIL rows with their fix, exit 1 (plain node, as npm runs it)", async () => {
        const zone = zoneOf(records);
        zone[ptrName("192.0.2.25")] = { PTR: ["host.provider.example"] };
        server.zone = zone;
        // Not spawnSync: the DNS server answers from this process.
        const run = await new Promise<{ status: number | null; stdout: string }>((res) => {
            const child = execFile(process.execPath, ["scripts/check.js", "--config", files.config, "--outputs", files.outputs], { cwd: ROOT }, (_e, stdout) =>
                res({ status: child.exitCode, stdout }),
            );
        });
        expect(run.status, run.stdout).toBe(1);
        const lines = run.stdout.split("\n");
        const fail = lines.findIndex((l) =>
            /^example\.com +fcrdns 192\.0\.2\.25 +FAIL +PTR of 192\.0\.2\.25 is host\.provider\.example, not mail\.example\.com/.test(l),
        );
        expect(fail).toBeGreaterThan(0);
        expect(lines[fail + 1]).toMatch(/^ +fix: ask whoever runs 192\.0\.2\.25 \(the hosting provider\) to set its PTR to mail\.example\.com$/);
        expect(lines.at(-2)).toMatch(/^2 domain\(s\): 2 failing; \d+ pass, 0 warn, 2 fail$/);
    });

    it("the signing selector: the domain's selector, or on a calendar the selectors output's signing (what the SigningTable named)", async () => {
        server.zone = zoneOf(records);
        let o = io();
        expect(await main(["--config", files.config, "--outputs", files.outputs], o)).toBe(0);
        expect(o.lines.some((l) => /^example\.org +dkim signing 20261127 +ok +the host signs example\.org's mail with selector 20261127 /.test(l))).toBe(true);
        const held = path.join(dir, "held.json");
        fs.writeFileSync(held, JSON.stringify({ records, selectors: { "example.com": { active: "20261127", signing: "k20261201" } } }));
        o = io();
        expect(await main(["--config", files.config, "--outputs", held], o)).toBe(1);
        expect(o.lines.filter((l) => / FAIL /.test(l))).toEqual([
            expect.stringMatching(/^example\.com +dkim signing k20261201 +FAIL +the host signs .* has no record/),
        ]);
    });

    it("without files: asks the Pulumi CLI for the stack's config and outputs", async () => {
        server.zone = zoneOf(records);
        const asked: string[][] = [];
        const o = io((args) => {
            asked.push(args);
            return fs.readFileSync(args[0] === "config" ? files.config : files.outputs, "utf8");
        });
        expect(await main(["--stack", "prod"], o)).toBe(0);
        expect(asked).toEqual([
            ["config", "--json", "--stack", "prod"],
            ["stack", "output", "--json", "--stack", "prod"],
        ]);
    });

    it("bad settings, no records output, a bad argument: exit 2, saying why", async () => {
        const bad = path.join(dir, "bad.json");
        fs.writeFileSync(bad, JSON.stringify(configJson({ "mailauth:check": { resolvers: ["dns.example"] } })));
        let o = io();
        expect(await main(["--config", bad, "--outputs", files.outputs], o)).toBe(2);
        expect(o.errors.join("\n")).toContain('mailauth:check.resolvers: "dns.example" is not an IP address');
        const empty = path.join(dir, "empty.json");
        fs.writeFileSync(empty, "{}");
        o = io();
        expect(await main(["--config", files.config, "--outputs", empty], o)).toBe(2);
        expect(o.errors).toEqual(["mailauth check: the stack has no records output (pulumi stack output --json): run pulumi up first"]);
        o = io();
        expect(await main(["--resolver"], o)).toBe(2);
        expect(o.errors[0]).toMatch(/^usage: npm run check/);
    });
});
