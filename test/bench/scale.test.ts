/**
 * `npm run bench`, scale case: 10, 100 and 1,000 domains on one lab host (BENCH_SCALE="10,100,1000").
 * For each size, on a fresh host: the program's time as `pulumi preview` runs it (under Pulumi's
 * mocks, one shared key pair: a preview makes no keys), a fresh converge, a repeat, and the
 * rotation of one domain: seconds, SSH sessions, bytes sent (commands and stdin), commands run.
 * The budget is asserted here, not in a timed test. Writes the scale section of BENCHMARKS.md.
 *
 * Error.stackTraceLimit is 0 while the program runs: Pulumi's SDK captures a stack for every
 * promise (@pulumi/pulumi runtime/debuggable.js, debuggablePromise), and vitest's module runner
 * source-maps each one, as ts-node does under the CLI. The program sets it itself now
 * (components/stackTraces.ts); the file keeps it 0 for the runner's work between runs as well.
 */
import { execFileSync } from "child_process";
import * as path from "path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ROOT } from "../harness";
import { writeSection } from "./section";
import { Lab } from "../lab/fixture";

const SIZES = (process.env.BENCH_SCALE ?? "10,100,1000").split(",").map(Number);
const lab = new Lab();
const stackLimit = Error.stackTraceLimit;

beforeAll(async () => {
    Error.stackTraceLimit = 0;
    await lab.start();
});
afterAll(async () => {
    Error.stackTraceLimit = stackLimit;
    await lab.stop();
});

const domainName = (i: number) => (i === 0 ? "example.com" : `d${String(i).padStart(4, "0")}.example.com`);
const ROTATED = 1;

function scaleConfig(n: number, rotated = false): Record<string, unknown> {
    return lab.config({
        "mailauth:domains": Array.from({ length: n }, (_, i) =>
            rotated && i === ROTATED
                ? { name: domainName(i), zoneId: "0".repeat(32), selector: "s2", previousSelectors: ["s1"] }
                : { name: domainName(i), zoneId: "0".repeat(32), selector: "s1" },
        ),
    });
}

interface Phase {
    testKey: Record<string, string>;
    seconds: number;
    sessions: number;
    /** The most SSH clients held open at once (pulumi-command closes none before the run ends). */
    peakOpen: number;
    /** Dials the host refused and the runner retried, as the provider does. */
    dialRetries: number;
    bytes: number;
    /** knot transactions that wrote the run's records into the lab's DNS. */
    dnsTransactions: number;
    commands: string[];
    /** Seconds of each host step that ran, by name. */
    stepSeconds: Record<string, number>;
}
interface Row {
    domains: number;
    programSeconds: number;
    fresh: Phase;
    repeat: Phase;
    rotate: Phase;
    /** The parts of the budget this size broke (empty: it held). */
    overBudget: string[];
}
const rows: Row[] = [];
/** A size that did not finish, and why. */
let unfinished: { domains: number; reason: string } | undefined;

async function phase(config: Record<string, unknown>): Promise<Phase> {
    const [s0, b0, d0, r0] = [lab.runner.sshSessions, lab.runner.bytesSent, lab.dns.transactions, lab.runner.dialRetries];
    lab.runner.peakOpenSessions = 0;
    const t0 = process.hrtime.bigint();
    const report = await lab.runner.up(config);
    return {
        seconds: Number(process.hrtime.bigint() - t0) / 1e9,
        sessions: lab.runner.sshSessions - s0,
        peakOpen: lab.runner.peakOpenSessions,
        dialRetries: lab.runner.dialRetries - r0,
        bytes: lab.runner.bytesSent - b0,
        dnsTransactions: lab.dns.transactions - d0,
        commands: report.commandsRun,
        stepSeconds: Object.fromEntries(report.operations.map((o) => [o.name, o.ms / 1000])),
        testKey: report.outputs.testKey as Record<string, string>,
    };
}

