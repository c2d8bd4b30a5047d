/**
 * `npm run demo`: a throwaway Debian mail server on this machine, set up by this stack, its mail
 * checked by tools this project did not write. Built on the lab (test/lab): the same root
 * filesystem, network namespace, DNS server and runner the lab tests use.
 *
 *   npm run demo              the whole story, then removes everything it started
 *   npm run demo -- --keep    leaves the server running, prints how to reach it and stop it
 *   npm run demo -- --stop    stops a server left by --keep
 *
 * It takes the lab's lock (/tmp/mailauth-lab.lock, the one lab tests run under with flock), so
 * it never runs beside a lab test. It stops only processes it started, by their pid.
 */
import { ChildProcess, execFile, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { exampleConfig } from "../harness";
import { DOMAINS, Lab } from "../lab/fixture";
import {
    CACHE_DIR,
    DNS_ADDR,
    execFileWithInput,
    LAB_RELEASES,
    labRelease,
    FORBIDDEN_ADDR,
    HOST_ADDR,
    inLab,
    NETNS,
    PERMITTED_ADDR,
    sh,
    stopRecorded,
    teardownNetwork,
} from "../lab/lab";
import { flockHolders, LAB_LOCK, spawnHolder } from "../lab/lock";
import { Operation } from "../lab/runner";
import { diffText, FileChange, fileChanges, FileSnapshot, snapshotFiles } from "./server";

export const LOCK = LAB_LOCK;
/** What --keep left running, for --stop. In /run: a reboot ends the lab too. */
const KEPT = process.env.MAILAUTH_DEMO_KEPT ?? "/run/mailauth-demo.json";
const ROOT = path.join(__dirname, "..", "..");
/** Debian's independent checkers the lab does not already install (test/lab/host-packages.sh). */
const CHECKERS = ["python3-authheaders", "python3-spf", "spfquery"];
const HELO = "mail.example.com";

// ---------------------------------------------------------------- output

const color = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code: string) => (s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
const bold = paint("1");
const dim = paint("2");
const green = paint("32");
const red = paint("31");
const say = (s = "") => process.stdout.write(`${s}\n`);
const secs = (ms: number) => (ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`);

class DemoError extends Error {}

function check(ok: boolean, label: string, detail: string): void {
    say(`    ${ok ? green("✓") : red("✗")} ${label.padEnd(6)} ${detail}`);
    if (!ok) throw new DemoError(`${label}: ${detail}`);
}

let TOTAL = 9;
let stepNo = 0;
async function step<T>(title: string, fn: () => Promise<T> | T): Promise<T> {
    stepNo++;
    say();
    say(bold(`[${stepNo}/${TOTAL}] ${title}`));
    const t0 = Date.now();
    const result = await fn();
    say(dim(`    (${secs(Date.now() - t0)})`));
    return result;
}

function operations(ops: Operation[]): void {
    if (ops.length === 0) say("    no host step ran");
    for (const o of ops) say(`    ${o.op.padEnd(8)} ${o.name.padEnd(36)} ${secs(o.ms).padStart(7)}`);
}

// ---------------------------------------------------------------- checks before anything

function readOsRelease(): string {
    try {
        return fs.readFileSync("/etc/os-release", "utf8");
    } catch {
        return "";
    }
}

/** Why this machine cannot run the demo, or undefined when it can. */
export function refuse(
    machine = { platform: process.platform as string, osRelease: readOsRelease(), uid: process.getuid?.(), aptGet: fs.existsSync("/usr/bin/apt-get") },
): string | undefined {
    if (machine.platform !== "linux") return "npm run demo runs on Linux (Debian or a Debian-family distribution), as root.";
    const osRelease = machine.osRelease;
    const field = (k: string) => osRelease.match(new RegExp(`^${k}="?([^"\\n]*)"?$`, "m"))?.[1] ?? "";
    const family = `${field("ID")} ${field("ID_LIKE")}`.split(/\s+/);
    if (!family.includes("debian") || !machine.aptGet) {
        return (
            `npm run demo needs a Debian-family machine (Debian 12 was used): it installs Debian's packages with apt-get ` +
            `and builds the mail server from Debian's mirror. This machine is ${field("PRETTY_NAME") || "not one (no /etc/os-release)"}.`
        );
    }
    if (machine.uid !== 0) {
        return "npm run demo needs root: it installs packages, creates a network namespace and boots a container. Run it as root (e.g. sudo npm run demo).";
    }
    return undefined;
}

