/**
 * The `check` stack output (index.ts, components/check/output.ts): at `pulumi up` only, after the
 * records and host steps, against the resolvers `mailauth:check.resolvers` names (here a local DNS
 * server, test/dns-server.ts, holding what the program published); a fail logs one warning per
 * domain and stops nothing.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import * as pulumi from "@pulumi/pulumi";
import { exampleConfig, programError, runProgram } from "../harness";
import { ptrName } from "../../components/check";
import type { CheckResult } from "../../components/check";
import type { PublishedRecord } from "../../components/mailDns";
import { unquoteTxt } from "../../components/records/txt";
import { DnsServer, startDnsServer, zoneOf as zoneOfRecords } from "../dns-server";
import { checkInput } from "../../components/check/output";
import { validateSettings } from "../../components/settings";
import { exampleRawSettings } from "../settings-problems";

/** What the program published, and the PTR of the example's host (192.0.2.25). */
const zoneOf = (records: PublishedRecord[]) => zoneOfRecords(records, { [ptrName("192.0.2.25")]: { PTR: ["mail.example.com"] } });

let server: DnsServer;
let published: PublishedRecord[];
beforeAll(async () => {
    server = await startDnsServer();
    // The harness leaves the check off by default: what the program publishes, first.
    const run = await runProgram(exampleConfig());
    expect(run.outputs.check).toBeUndefined();
    published = run.outputs.records as PublishedRecord[];
});
afterAll(() => server.close());

const withCheck = () => ({ ...exampleConfig(), "mailauth:check": { resolvers: [server.address] } });