/** Median and maximum of the key steps' seconds, and the other steps by name. */
function stepSummary(p: Phase): string {
    const keys = Object.entries(p.stepSeconds)
        .filter(([k]) => k.startsWith("mailhost-key-"))
        .map(([, v]) => v)
        .sort((a, b) => a - b);
    const others = Object.entries(p.stepSeconds)
        .filter(([k]) => !k.startsWith("mailhost-key-"))
        .map(([k, v]) => `${k.replace(/^mailhost-/, "")} ${v.toFixed(1)}`);
    return [keys.length ? `keys ${keys[keys.length >> 1].toFixed(1)} (max ${keys[keys.length - 1].toFixed(1)})` : "", ...others].filter(Boolean).join(", ");
}

it("scale: provision, repeat and rotate one domain", async () => {
    let current = 0;
    try {
        for (const n of SIZES) await size((current = n));
    } catch (e) {
        unfinished = {
            domains: current,
            reason: String((e as Error).message ?? e)
                .split("\n")[0]
                .slice(0, 300),
        };
        throw e;
    } finally {
        writeReport();
    }
    // The budget, asserted once every size is measured and written down.
    expect(rows.filter((r) => r.overBudget.length > 0).map((r) => `${r.domains}: ${r.overBudget.join("; ")}`)).toEqual([]);
}, 3_600_000);

async function size(n: number): Promise<void> {
    {
        const host = await lab.fresh();
        // As the CLI runs it: its own node process, ts-node as run.js registers it (test/bench/program.js).
        const programSeconds = JSON.parse(
            execFileSync(process.execPath, [path.join(ROOT, "test/bench/program.js"), String(n)], { encoding: "utf8" }),
        ).totalSeconds;

        const fresh = await phase(scaleConfig(n));
        expect(Object.values(fresh.testKey).filter((v) => v === "key OK").length).toBe(n);
        const last = domainName(n - 1);
        // One entry per domain, less the header naming the stack (components/hostFiles.ts fileHeader).
        expect(host.ssh("grep -vc '^#' /etc/opendkim/KeyTable").trim()).toBe(String(n));
        const signed = await lab.sendLocal(`alice@${last}`, `scale-${n}`);
        expect(signed).toMatch(new RegExp(`^DKIM-Signature:.* d=${last.replace(/\./g, "\\.")};`, "ms"));
        expect(lab.dkimverify(signed)).toBe("signature ok");

        const repeat = await phase(scaleConfig(n));
        host.ssh("touch /run/scale-mark; sleep 1");
        const rotate = await phase(scaleConfig(n, true));
        const touched = host.ssh("find /etc/opendkim/keys -type f -newer /run/scale-mark | sort").trim().split("\n");
        const print = (r: object) =>
            JSON.stringify(r, (k, v) => (k === "testKey" || k === "stepSeconds" ? undefined : k === "commands" && v.length > 8 ? `${v.length} commands` : v));
        console.log(print({ domains: n, programSeconds, fresh, repeat, rotate }), `fresh steps: ${stepSummary(fresh)}; rotate steps: ${stepSummary(rotate)}`);
        expect(rotate.testKey[domainName(ROTATED)]).toBe("key OK");
        // Repeat: nothing runs on the host.
        expect(repeat.commands).toEqual([]);
        expect(repeat.sessions).toBe(0);
        // Rotating one domain: the keys step (which installs that domain's new key), OpenDKIM's
        // tables, the retire step (nothing to retire), the key test (of that domain only); no other key file touched.
        const d = domainName(ROTATED);
        expect([...rotate.commands].sort()).toEqual(["mailhost-keys", "mailhost-opendkim", "mailhost-keys-retire", "mailhost-testkey"].sort());
        expect(touched).toEqual([`/etc/opendkim/keys/${d}/s2.private`]);

        // The budget. Fresh: one session per step (packages, keys, OpenDKIM, retire, Postfix, key
        // test), whatever the number of domains: pulumi-command holds every one until the run ends.
        const overBudget = [
            fresh.sessions > 6 ? `fresh SSH sessions ${fresh.sessions} > 6` : "",
            fresh.peakOpen > 6 ? `fresh SSH sessions held at once ${fresh.peakOpen} > 6` : "",
            fresh.bytes / n >= 40_000 ? `fresh bytes per domain ${(fresh.bytes / n).toFixed(0)} >= 40000` : "",
            fresh.seconds >= 60 + 1.0 * n ? `fresh ${fresh.seconds.toFixed(1)} s >= ${60 + n} s` : "",
        ].filter(Boolean);
        rows.push({ domains: n, programSeconds, fresh, repeat, rotate, overBudget });
    }
}

