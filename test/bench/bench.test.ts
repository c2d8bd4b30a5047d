/**
 * `npm run bench`: the stack's cost on the lab host, each figure a ratio measured side by side
 * in this one run, on fresh copies of the same host, BENCH_REPS repetitions (default 3).
 *   1. Fresh converge: the stack (lab runner, dependency order) against the guide's steps as
 *      one plain script over one SSH session, and against a hand-written fast script.
 *   2. Repeat, 3. one change (a trusted host added): commands run, restarts, time.
 *   4. Mail path: smtp-source into the host's Postfix, relayed to smtp-sink, for bare Postfix,
 *      the stack signing, and the stack checking SPF on mail from outside. Every message must
 *      be signed (or SPF-checked): a run where one is not is a failure, not a number.
 * Writes BENCHMARKS.md and docs/bench.svg.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { expect, it } from "vitest";
import { ROOT } from "../harness";
import { useLab } from "../lab/fixture";
import { inLab, LabHost, RUNNER_ADDR, sh } from "../lab/lab";

const REPS = Number(process.env.BENCH_REPS ?? 3);
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 2000);
const SESSIONS = 10;
const SIZE = 2048;
const lab = useLab();

interface Stats {
    min: number;
    median: number;
    max: number;
}
const stats = (xs: number[]): Stats => {
    const s = [...xs].sort((a, b) => a - b);
    return { min: s[0], median: s[Math.floor(s.length / 2)], max: s[s.length - 1] };
};
const fmt = (s: Stats, digits = 2) => `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;

/** Service starts and reloads since a point in time, from the host's journal. */
function serviceEvents(host: LabHost, since: string): { starts: number; reloads: number } {
    const log = host.ssh(`journalctl -q -o cat --since @${since} -u opendkim.service -u postfix@-.service || true`);
    return {
        starts: (log.match(/^Starting (opendkim|postfix@-)\.service/gm) ?? []).length,
        reloads: (log.match(/^Reloading (opendkim|postfix@-)\.service/gm) ?? []).length,
    };
}
const now = (host: LabHost) => host.ssh("date +%s.%N").trim();
const seconds = async (fn: () => unknown) => {
    const t0 = process.hrtime.bigint();
    await fn();
    return Number(process.hrtime.bigint() - t0) / 1e9;
};

const noTestKey = () => lab.config({ "mailauth:testKey": { enabled: false } });

interface ConvergeRow {
    time: number[];
    sessions: number[];
    starts: number[];
    reloads: number[];
    commands?: string[];
}
const converge: Record<string, ConvergeRow> = {};
/** Seconds per step of the stack's fresh converge, as the runner timed them. */
const steps: Record<string, number[]> = {};
const row = (k: string) => (converge[k] ??= { time: [], sessions: [], starts: [], reloads: [] });

interface MailRow {
    rate: number[];
    signed: number[];
    spfChecked: number[];
    opendkimStarts: number[];
}
const mail: Record<string, MailRow> = {};