// ---------------------------------------------------------------- the lab lock

/**
 * Holds /tmp/mailauth-lab.lock for as long as this process lives: flock(1) keeps the lock while
 * its command runs, and the command waits on our pipe. When this process ends, however it ends,
 * the pipe closes and the lock is released. With --keep we write "keep" instead: the command
 * becomes `sleep infinity` and the kept lab keeps the lock until --stop ends that process group.
 * Its own session and process group, so Ctrl-C here does not release the lock early.
 */
const LOCK_HOLDER = 'echo locked; read -r line; [ "$line" = keep ] && exec sleep infinity; exit 0';
/** flock(1) while it waits for the lock: stopped (by its pid) if the demo is interrupted meanwhile. */
let lockWaiter: ChildProcess | undefined;

async function takeLock(): Promise<ChildProcess> {
    // The holder taken at once stays lockWaiter, as it always has; one taken after waiting does not.
    let waited = false;
    const held = await spawnHolder(
        LOCK,
        LOCK_HOLDER,
        (line) => {
            waited = true;
            say(line);
        },
        (child) => (lockWaiter = child),
    );
    if (waited) lockWaiter = undefined;
    if (!held) throw new DemoError(`could not take ${LOCK}`);
    return held;
}

// ---------------------------------------------------------------- what the server shows

/** One record as dig prints it (kdig, knot's dig), long keys shortened for the eye. */
function dig(name: string, type: string): string[] {
    const out = inLab(["kdig", "+noall", "+answer", `@${DNS_ADDR}`, name, type]);
    return out
        .split("\n")
        .filter((l) => l.trim() && !l.startsWith(";"))
        .map((l) => {
            const f = l.trim().split(/\s+/);
            const rdata = f.slice(4).join(" ");
            // A DKIM key is long and split into 255-byte strings: show its ends and its size.
            const strings = rdata.match(/"[^"]*"/g);
            if (f[3] === "TXT" && strings && /v=DKIM1/.test(rdata)) {
                const joined = strings.map((x) => x.slice(1, -1)).join("");
                const short = joined.replace(/p=([A-Za-z0-9+/]{12})[A-Za-z0-9+/]+([A-Za-z0-9+/=]{8})$/, "p=$1…$2");
                return `${f.slice(0, 4).join(" ")} "${short}"  (${strings.length} strings, ${joined.length} characters)`;
            }
            return `${f.slice(0, 4).join(" ")} ${rdata}`;
        });
}

function showRecords(records: { name: string; type: string }[]): void {
    say(`    records in the lab DNS (${DNS_ADDR}), as kdig (knot's dig) shows them:`);
    for (const r of records) {
        const lines = dig(r.name, r.type);
        if (lines.length === 0) check(false, r.type, `${r.name}: not in the lab DNS`);
        for (const l of lines) say(`    ${green("✓")} ${l}`);
    }
}

function uniqueRecords(records: { name: string; type: string }[]): { name: string; type: string }[] {
    const seen = new Set<string>();
    return records.filter((r) => !seen.has(`${r.name} ${r.type}`) && seen.add(`${r.name} ${r.type}`));
}

/** The stack's own notes of what a server had, for destroy: one line, not a listing. */
const STATE_DIR = "/var/lib/mailauth";

function showFiles(before: FileSnapshot, after: FileSnapshot, label: string): void {
    const all = fileChanges(before, after);
    const own = all.filter((c) => c.path === STATE_DIR || c.path.startsWith(`${STATE_DIR}/`));
    const changes = all.filter((c) => !own.includes(c));
    say(`    ${label}${changes.length === 0 ? ": none" : ":"}`);
    const mark = { added: "+", removed: "-", changed: "~" } as const;
    for (const c of changes) {
        say(`      ${mark[c.what]} ${c.path}  ${dim(c.lines[0] ?? "")}`);
        for (const l of c.lines.slice(1)) say(dim(`          ${l}`));
    }
    if (own.length) {
        const count = (what: string) => own.filter((c) => c.what === what && !c.lines[0]?.startsWith("directory")).length;
        say(
            `      ${STATE_DIR}/  ${dim(`the stack's record of what the server had, for destroy: ${count("added")} added, ${count("changed")} changed, ${count("removed")} removed`)}`,
        );
    }
}