const SECTION_START = "<!-- scale: written by test/bench/scale.test.ts -->";
const SECTION_END = "<!-- /scale -->";

/** The scale section of BENCHMARKS.md (test/bench/section.ts writes it in place). */
function writeReport(): void {
    const kb = (b: number) => `${(b / 1024).toFixed(0)} KiB`;
    const lines = [
        SECTION_START,
        "## Scale",
        "",
        `Measured by \`npm run bench\` (test/bench/scale.test.ts) on ${new Date().toISOString().slice(0, 10)}: one lab host, domains ` +
            "`example.com`, `d0001.example.com`, ..., one selector each; key tests on. Program: the stack's program as " +
            "`pulumi preview` runs it (its own node process, ts-node registered as the CLI does: test/bench/program.js), under Pulumi's mocks, from process start. Fresh: converge on a fresh host (the runner makes real 2048-bit " +
            "keys, writes every record into the lab's DNS, runs every step over SSH, at most 4 x cores at once as the CLI's " +
            "default `--parallel`; the records the runner has ready go into the lab DNS in one transaction per zone). " +
            "Repeat: the same config again. Rotate one: one domain moves to a new selector.",
        "",
        "| domains | program (s) | fresh (s) | fresh s/domain | fresh SSH sessions (most held at once) | fresh bytes sent | fresh DNS transactions | repeat (s) | repeat sessions | rotate one (s) | rotate sessions | rotate bytes sent | rotate commands | budget |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ...rows.map(
            (r) =>
                `| ${r.domains} | ${r.programSeconds.toFixed(1)} | ${r.fresh.seconds.toFixed(1)} | ${(r.fresh.seconds / r.domains).toFixed(2)} | ` +
                `${r.fresh.sessions} (${r.fresh.peakOpen}) | ${kb(r.fresh.bytes)} | ${r.fresh.dnsTransactions} | ${r.repeat.seconds.toFixed(1)} | ${r.repeat.sessions} | ` +
                `${r.rotate.seconds.toFixed(1)} | ${r.rotate.sessions} | ${kb(r.rotate.bytes)} | ${r.rotate.commands.length} | ` +
                `${r.overBudget.length === 0 ? "held" : `over: ${r.overBudget.join("; ")}`} |`,
        ),
        ...SIZES.filter((n) => !rows.some((r) => r.domains === n)).map(
            (n) => `| ${n} | ${unfinished?.domains === n ? `not finished: ${unfinished.reason.replace(/\|/g, "/")}` : "not run"} |||||||||||||`,
        ),
        "",
        "Where the fresh converge spent its time on the host (seconds per step, each over its own SSH session):",
        "",
        "| domains | steps |",
        "|---|---|",
        ...rows.map((r) => `| ${r.domains} | ${stepSummary(r.fresh)} |`),
        "",
        "Budget (asserted by the benchmark once every size is written down): fresh at most 6 SSH sessions (one per step; the runner holds each until the run ends, as pulumi-command does), under 40 KB sent per domain and 60 s + 1 s per domain; " +
            "a repeat runs nothing; rotating one domain runs the keys step, OpenDKIM's tables, the retire step and its key test, and touches no other key file. The lab host's sshd runs with its defaults (MaxStartups 10:30:100).",
        SECTION_END,
    ];
    writeSection(lines);
}
