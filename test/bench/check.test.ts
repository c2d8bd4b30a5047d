/**
 * `npm run bench`, the check (components/check): how long the check of the published DNS takes for
 * 2 and 1,000 domains (BENCH_CHECK="2,1000"), against test/dns-server.ts (a real UDP/TCP DNS
 * server on 127.0.0.1, in a process of its own: test/bench/dns-process.js) holding every answer 20 ms and 50 ms (a public resolver's round trip from a
 * server, a cached answer and one it must fetch). The zone is test/check-zone.ts's: the records the
 * stack publishes per domain, one MX host. Counted by the server: queries received, distinct
 * questions, the most in flight at once and the most in any second. Needs no lab and no root.
 *
 * Asserted: every item passes; at most MAX_IN_FLIGHT queries at once and MAX_QUERIES_PER_SECOND a
 * second; 2 domains in under 2 s (the bound on what the check adds to an `up`).
 * Writes the check section of BENCHMARKS.md.
 */
import { ChildProcess, fork } from "child_process";
import * as path from "path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { writeSection } from "./section";
import { checkPublished, MAX_IN_FLIGHT, MAX_QUERIES_PER_SECOND, worst } from "../../components/check";
import { manyDomains } from "../check-zone";

const SIZES = (process.env.BENCH_CHECK ?? "2,1000").split(",").map(Number);
const LATENCIES = [20, 50];

interface Row {
    domains: number;
    latencyMs: number;
    seconds: number;
    queries: number;
    questions: number;
    peakInFlight: number;
    peakPerSecond: number;
    failing: number;
}
const rows: Row[] = [];

let server: ChildProcess;
let address = "";
/** The next message from the server's process. */
const reply = () => new Promise<any>((res) => server.once("message", res));
beforeAll(async () => {
    server = fork(path.join(__dirname, "dns-process.js"), { stdio: "inherit" });
    address = `127.0.0.1:${(await reply()).port}`;
});
afterAll(async () => {
    server.send("close");
    await new Promise((res) => server.once("exit", res));
    writeReport();
});

for (const n of SIZES)
    for (const latencyMs of LATENCIES)
        it(`the check of ${n} domains, ${latencyMs} ms per query`, async () => {
            const { zone, input } = manyDomains(n);
            const ready = reply();
            server.send({ zone, latencyMs });
            await ready;
            const t0 = performance.now();
            const result = await checkPublished({ ...input, resolvers: [address] });
            const seconds = (performance.now() - t0) / 1000;
            const counted = reply();
            server.send("counts");
            const c = await counted;
            const row: Row = {
                domains: n,
                latencyMs,
                seconds,
                queries: c.queries,
                questions: c.questions,
                peakInFlight: c.peakInFlight,
                peakPerSecond: c.peakPerSecond,
                failing: Object.values(result).filter((items) => worst(items) !== "pass").length,
            };
            rows.push(row);
            expect(row.failing).toBe(0);
            expect(row.peakInFlight).toBeLessThanOrEqual(MAX_IN_FLIGHT);
            expect(row.peakPerSecond).toBeLessThanOrEqual(MAX_QUERIES_PER_SECOND);
            if (n <= 2) expect(seconds).toBeLessThan(2);
        });

const SECTION_START = "<!-- check: written by test/bench/check.test.ts -->";
const SECTION_END = "<!-- /check -->";

/** The check section of BENCHMARKS.md (test/bench/section.ts writes it in place). */
function writeReport(): void {
    const lines = [
        SECTION_START,
        "## The check (what receivers see)",
        "",
        `Measured by \`npm run bench\` (test/bench/check.test.ts) on ${new Date().toISOString().slice(0, 10)}: components/check's \`checkPublished\` ` +
            "against test/dns-server.ts (UDP and TCP on 127.0.0.1) holding every answer 20 ms or 50 ms, a public resolver's round trip. " +
            "Domains `d0001.example`, ...: each with the stack's SPF record, an MX to one shared MX host (an IPv4 and an IPv6 address, " +
            "both with PTRs), one DKIM selector (2048-bit p=), DMARC with reports to `dmarc@example.com` and its authorization. " +
            `The check's resolver asks each question once a run (sharedResolver), at most ${MAX_IN_FLIGHT} at once and ${MAX_QUERIES_PER_SECOND} in any second ` +
            "as the resolver counts them (components/check/index.ts MAX_IN_FLIGHT, MAX_QUERIES_PER_SECOND: Google Public DNS's documented default is 1,500 per second " +
            "per address; the check schedules four fifths of that bound by its own clock, as a busy event loop sends some queries late and together). " +
            "Queries: as the server counted them (a truncated UDP answer asked again over TCP counts twice); questions: distinct (type, name).",
        "",
        "| domains | ms per query | check (s) | queries | queries per domain | distinct questions | most in flight | most in one second | domains not passing |",
        "|---|---|---|---|---|---|---|---|---|",
        ...rows.map(
            (r) =>
                `| ${r.domains} | ${r.latencyMs} | ${r.seconds.toFixed(2)} | ${r.queries} | ${(r.queries / r.domains).toFixed(1)} | ${r.questions} | ${r.peakInFlight} | ${r.peakPerSecond} | ${r.failing} |`,
        ),
        "",
        `Asserted: every item passes, at most ${MAX_IN_FLIGHT} in flight and ${MAX_QUERIES_PER_SECOND} in any second, and 2 domains in under 2 s (what the check may add to an \`up\`).`,
        SECTION_END,
    ];
    writeSection(lines);
}