interface PostfixSettings {
    main: string;
    master: string;
}

function postfixSettings(lab: Lab): PostfixSettings {
    const [main, master] = lab.host!.ssh("postconf -n; echo '=== master.cf'; postconf -M").split("=== master.cf\n");
    return { main, master: master.replace(/[ \t]+/g, " ") };
}

function showPostfix(before: PostfixSettings, after: PostfixSettings, label: string): boolean {
    const main = diffText(before.main, after.main, 0);
    const master = diffText(before.master, after.master, 0);
    const same = main.length === 0 && master.length === 0;
    say(`    ${label}${same ? ": none" : ":"}`);
    if (main.length) say("      main.cf (postconf -n):");
    for (const l of main.filter((x) => !x.startsWith("@@"))) say(`        ${l.startsWith("+") ? green(l) : red(l)}`);
    if (master.length) say("      master.cf (postconf -M):");
    for (const l of master.filter((x) => !x.startsWith("@@"))) say(`        ${l.startsWith("+") ? green(l) : red(l)}`);
    return same;
}

/** A tag of the message's DKIM-Signature header. */
function dkimTag(message: string, tag: string): string | undefined {
    const header = message.match(/^DKIM-Signature:[^\n]*(?:\n[ \t][^\n]*)*/m)?.[0].replace(/\s+/g, "");
    return header?.match(new RegExp(`[;:]${tag}=([^;]+)`))?.[1];
}

function header(message: string, name: string): string {
    return (message.match(new RegExp(`^${name}:[^\\n]*(?:\\n[ \\t][^\\n]*)*`, "m"))?.[0] ?? "").replace(/\n[ \t]+/g, " ");
}

/** A command in the lab namespace, without blocking: its output (and its errors, if it failed), trimmed. */
function inLabAsync(args: string[], input?: string): Promise<string> {
    return new Promise((resolve) => {
        execFileWithInput("ip", ["netns", "exec", NETNS, ...args], { timeout: 60_000 }, input ?? "", (err, stdout, stderr) =>
            resolve(`${stdout}${err ? stderr || err.message : ""}`.trim()),
        );
    });
}

/**
 * A bounce or a report has an empty MAIL FROM: receivers then check SPF for the HELO name (RFC 7208
 * 2.3), the MX host's own record (mx.heloSpf). pyspf 2.0.14 checks `postmaster@<HELO>` when the
 * sender is empty (spf.py:375-377, query.__init__: ident 'helo').
 */
async function bounceSpf(): Promise<void> {
    const helo = (ip: string) => inLabAsync(["/usr/bin/python3", "-c", "import spf, sys; print(spf.check2(i=sys.argv[1], s='', h=sys.argv[2])[0])", ip, HELO]);
    const [own, other] = await Promise.all([helo(HOST_ADDR), helo(FORBIDDEN_ADDR)]);
    const record =
        dig(HELO, "TXT")
            .find((l) => /spf1/.test(l))
            ?.split(" TXT ")[1] ?? "no SPF record";
    check(own === "pass", "HELO", `pyspf for a bounce (MAIL FROM <>) from ${HOST_ADDR}, HELO ${HELO}: ${own}  [${record}]`);
    check(other === "fail", "HELO", `the same from ${FORBIDDEN_ADDR}, not the server: ${other} (it can say no)`);
}