describe("the check stack output", () => {
    it("at pulumi up: every item of both domains passes against what was published", async () => {
        server.zone = zoneOf(published);
        const run = await runProgram(withCheck());
        const check = run.outputs.check as CheckResult;
        expect(Object.keys(check)).toEqual(["example.com", "example.org"]);
        const notPassing = Object.values(check)
            .flat()
            .filter((i) => i.status !== "pass");
        expect(notPassing).toEqual([]);
        // The selector each domain signs with (the SigningTable's), published with the key the host has.
        for (const d of ["example.com", "example.org"])
            expect(check[d].filter((i) => i.check.startsWith("dkim signing")).map((i) => i.check)).toEqual(["dkim signing 20261127"]);
        // The report authorization the stack publishes for example.org's reports to example.com is found.
        expect(check["example.org"].find((i) => i.check === "dmarc report example.com")?.status).toBe("pass");
        for (const items of Object.values(check)) for (const i of items) expect(Object.keys(i)).toEqual(["check", "status", "reason", "fix"]);
    });

    it("runs once every record and host step exists: records published late, one by one as the mocks create them, are all seen", async () => {
        server.zone = zoneOf([]);
        const queries = () => server.queries.udp + server.queries.tcp;
        const before = queries();
        let duringHostSteps = -1;
        const run = await runProgram(withCheck(), {
            async created(args, state) {
                if (args.type === "command:remote:Command" && args.name === "mailhost-testkey") {
                    // The last host step, slow: no query before it is done.
                    await new Promise((r) => setTimeout(r, 300));
                    duringHostSteps = queries() - before;
                }
                if (args.type !== "cloudflare:index/dnsRecord:DnsRecord") return;
                // The records the host steps do not wait for (all but DKIM) come last, as a slow API would make them.
                if (!/-dkim-/.test(args.name)) await new Promise((r) => setTimeout(r, 150));
                const value = state.type === "TXT" ? unquoteTxt(state.content) : state.content;
                const entry = (server.zone[state.name] ??= {});
                if (state.type === "MX") (entry.MX ??= []).push({ priority: state.priority, exchange: value });
                else (entry[state.type as "A" | "TXT"] ??= []).push(value);
            },
        });
        const notPassing = Object.values(run.outputs.check as CheckResult)
            .flat()
            .filter((i) => i.status !== "pass")
            .map((i) => i.check);
        expect(notPassing).toEqual([]);
        expect(duringHostSteps).toBe(0);
    });

    it("a fail stops nothing: one warning per failing domain, the output names the item", async () => {
        const zone = zoneOf(published);
        zone[ptrName("192.0.2.25")] = { PTR: ["host.provider.example"] };
        zone["example.org"].TXT!.push("v=spf1 -all");
        server.zone = zone;
        const warn = vi.spyOn(pulumi.log, "warn").mockImplementation(() => Promise.resolve());
        try {
            const run = await runProgram(withCheck());
            const check = run.outputs.check as CheckResult;
            expect(check["example.com"].filter((i) => i.status === "fail").map((i) => i.check)).toEqual(["fcrdns 192.0.2.25"]);
            expect(check["example.org"].filter((i) => i.status === "fail").map((i) => i.check)).toEqual([
                "spf record example.org",
                "spf mail-from 192.0.2.25",
                "fcrdns 192.0.2.25",
            ]);
            const lines = warn.mock.calls.map((c) => String(c[0])).filter((m) => m.startsWith("mailauth check:"));
            expect(lines.length).toBe(2);
            expect(lines[0]).toMatch(
                /^mailauth check: example\.com: .*fcrdns 192\.0\.2\.25 \(PTR of 192\.0\.2\.25 is host\.provider\.example, not mail\.example\.com/,
            );
            expect(lines[1]).toMatch(/^mailauth check: example\.org: .*spf record example\.org \(2 SPF records/);
        } finally {
            warn.mockRestore();
        }
    });

    it("not at preview: no output and no query", async () => {
        const before = server.queries.udp + server.queries.tcp;
        const run = await runProgram(withCheck(), { preview: true });
        expect(run.outputs.check).toBeUndefined();
        expect(server.queries.udp + server.queries.tcp).toBe(before);
    });

    it("check.enabled false: no output and no query", async () => {
        const before = server.queries.udp + server.queries.tcp;
        const run = await runProgram({ ...exampleConfig(), "mailauth:check": { enabled: false, resolvers: [server.address] } });
        expect(run.outputs.check).toBeUndefined();
        expect(server.queries.udp + server.queries.tcp).toBe(before);
    });

    it("check.starttls: off by default, on with true (the check's input asks for it); anything but a boolean refused, naming the setting", async () => {
        const settings = (starttls?: unknown) => validateSettings(exampleRawSettings(starttls === undefined ? {} : { check: { starttls } }));
        expect(settings().check.starttls).toBe(false);
        expect(checkInput(settings(), {}).starttls).toBeUndefined();
        expect(checkInput(settings(true), {}).starttls).toEqual({});
        const message = await programError({ ...exampleConfig(), "mailauth:check": { starttls: "yes" } });
        expect(message).toContain("mailauth:check.starttls");
        expect(message).toMatch(/^mailauth: 1 configuration problem/);
    });

    it("check.resolvers: anything but an IP address with an optional port is refused, naming the setting", async () => {
        const message = await programError({
            ...exampleConfig(),
            "mailauth:check": { resolvers: ["dns.example", "127.0.0.1:99999", "[2001:db8::53]:53", "192.0.2.53:5353", "0.0.0.0"] },
        });
        expect(message).toContain(
            'mailauth:check.resolvers: "dns.example" is not an IP address with an optional port (192.0.2.53, 192.0.2.53:5353, 2001:db8::53 or [2001:db8::53]:5353)',
        );
        expect(message).toContain('mailauth:check.resolvers: "127.0.0.1:99999" has port 99999, not 1 to 65535');
        expect(message).toMatch(/mailauth:check\.resolvers: "0\.0\.0\.0" is .*, where no resolver answers/);
        // [2001:db8::53]:53 and 192.0.2.53:5353 are fine: three problems, not five.
        expect(message).toMatch(/^mailauth: 3 configuration problem/);
    });
});