it("1-3: fresh converge, repeat and one change", async () => {
    for (let rep = 0; rep < REPS; rep++) {
        // The stack, then a repeat and one change on the same host.
        let host = await lab.fresh();
        let mark = now(host);
        let before = lab.runner.sshSessions;
        let report!: Awaited<ReturnType<typeof lab.runner.up>>;
        row("stack: fresh").time.push(await seconds(async () => (report = await lab.runner.up(noTestKey()))));
        for (const op of report.operations) (steps[op.name] ??= []).push(op.ms / 1000);
        let ev = serviceEvents(host, mark);
        row("stack: fresh").sessions.push(lab.runner.sshSessions - before);
        row("stack: fresh").starts.push(ev.starts);
        row("stack: fresh").reloads.push(ev.reloads);

        mark = now(host);
        before = lab.runner.sshSessions;
        row("stack: repeat").time.push(await seconds(async () => (report = await lab.runner.up(noTestKey()))));
        ev = serviceEvents(host, mark);
        Object.assign(row("stack: repeat"), { commands: report.commandsRun });
        row("stack: repeat").sessions.push(lab.runner.sshSessions - before);
        row("stack: repeat").starts.push(ev.starts);
        row("stack: repeat").reloads.push(ev.reloads);

        mark = now(host);
        before = lab.runner.sshSessions;
        const changed = lab.config({
            "mailauth:testKey": { enabled: false },
            "mailauth:opendkim": { nameservers: ["10.231.0.53"], trustedHosts: ["10.231.0.0/24"] },
        });
        row("stack: add a trusted host").time.push(await seconds(async () => (report = await lab.runner.up(changed))));
        ev = serviceEvents(host, mark);
        Object.assign(row("stack: add a trusted host"), { commands: report.commandsRun });
        row("stack: add a trusted host").sessions.push(lab.runner.sshSessions - before);
        row("stack: add a trusted host").starts.push(ev.starts);
        row("stack: add a trusted host").reloads.push(ev.reloads);

        // The two hand-written baselines, each on a fresh copy of the same host, one SSH session.
        for (const [label, file] of [
            ["guide's plain script", "guide.sh"],
            ["hand-written fast script", "best.sh"],
        ]) {
            host = await lab.fresh();
            mark = now(host);
            const script = fs.readFileSync(path.join(__dirname, file), "utf8");
            row(label).time.push(await seconds(() => host.ssh("bash -s", { input: script })));
            ev = serviceEvents(host, mark);
            row(label).sessions.push(1);
            row(label).starts.push(ev.starts);
            row(label).reloads.push(ev.reloads);
            expect(host.ssh("postconf -h smtpd_milters").trim()).not.toBe("");
        }
    }
    console.log(JSON.stringify(converge, null, 1));
    expect(converge["stack: repeat"].commands).toEqual([]);
});

/**
 * Points the host's outbound mail at smtp-sink on the host itself and starts the sink; a message
 * deferred for any reason is retried within a second, so a stall shows as a failure, not a wait.
 */
function prepareSink(host: LabHost): void {
    host.ssh(
        "install -d -m 1777 /var/tmp/sink && " +
            "systemd-run --quiet --unit=bench-sink /usr/sbin/smtp-sink -u nobody -d '/var/tmp/sink/%H%M%S.' 127.0.0.1:2525 256 && " +
            "for i in $(seq 50); do ss -ltnH 'sport = :2525' | grep -q . && break; sleep 0.1; done && " +
            "postconf -e 'relayhost=[127.0.0.1]:2525' 'relay_domains=sink.example' 'smtp_destination_concurrency_limit=20' " +
            "'queue_run_delay=1s' 'minimal_backoff_time=1s' 'maximal_backoff_time=2s' && systemctl reload postfix",
    );
}

/** One load run; returns messages/second measured on the host, from first connect to last delivery. */
function load(host: LabHost, from: "inside" | "outside"): { rate: number; delivered: number; signed: number; spf: number } {
    host.ssh("find /var/tmp/sink -type f -delete; postsuper -d ALL >/dev/null 2>&1 || true");
    const wait = `while [ "$(find /var/tmp/sink -type f | wc -l)" -lt ${MESSAGES} ] && [ $(( $(date +%s) - t0 )) -lt 300 ]; do sleep 0.05; done`;
    let out: string;
    if (from === "inside") {
        out = host.ssh(
            `t0=$(date +%s); s=$(date +%s.%N); smtp-source -s ${SESSIONS} -m ${MESSAGES} -l ${SIZE} -f alice@example.com -t bob@sink.example 127.0.0.1:25; ${wait}; e=$(date +%s.%N); echo "$s $e"`,
            { timeout: 400_000 },
        );
    } else {
        // From the runner's side of the lab network: not in mynetworks, so SPF is checked.
        const s = Date.now();
        sh(
            "chroot",
            [
                host.merged,
                "/usr/sbin/smtp-source",
                "-s",
                `${SESSIONS}`,
                "-m",
                `${MESSAGES}`,
                "-l",
                `${SIZE}`,
                "-f",
                "bench@bench.example.net",
                "-t",
                "bob@sink.example",
                "10.231.0.2:25",
            ],
            { timeout: 400_000 },
        );
        host.ssh(`t0=$(date +%s); ${wait}`, { timeout: 400_000 });
        out = `${s / 1000} ${Date.now() / 1000}`;
    }
    const [start, end] = out.trim().split("\n").pop()!.split(" ").map(Number);
    const counts = host
        .ssh("find /var/tmp/sink -type f | wc -l; grep -rl '^DKIM-Signature:' /var/tmp/sink | wc -l; grep -rl '^Received-SPF: Pass' /var/tmp/sink | wc -l")
        .trim()
        .split("\n")
        .map(Number);
    return { rate: counts[0] / (end - start), delivered: counts[0], signed: counts[1], spf: counts[2] };
}