/** A message sent on the server, and what independent checkers say of it. */
async function outbound(lab: Lab, from: string, selector: string): Promise<void> {
    const domain = from.split("@")[1];
    const subject = `demo-${selector}-${domain}`;
    say(`    sent on the server: sendmail -f ${from} root@localhost (Subject: ${subject})`);
    const sent = Date.now();
    const message = await lab.sendLocal(from, subject);
    say(`    delivered to root's mailbox on the server (seen ${secs(Date.now() - sent)} after sending), signed:`);
    say(dim(`      ${header(message, "DKIM-Signature").slice(0, 110)}…`));
    say(`    checked on this machine, DNS from the lab server only, as a receiver seeing it come from ${HOST_ADDR}:`);
    check(
        dkimTag(message, "d") === domain && dkimTag(message, "s") === selector,
        "signed",
        `d=${dkimTag(message, "d")} s=${dkimTag(message, "s")} (OpenDKIM on the server)`,
    );

    // The checkers are independent of each other: run them side by side.
    const [verdict, tampered, spfquery, verified] = await Promise.all([
        inLabAsync(["dkimverify"], message),
        inLabAsync(["dkimverify"], message.replace("This line is signed.", "This line was changed.")),
        inLabAsync(["spfquery", "-ip", HOST_ADDR, "-sender", from, "-helo", HELO]),
        inLabAsync(["/usr/bin/python3", path.join(__dirname, "verify.py"), HOST_ADDR, from, HELO], message),
    ]);
    check(verdict === "signature ok", "DKIM", `dkimverify (python3-dkim), key from ${selector}._domainkey.${domain}: ${verdict}`);
    check(
        !/signature ok/.test(tampered),
        "DKIM",
        `the same message with one body line changed: ${tampered.match(/body hash mismatch|signature verification failed/)?.[0] ?? tampered.split("\n").pop()} (it can say no)`,
    );
    const spfResult = spfquery.split("\n")[0];
    check(
        spfResult === "pass",
        "SPF",
        `spfquery (libspf2) for ${HOST_ADDR}, MAIL FROM ${from}: ${spfResult}  [${
            dig(domain, "TXT")
                .find((l) => /spf1/.test(l))
                ?.split(" TXT ")[1] ?? "no SPF record"
        }]`,
    );

    let v: {
        authenticationResults: string;
        dmarc: { result: string; policy: string; headerFrom: string; adkim: string; aspf: string; dkimAligned: boolean; spfAligned: boolean };
        dkim: { d: string };
        spf: { mailFromDomain: string };
    };
    try {
        v = JSON.parse(verified);
    } catch {
        throw new DemoError(`test/demo/verify.py failed: ${verified}`);
    }
    const d = v.dmarc;
    check(d.result === "pass", "DMARC", `authheaders (python3-authheaders): ${d.result}, p=${d.policy}, header.from=${d.headerFrom}`);
    check(
        d.dkimAligned && d.spfAligned,
        "align",
        `From: ${d.headerFrom}; DKIM d=${v.dkim.d} ${d.dkimAligned ? "aligned" : "NOT aligned"} (adkim=${d.adkim}), ` +
            `SPF MAIL FROM ${v.spf.mailFromDomain} ${d.spfAligned ? "aligned" : "NOT aligned"} (aspf=${d.aspf})`,
    );
    say(dim(`      ${v.authenticationResults.replace(/\s+/g, " ")}`));
}

/**
 * What destroy may leave different, by design: OpenDKIM's boot links when the stack installed it
 * (destroy disables it), the copies usermod/gpasswd keep (/etc/group-), empty directories.
 */
function explainedAfterDestroy(c: FileChange, after: FileSnapshot): boolean {
    if (/^\/etc\/(rc\d\.d\/[SK]\d\dopendkim|systemd\/system\/[^/]+\.wants\/opendkim\.service)$/.test(c.path)) return true;
    if (/^\/etc\/[a-z]+-$/.test(c.path)) return true;
    if (c.path === "/var/lib/mailauth" || c.path.startsWith("/var/lib/mailauth/")) return true;
    return (
        c.what === "added" && after.get(c.path)?.kind === "dir" && ![...after.keys()].some((p) => p.startsWith(`${c.path}/`) && after.get(p)?.kind !== "dir")
    );
}

function receivedSpf(message: string): string {
    return header(message, "Received-SPF");
}

// ---------------------------------------------------------------- the story

function demoConfigs(lab: Lab) {
    const example = exampleConfig()["mailauth:domains"] as { name: string; zoneId: string; selector: string }[];
    const first = example[0].selector;
    const next = "20270601";
    const domains = example.filter((d) => DOMAINS.includes(d.name));
    return {
        first,
        next,
        up: lab.config({ "mailauth:domains": domains.map(({ name, zoneId }) => ({ name, zoneId, selector: first })) }),
        rotated: lab.config({
            "mailauth:domains": domains.map(({ name, zoneId }) => ({ name, zoneId, selector: next, previousSelectors: [first] })),
        }),
    };
}

