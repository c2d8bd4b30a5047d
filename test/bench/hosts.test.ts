/**
 * Several hosts (issue 21): a fresh converge of one stack over 1, 2 and 5 lab hosts
 * (`mailauth:hosts`, every host an MX and a relay), side by side with the one host of
 * mailauth:ssh + mx, interleaved round by round on fresh hosts; the SSH clients each host got
 * (pulumi-command dials one per command and holds it until the run ends: test/lab/runner.ts).
 * Boot time is not counted: each `up` from its start to its end. Writes the hosts section of
 * BENCHMARKS.md, leaving the rest as it is. Needs mailauth:hosts (branches s6-hosts, s6-roles).
 */
import * as os from "os";
import { expect, it } from "vitest";
import { DOMAINS, useLab } from "../lab/fixture";
import { LabHost } from "../lab/lab";
import { writeSection } from "./section";

const lab = useLab();
const SIZES = (process.env.MAILAUTH_BENCH_HOSTS ?? "1,2,5").split(",").map(Number);
const ROUNDS = Number(process.env.MAILAUTH_BENCH_ROUNDS ?? 3);

interface Sample {
    seconds: number;
    /** SSH clients dialed, per host (by address). */
    sessions: number[];
    /** The most clients held open at once, per host. */
    peakOpen: number[];
    commands: number;
}

function hostsConfig(hosts: LabHost[]): Record<string, unknown> {
    const config = lab.config();
    delete config["mailauth:ssh"];
    delete config["mailauth:mx"];
    config["mailauth:hosts"] = hosts.map((h, i) => ({ hostname: h.hostname, ipv4: h.addr, mx: 10 * (i + 1), sshHostKey: h.hostKey }));
    return config;
}

async function converge(n: number | "legacy"): Promise<Sample> {
    const hosts = await lab.freshHosts(Array.from({ length: n === "legacy" ? 1 : n }, () => ({})));
    const config = n === "legacy" ? lab.config() : hostsConfig(hosts);
    const t0 = process.hrtime.bigint();
    const report = await lab.runner.up(config);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    // A measurement of a converge that worked: every signing host's key test passed.
    const keyOk = Object.fromEntries(DOMAINS.map((d) => [d, "key OK"]));
    expect(report.outputs.testKey).toEqual(n === "legacy" ? keyOk : Object.fromEntries(hosts.map((h) => [h.hostname, keyOk])));
    return {
        seconds,
        sessions: hosts.map((h) => lab.runner.sessionsByHost[h.addr] ?? 0),
        peakOpen: hosts.map((h) => lab.runner.peakOpenByHost[h.addr] ?? 0),
        commands: report.commandsRun.length,
    };
}

const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    const m = Math.floor(s.length / 2);
    return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const range = (xs: number[]) => `${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`;

it("fresh converge of 1, 2 and 5 hosts, side by side with the one host of ssh + mx", async () => {
    const samples = new Map<string, Sample[]>();
    const loadBefore = os.loadavg()[0];
    const cases: (number | "legacy")[] = ["legacy", ...SIZES];
    for (let round = 0; round < ROUNDS; round++) {
        for (const n of cases) {
            const key = String(n);
            samples.set(key, [...(samples.get(key) ?? []), await converge(n)]);
        }
    }
    const one = median(samples.get("1")!.map((s) => s.seconds));
    const lines = [
        SECTION_START,
        "## Several hosts",
        "",
        `Measured by \`npx vitest run --project bench test/bench/hosts.test.ts\` on ${new Date().toISOString().slice(0, 10)}, Debian ${process.env.MAILAUTH_LAB_RELEASE === "bookworm" ? "12" : "13"} lab hosts ` +
            "(systemd-nspawn, each in its own network namespace, all on this 2-core machine): a fresh converge of one stack " +
            "over N hosts (`mailauth:hosts`, each an MX and a relay, two domains), from the start of `up` to its end (the " +
            "runner: real keys, records into the lab DNS, every step over SSH, at most 4 x cores at once). " +
            `Median (min–max) of ${ROUNDS} rounds, the cases interleaved in each round, each on fresh hosts. ` +
            `The machine's 1-minute load average: ${loadBefore.toFixed(1)} before, ${os.loadavg()[0].toFixed(1)} after (other work shares its 2 cores).`,
        "",
        "| hosts | fresh (s) | vs 1 host | per host vs 1 host | commands | SSH sessions per host | most held at once per host |",
        "|---|---|---|---|---|---|---|",
        ...cases.map((n) => {
            const s = samples.get(String(n))!;
            const secs = s.map((x) => x.seconds);
            const hostsN = n === "legacy" ? 1 : n;
            const label = n === "legacy" ? "1 (mailauth:ssh + mx)" : `${n}`;
            return (
                `| ${label} | ${range(secs)} | ${(median(secs) / one).toFixed(2)}x | ${(median(secs) / one / hostsN).toFixed(2)}x | ${s[0].commands} | ` +
                `${s[0].sessions.join(", ")} | ${s[0].peakOpen.join(", ")} |`
            );
        }),
        "",
        SECTION_END,
    ];
    writeSection(lines);
});

const SECTION_START = "<!-- hosts: written by test/bench/hosts.test.ts -->";
const SECTION_END = "<!-- /hosts -->";