it("4: mail path", async () => {
    const inet = { "mailauth:opendkim": { nameservers: ["10.231.0.53"], milterTransport: "inet" } };
    const configs: [string, Record<string, unknown> | undefined, "inside" | "outside"][] = [
        ["bare Postfix", undefined, "inside"],
        ["stack signing, unix socket (default)", {}, "inside"],
        ["stack signing, inet (the guide's)", inet, "inside"],
        ["stack, SPF check on inbound mail", {}, "outside"],
    ];
    for (const [label, patch, from] of configs) {
        const stack = patch !== undefined;
        const host = await lab.fresh();
        lab.dns.set("bench.example.net", "TXT", 60, `"v=spf1 ip4:${RUNNER_ADDR} -all"`);
        if (stack) await lab.runner.up(lab.config(patch));
        prepareSink(host);
        const r: MailRow = (mail[label] = { rate: [], signed: [], spfChecked: [], opendkimStarts: [] });
        for (let rep = 0; rep < REPS; rep++) {
            const mark = now(host);
            const res = load(host, from);
            expect(res.delivered, `${label}: every message delivered; queue: ${host.ssh("mailq | tail -n 3; journalctl -q -u postfix@- -n 5 -o cat")}`).toBe(
                MESSAGES,
            );
            if (label.includes("signing")) {
                // Not a number unless every message was signed, and a sample verifies.
                expect(res.signed, `${label}: every message signed`).toBe(MESSAGES);
                const sample = host.ssh("find /var/tmp/sink -type f | shuf -n 3").trim().split("\n");
                for (const f of sample) expect(inLab(["dkimverify"], { input: host.ssh(`sed '/^X-/d' ${f}`), allowFail: true }).trim()).toBe("signature ok");
            }
            if (label.includes("SPF")) expect(res.spf, `${label}: every message SPF-checked`).toBe(MESSAGES);
            r.rate.push(res.rate);
            r.signed.push(res.signed);
            r.spfChecked.push(res.spf);
            r.opendkimStarts.push(
                stack ? (host.ssh(`journalctl -q -o cat --since @${mark} -u opendkim.service || true`).match(/^Starting /gm) ?? []).length : 0,
            );
        }
    }
    writeReport();
});