async function story(lab: Lab, keep: boolean, started: { lab: boolean }): Promise<void> {
    await step("Installing what the demo needs from Debian", () => {
        say(`    test/lab/host-packages.sh (the lab's own list: debootstrap, systemd-container, knot, swaks, python3-dkim, …)`);
        say(`    and the independent checkers: ${CHECKERS.join(", ")}`);
        return new Promise<void>((resolve, reject) => {
            const child = spawn("bash", [path.join(ROOT, "test/lab/host-packages.sh"), ...CHECKERS], { stdio: ["ignore", "inherit", "inherit"] });
            child.on("exit", (code) => (code === 0 ? resolve() : reject(new DemoError(`test/lab/host-packages.sh failed (exit ${code})`))));
        });
    });

    await step("The mail server's root filesystem and the lab network", async () => {
        const cachedBefore = fs.existsSync(CACHE_DIR) ? fs.readdirSync(CACHE_DIR) : [];
        say(
            `    ${LAB_RELEASES[labRelease()]} (${labRelease()}, by MAILAUTH_LAB_RELEASE: trixie, the default, or bookworm) with Postfix and the stack's packages, cached in ${CACHE_DIR}`,
        );
        say(`    (the first run builds it with debootstrap from this machine's Debian mirror: about 2 minutes)`);
        started.lab = true;
        const t = Date.now();
        await lab.start();
        const rootfs = path.basename((lab as any).rootfs as string); // private to the lab: which image it chose
        say(`    image ${rootfs}: ${cachedBefore.includes(rootfs) ? "cached" : `built now (${secs(Date.now() - t)})`}`);
        say(`    network namespace ${NETNS}: ${inLab(["ip", "-brief", "addr", "show", "mlab1"]).trim().split(/\s+/).slice(2).join(" ")}`);
        say(`    routes: ${inLab(["ip", "route", "show"]).trim().replace(/\n/g, "; ")}  (no default route: nothing leaves this machine)`);
    });

    const host = await step("Booting the DNS server and a pristine mail server", async () => {
        const h = await lab.fresh();
        say(`    DNS (stands in for Cloudflare): knot at ${DNS_ADDR}, zones example.com, example.org, example.net`);
        say(
            `    mail server: ${h.ssh(". /etc/os-release; echo $PRETTY_NAME").trim()}, systemd-nspawn machine ${h.name}, ` +
                `mail.example.com at ${HOST_ADDR}, SSH as root with a key made for the lab`,
        );
        say(`    before the stack: Postfix ${h.ssh("postconf -h mail_version").trim()} receiving for example.com and example.org (parts 1-3 of the guide).`);
        say(`    The lab has no network, so the image was built with the stack's own package step already run: OpenDKIM and`);
        say(
            `    policyd-spf are installed (${h.ssh("cat /var/lib/mailauth/installed-packages").trim().split("\n").join(", ")} listed as installed by the stack), unconfigured.`,
        );
        return h;
    });
    const original = {
        files: snapshotFiles(host.merged),
        postfix: postfixSettings(lab),
        opendkim: host.ssh("systemctl is-enabled opendkim; systemctl is-active opendkim; true").trim().replace("\n", ", "),
    };
    const configs = demoConfigs(lab);

    const applied = await step("pulumi up: the example stack applied to the server", async () => {
        say(`    Pulumi.example.yaml pointed at the lab: domains ${DOMAINS.join(", ")} (selector ${configs.first}), MX mail.example.com,`);
        say(`    SPF v=spf1 mx ~all, DMARC p=none, OpenDKIM asking the lab DNS. Stand-in: the lab runner, not the Pulumi engine.`);
        const report = await lab.runner.up(configs.up);
        operations(report.operations);
        const records = report.outputs.records as { name: string; type: string; value: string }[];
        showRecords(uniqueRecords(records));
        const files = snapshotFiles(host.merged);
        showFiles(original.files, files, "files on the server, before -> after (read from its filesystem)");
        const postfix = postfixSettings(lab);
        showPostfix(original.postfix, postfix, "Postfix settings changed, before -> after");
        const testKey = report.outputs.testKey as Record<string, string>;
        for (const domain of DOMAINS) check(testKey[domain] === "key OK", "testkey", `opendkim-testkey on the server, ${domain}: ${testKey[domain]}`);
        return { records, files, postfix };
    });

    await step("Outbound: a message sent from the server, checked by independent verifiers", async () => {
        await outbound(lab, "alice@example.com", configs.first);
        await bounceSpf();
    });

    await step("Inbound: messages from outside addresses, checked by the SPF policy agent", async () => {
        for (const [addr, expected] of [
            [PERMITTED_ADDR, "Pass"],
            [FORBIDDEN_ADDR, "Softfail"],
        ] as const) {
            const subject = `inbound-${expected.toLowerCase()}`;
            const out = lab.swaks("bob@soft.example.net", addr, subject);
            check(
                /250 2\.0\.0 Ok: queued/.test(out),
                "SMTP",
                `swaks from ${addr}, MAIL FROM bob@soft.example.net [${dig("soft.example.net", "TXT")[0]?.split(" TXT ")[1]}]: accepted`,
            );
            const got = receivedSpf(await lab.delivered(subject));
            check(got.startsWith(`Received-SPF: ${expected}`), "SPF", got.length > 150 ? `${got.slice(0, 150)}…` : got);
        }
    });

    const rotated = await step(`Rotation: selector ${configs.next} signs, ${configs.first} stays published`, async () => {
        const report = await lab.runner.up(configs.rotated);
        operations(report.operations);
        const records = report.outputs.records as { name: string; type: string; value: string }[];
        showRecords(uniqueRecords(records).filter((r) => /_domainkey/.test(r.name)));
        const files = snapshotFiles(host.merged);
        showFiles(applied.files, files, "files on the server that changed");
        const postfix = postfixSettings(lab);
        showPostfix(applied.postfix, postfix, "Postfix settings changed");
        await outbound(lab, "alice@example.org", configs.next);
        return { records };
    });

    await step("pulumi destroy: the server put back as it was", async () => {
        operations(await lab.runner.destroy());
        const names = uniqueRecords([...applied.records, ...rotated.records]);
        const left = names.filter((r) => dig(r.name, r.type).length > 0);
        check(
            left.length === 0,
            "DNS",
            left.length ? `still published: ${left.map((r) => `${r.name} ${r.type}`).join(", ")}` : `all ${names.length} records removed (kdig finds none)`,
        );
        const files = snapshotFiles(host.merged);
        showFiles(original.files, files, "what differs from before the first pulumi up");
        const changes = fileChanges(original.files, files);
        const rest = changes.filter((c) => !explainedAfterDestroy(c, files));
        const bootLinks = changes.some((c) => /opendkim(\.service)?$/.test(c.path) && files.get(c.path)?.kind !== "dir" && !c.path.startsWith("/var/lib/"));
        check(
            rest.length === 0,
            "files",
            rest.length === 0
                ? `every file the server had is back as it was${bootLinks ? ", but for OpenDKIM's boot links (below)" : ""}`
                : `not put back: ${rest.map((c) => c.path).join(", ")}`,
        );
        const leftDirs = changes.filter((c) => c.what === "added" && files.get(c.path)?.kind === "dir");
        if (leftDirs.length) say(`    left behind: ${leftDirs.map((c) => c.path).join(", ")} (empty directories the stack made; destroy leaves them)`);
        // templates/opendkim.sh: OpenDKIM installed by the stack (installed-packages) counts as off before it.
        const installedByStack = host.ssh("cat /var/lib/mailauth/installed-packages 2>/dev/null || true").split("\n").includes("opendkim");
        const state = host.ssh("systemctl is-enabled opendkim; systemctl is-active opendkim; true").trim().replace("\n", ", ");
        const expected = installedByStack ? "disabled, inactive" : original.opendkim;
        check(
            state === expected,
            "opendkim",
            `${state}${installedByStack ? ": the stack installed it (its package step ran when the image was built), so destroy stops and disables it; packages stay installed" : ""}`,
        );
        const same = showPostfix(original.postfix, postfixSettings(lab), "Postfix settings that differ from before");
        check(same, "postfix", same ? "postconf -n and postconf -M as before" : "differ from before");
    });

    if (keep) {
        await step("--keep: the stack applied again, so the server you keep is configured", async () => {
            operations((await lab.runner.up(configs.rotated)).operations);
        });
    }
}

// ---------------------------------------------------------------- keep / stop

interface Kept {
    /** flock(1) holding the lab lock for the kept lab: the leader of its own process group. */
    lockPid: number;
    pid: number;
    machine: string;
    merged: string;
    runDir: string;
    stateDir: string;
    knotDir: string;
}

function keepRecord(lab: Lab, lock: ChildProcess): Kept {
    // Private to the lab's classes; read here so that --stop can stop exactly these, by pid.
    const host = lab.host! as any;
    return {
        lockPid: lock.pid!,
        pid: host.proc.pid,
        machine: host.name,
        merged: host.merged,
        runDir: host.runDir,
        stateDir: (lab as any).stateDir,
        knotDir: (lab.dns as any).dir,
    };
}

/** Stops what --keep left: the container by its pid, knot through its control socket, the network. */
async function stopKept(): Promise<number> {
    if (!fs.existsSync(KEPT)) {
        say("No demo server is kept (nothing to stop).");
        return 0;
    }
    const k = JSON.parse(fs.readFileSync(KEPT, "utf8")) as Kept;
    // The kept lab holds the lab lock (see takeLock). If that holder is gone, another lab run may
    // be using the network now: wait for the lock before touching anything.
    // flock(1) is the pid /proc/locks names as the lock's holder (test/lab/lock.ts flockHolders).
    const holding = flockHolders(LOCK).includes(k.lockPid);
    const lock = holding ? undefined : await takeLock();
    say(`Stopping the kept demo: mail server ${k.machine} (pid ${k.pid}), its DNS server and the lab network…`);
    // The lab recorded both pids when it started them (test/lab/lab.ts recordPid) and stops each
    // by its pid only while that pid's command line is still the one it started.
    await stopRecorded(k.machine);
    sh("umount", ["-l", k.merged], { allowFail: true });
    fs.rmSync(k.runDir, { recursive: true, force: true });
    const socket = path.join(k.knotDir, "knot.sock");
    if (fs.existsSync(socket)) sh("knotc", ["-s", socket, "stop"], { allowFail: true });
    await stopRecorded("knotd", 5_000);
    teardownNetwork();
    fs.rmSync(k.stateDir, { recursive: true, force: true });
    fs.rmSync(KEPT, { force: true });
    // Last, the lock: flock and its `sleep infinity`, the process group this demo made for them.
    if (holding) process.kill(-k.lockPid, "SIGTERM");
    lock?.stdin!.end();
    say("Stopped.");
    return 0;
}