function writeReport(): void {
    const guide = stats(converge["guide's plain script"].time).median;
    const best = stats(converge["hand-written fast script"].time).median;
    const bare = stats(mail["bare Postfix"].rate).median;
    const lines: string[] = [];
    lines.push("# Benchmarks", "");
    lines.push(
        `Measured by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Linux ${os.release()}.`,
    );
    lines.push("The lab host is a Debian 12 container (systemd-nspawn) on the same machine, sharing its cores with the load generator.");
    lines.push(
        `Each figure: median (min–max) of ${REPS} repetitions; each ratio is against a baseline measured side by side in the same run, on fresh copies of the same host.`,
        "",
    );
    lines.push("## Converge", "");
    lines.push("| what | seconds | vs guide's script | vs hand-written fast | SSH sessions | service starts | reloads | commands run |");
    lines.push("|---|---|---|---|---|---|---|---|");
    for (const [k, r] of Object.entries(converge)) {
        const t = stats(r.time);
        lines.push(
            `| ${k} | ${fmt(t)} | ${(t.median / guide).toFixed(2)}x | ${(t.median / best).toFixed(2)}x | ${stats(r.sessions).median} | ${stats(r.starts).median} | ${stats(r.reloads).median} | ${r.commands ? (r.commands.length ? r.commands.join(", ") : "none") : "-"} |`,
        );
    }
    lines.push("", "Where the stack's fresh converge spends its time (seconds per step, each over its own SSH session):", "");
    lines.push("| step | seconds |", "|---|---|");
    for (const [k, v] of Object.entries(steps)) lines.push(`| ${k} | ${fmt(stats(v))} |`);
    lines.push("", "## Mail path", "");
    lines.push(
        `\`smtp-source -s ${SESSIONS} -m ${MESSAGES} -l ${SIZE}\` into the host's Postfix, relayed to \`smtp-sink\`; messages per second from the first connection to the last delivery at the sink.`,
        "",
    );
    lines.push("| configuration | msg/s | vs bare Postfix | signed | SPF-checked | OpenDKIM restarts during load |");
    lines.push("|---|---|---|---|---|---|");
    for (const [k, r] of Object.entries(mail)) {
        const s = stats(r.rate);
        lines.push(
            `| ${k} | ${fmt(s, 0)} | ${(s.median / bare).toFixed(2)}x | ${stats(r.signed).min}/${MESSAGES} | ${stats(r.spfChecked).min}/${MESSAGES} | ${Math.max(...r.opendkimStarts)} |`,
        );
    }
    lines.push("", "![chart](docs/bench.svg)", "");
    lines.push(
        "Method: `test/bench/bench.test.ts`; baselines `test/bench/guide.sh` (the guide's steps as typed) and `test/bench/best.sh` (one read, one `postconf -e`, one restart each). Service starts and reloads are counted from the host's journal.",
    );
    // The scale, check and hosts sections are test/bench/scale.test.ts's, check.test.ts's and hosts.test.ts's: keep them.
    const previous = fs.existsSync(path.join(ROOT, "BENCHMARKS.md")) ? fs.readFileSync(path.join(ROOT, "BENCHMARKS.md"), "utf8") : "";
    for (const kept of ["scale", "check", "hosts"]) {
        const section = previous.match(new RegExp(`<!-- ${kept}:[\\s\\S]*<!-- \\/${kept} -->\\n?`));
        if (section) lines.push("", section[0].trimEnd());
    }
    fs.writeFileSync(path.join(ROOT, "BENCHMARKS.md"), lines.join("\n") + "\n");
    fs.mkdirSync(path.join(ROOT, "docs"), { recursive: true });
    fs.writeFileSync(path.join(ROOT, "docs", "bench.svg"), chart());
    console.log(lines.join("\n"));
}

/** Two bar groups: converge seconds and mail msg/s, medians with min–max whiskers. */
function chart(): string {
    const groups: [string, [string, Stats][], string][] = [
        ["Converge (seconds, lower is better)", Object.entries(converge).map(([k, r]) => [k, stats(r.time)]), "s"],
        ["Mail path (messages/second, higher is better)", Object.entries(mail).map(([k, r]) => [k, stats(r.rate)]), "msg/s"],
    ];
    const W = 800,
        barH = 22,
        gap = 8,
        left = 290;
    let y = 20;
    const parts: string[] = [];
    for (const [title, rows, unit] of groups) {
        parts.push(`<text x="10" y="${y}" font-weight="bold">${title}</text>`);
        y += 12;
        const max = Math.max(...rows.map(([, s]) => s.max));
        for (const [label, s] of rows) {
            const scale = (v: number) => ((W - left - 80) * v) / max;
            parts.push(`<text x="${left - 8}" y="${y + 15}" text-anchor="end">${label.replace(/&/g, "&amp;").replace(/'/g, "&#39;")}</text>`);
            parts.push(`<rect x="${left}" y="${y}" width="${scale(s.median).toFixed(1)}" height="${barH}" fill="#4a7ab5"/>`);
            parts.push(
                `<line x1="${(left + scale(s.min)).toFixed(1)}" x2="${(left + scale(s.max)).toFixed(1)}" y1="${y + barH / 2}" y2="${y + barH / 2}" stroke="#222"/>`,
            );
            parts.push(`<text x="${(left + scale(s.max) + 6).toFixed(1)}" y="${y + 15}">${s.median.toFixed(unit === "s" ? 2 : 0)} ${unit}</text>`);
            y += barH + gap;
        }
        y += 20;
    }
    return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y}" font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/>${parts.join("")}</svg>\n`;
}