// ---------------------------------------------------------------- main

export async function main(argv: string[]): Promise<number> {
    const unknown = argv.filter((a) => !["--keep", "--stop", "--help", "-h"].includes(a));
    if (argv.includes("--help") || argv.includes("-h") || unknown.length) {
        if (unknown.length) say(`unknown option: ${unknown.join(" ")}`);
        say("usage: npm run demo [-- --keep | --stop]");
        say("  (no option)  provision a throwaway mail server with this stack, show what it did, verify its mail, remove everything");
        say("  --keep       leave the server running at the end, and print how to open a shell on it and how to stop it");
        say("  --stop       stop a server left running by --keep");
        say("  MAILAUTH_LAB_RELEASE=trixie (Debian 13, the default) or bookworm (Debian 12): the mail server's release");
        return unknown.length ? 2 : 0;
    }
    try {
        labRelease();
    } catch (e) {
        process.stderr.write(`${(e as Error).message}\n`);
        return 2;
    }
    const refusal = refuse();
    if (refusal) {
        process.stderr.write(`${refusal}\n`);
        return 1;
    }
    // The kept lab holds the lock itself (see takeLock): its owner stops it without waiting.
    if (argv.includes("--stop")) return stopKept();
    const keep = argv.includes("--keep");
    if (keep) TOTAL = 10;

    say(bold("mailauth demo: a throwaway mail server on this machine, set up by this stack, its mail checked by others' tools"));
    say("  Said plainly, two stand-ins: the lab's runner (test/lab/runner.ts) plays the Pulumi engine. It runs index.ts");
    say("  unchanged under Pulumi's mocks and makes each resource real: keys generated, records written, every host");
    say(`  step run over real SSH. A local DNS server (knot) plays Cloudflare. The rest is real: ${LAB_RELEASES[labRelease()]}, Postfix,`);
    say("  OpenDKIM, policyd-spf, SSH. Nothing leaves this machine: the lab's network namespace has no route off it.");

    const lab = new Lab();
    const started = { lab: false };
    let cleaning: Promise<void> | undefined;
    const cleanup = (): Promise<void> =>
        (cleaning ??= (async () => {
            if (!started.lab) return;
            say();
            say(bold(`[${TOTAL}/${TOTAL}] Cleaning up: stopping the mail server and the DNS server, removing the lab network`));
            const t = Date.now();
            await lab.stop();
            say(dim(`    (${secs(Date.now() - t)})`));
        })());

    let interrupted = 0;
    const onSignal = (signal: NodeJS.Signals) => {
        if (interrupted) {
            // npm passes the terminal's Ctrl-C on once more: only a later one is the person's.
            if (Date.now() - interrupted > 1000) say(`${signal}: still cleaning up, please wait.`);
            return;
        }
        interrupted = Date.now();
        if (lockWaiter?.exitCode === null) lockWaiter.kill();
        say();
        say(red(`${signal}: interrupted. Removing what the demo started (only that, by pid)…`));
        cleanup().then(
            () => process.exit(130),
            (e) => {
                process.stderr.write(`cleanup failed: ${e?.message ?? e}\n`);
                process.exit(1);
            },
        );
    };
    for (const s of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(s, onSignal);
    // A failed step leaves the SDK's dependent registrations rejected; the step's own error is what counts.
    process.on("unhandledRejection", () => {});

    if (fs.existsSync(KEPT)) {
        say();
        say("A server kept by an earlier `npm run demo -- --keep` is replaced by this run.");
        await stopKept();
    }
    const waitStart = Date.now();
    const lock = await takeLock();
    const t0 = Date.now();
    if (t0 - waitStart > 1000) say(`Lab lock taken after ${secs(t0 - waitStart)} of waiting; timings below start now.`);

    try {
        await story(lab, keep, started);
    } catch (e) {
        if (interrupted) return new Promise<number>(() => {}); // the signal handler exits
        say();
        say(red(`✗ The demo stopped: ${e instanceof DemoError ? e.message : ((e as Error)?.stack ?? e)}`));
        await cleanup();
        lock.stdin!.end();
        return 1;
    }
    if (interrupted) return new Promise<number>(() => {});

    if (keep) {
        const k = keepRecord(lab, lock);
        fs.writeFileSync(KEPT, JSON.stringify(k, null, 1));
        lock.stdin!.end("keep\n");
        const ssh = `ssh -i ${lab.keys.privateKeyPath} -o UserKnownHostsFile=${lab.keys.knownHostsPath}`;
        say();
        say(bold(`[${TOTAL}/${TOTAL}] Kept running (--keep)`));
        say(`    a shell on the mail server:  ${ssh} root@${HOST_ADDR}`);
        say(`    its DNS:                     kdig @${DNS_ADDR} TXT ${demoConfigs(lab).next}._domainkey.example.com`);
        say(`    send a message there:        swaks --server ${HOST_ADDR} --to root@example.com`);
        say(`    stop it:                     npm run demo -- --stop`);
        say(`    (it holds the lab lock ${LOCK} until then: lab tests wait for it; npm run demo replaces it)`);
        say();
        say(
            bold(
                green(
                    `Demo done in ${secs(Date.now() - t0)}: mail signed and verified, SPF checked both ways, key rotated, server restored, then configured again and kept.`,
                ),
            ),
        );
        return 0;
    }
    await cleanup();
    lock.stdin!.end();
    say();
    say(bold(green(`Demo done in ${secs(Date.now() - t0)}: mail signed and verified, SPF checked both ways, key rotated, server restored.`)));
    return 0;
}
