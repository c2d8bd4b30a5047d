/**
 * The lab: a real Debian mail host, 13 or 12 (MAILAUTH_LAB_RELEASE; systemd-nspawn, systemd as PID 1, real SSH) in a network
 * namespace with no route off this machine, and a real authoritative DNS server (knot) for the
 * lab's zones. Needs root and Debian; `.ci/run` installs the host packages.
 *
 * Addresses (all inside the lab namespace; nothing routes out of it):
 *   10.231.0.1  the runner's end of the veth (SSH comes from here)
 *   10.231.0.2  the mail host (mail.example.com)
 *   10.231.0.53 knot, the lab's only DNS server
 *   10.231.0.10 a sender SPF permits; 10.231.0.66 a sender SPF forbids
 *   10.231.0.22, .23, ... the further mail hosts (mail2.example.com, mail3...), each in a network
 *               namespace of its own (see labHostSpec)
 *   fd00:231::2, ::22, ... the hosts' IPv6 addresses, for hosts booted with `ipv6` (LAB6_PREFIX, addHostIpv6)
 */
import { execFile, execFileSync, spawn, ChildProcess, ExecFileOptions } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { OS_FAMILY_FACTS } from "../../components/osFamilies";
import type { RecordStore } from "./runner";

export const NETNS = "mailauth-lab";
export const RUNNER_ADDR = "10.231.0.1";
export const HOST_ADDR = "10.231.0.2";
export const DNS_ADDR = "10.231.0.53";
export const PERMITTED_ADDR = "10.231.0.10";
export const FORBIDDEN_ADDR = "10.231.0.66";

/** One mail host of the lab: its address, its name (HELO, PTR target) and its network namespace. */
export interface LabHostSpec {
    /** 0 for the first host (today's single host), 1 for the second, ... */
    index: number;
    addr: string;
    hostname: string;
    netns: string;
}
/** The most hosts a lab boots (their addresses, 10.231.0.22 to .40, stay clear of the others). */
export const MAX_LAB_HOSTS = 20;
/**
 * The lab's host number `index`. The first is today's single host, unchanged: mail.example.com at
 * 10.231.0.2, inside the lab namespace itself. Each further host (mail2.example.com at 10.231.0.22,
 * mail3 at .23, ...) lives in a network namespace of its own, joined to the lab namespace by a veth
 * pair; the lab namespace routes between them (see addHostNetwork), and nothing routes further.
 */
export function labHostSpec(index: number): LabHostSpec {
    if (!Number.isInteger(index) || index < 0 || index >= MAX_LAB_HOSTS) throw new Error(`the lab boots hosts 0 to ${MAX_LAB_HOSTS - 1}, not ${index}`);
    if (index === 0) return { index, addr: HOST_ADDR, hostname: "mail.example.com", netns: NETNS };
    return { index, addr: `10.231.0.${20 + index + 1}`, hostname: `mail${index + 1}.example.com`, netns: `${NETNS}-h${index + 1}` };
}
/** The lab's zones; the last is the reverse zone of its network, which a hosting provider keeps (the PTR of the host's address). */
export const REVERSE_ZONE = "0.231.10.in-addr.arpa";
/**
 * The lab's IPv6 network: a unique local /64 (RFC 4193, fd00::/8) on the lab's own links only,
 * each host's address mirroring its IPv4 one (10.231.0.22 -> fd00:231::22). Only hosts booted with
 * `ipv6` (LabHostOptions) get one; nothing routes it off the lab (no IPv6 address or route is
 * added to this machine's own namespace).
 */
export const LAB6_PREFIX = "fd00:231::/64";
/** The reverse zone of LAB6_PREFIX (RFC 3596 2.5: nibbles, least significant first). */
export const REVERSE6_ZONE = "0.0.0.0.0.0.0.0.1.3.2.0.0.0.d.f.ip6.arpa";
/** A lab host's IPv6 address: its IPv4 address's last number after the prefix. */
export function labIpv6(spec: LabHostSpec): string {
    return `fd00:231::${spec.addr.split(".")[3]}`;
}
/** The link-local address of the lab namespace's end of each further host's veth: the host's IPv6 gateway to the others. */
const LAB6_GATEWAY = "fe80::1";
/**
 * The top-level domains above them, empty, as the public DNS has them: a DMARC tree walk (RFC 9989
 * 4.10, mailauth's getOrgDomain in components/check) asks for `_dmarc.com` too, which a resolver
 * answers NXDOMAIN; knot, authoritative only, refuses a name outside its zones (EREFUSED).
 */
const TLDS = ["com", "org", "net"];
/** Most specific first: a name belongs to the first zone it is in. */
export const ZONES = ["example.com", "example.org", "example.net", REVERSE_ZONE, REVERSE6_ZONE, ...TLDS];
/** The PTR name of a lab address: the check's own (RFC 1035 3.5). */
export { ptrName } from "../../components/check";
export const CACHE_DIR = process.env.MAILAUTH_LAB_CACHE ?? "/var/cache/mailauth-lab";

/** The Debian releases the lab boots: 13 (stable) and 12 (oldstable). */
export const LAB_RELEASES = { trixie: "Debian 13", bookworm: "Debian 12" } as const;
export type LabRelease = keyof typeof LAB_RELEASES;
/**
 * The mail host's Debian release: MAILAUTH_LAB_RELEASE, trixie (Debian 13, stable) unless set.
 * Anything else is refused, naming what is allowed.
 */
export function labRelease(value = process.env.MAILAUTH_LAB_RELEASE): LabRelease {
    const release = value === undefined || value === "" ? "trixie" : value;
    if (!(release in LAB_RELEASES)) {
        throw new Error(`MAILAUTH_LAB_RELEASE is '${release}': the lab boots trixie (Debian 13, the default) or bookworm (Debian 12)`);
    }
    return release as LabRelease;
}
const WORK_DIR = process.env.MAILAUTH_LAB_WORK ?? "/var/tmp/mailauth-lab";
/** One file per long-lived process the lab started: its pid, then a string its command line must hold. */
const PID_DIR = path.join(WORK_DIR, "pids");

export function sh(cmd: string, args: string[], opts: { input?: string; allowFail?: boolean; timeout?: number } = {}): string {
    try {
        return execFileSync(cmd, args, {
            input: opts.input,
            encoding: "utf8",
            stdio: ["pipe", "pipe", "pipe"],
            timeout: opts.timeout ?? 120_000,
        });
    } catch (e: any) {
        if (opts.allowFail) return `${e.stdout ?? ""}${e.stderr ?? ""}`;
        throw new Error(`${cmd} ${args.join(" ")} failed: ${e.stderr || e.message}`);
    }
}

/** Runs a command inside the lab namespace, whose /etc/resolv.conf points at the lab DNS. */
export function inLab(args: string[], opts: { input?: string; allowFail?: boolean; timeout?: number } = {}): string {
    return sh("ip", ["netns", "exec", NETNS, ...args], opts);
}

export async function waitFor(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
        if (check()) return;
        await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`timed out waiting for ${what}`);
}

/**
 * execFile with `input` on the child's stdin. A child that exits before reading it (knotc with no
 * server, a remote script that reads no stdin, a check that needs none) fails or succeeds by its
 * own status and output; the pipe's EPIPE says nothing more, and as an unhandled 'error' event it
 * would end the whole run (seen once: the demo, on the first CI of 2026-12-03's third session).
 */
export function execFileWithInput(
    file: string,
    args: string[],
    options: ExecFileOptions & { encoding?: BufferEncoding },
    input: string,
    callback: (err: Error | null, stdout: string, stderr: string) => void,
): ChildProcess {
    const child = execFile(file, args, { encoding: "utf8", ...options }, (err, stdout, stderr) => callback(err, String(stdout), String(stderr)));
    child.stdin!.on("error", () => undefined);
    child.stdin!.end(input);
    return child;
}

/** The command line of a live process, or undefined once it is gone (or a zombie). */
function cmdlineOf(pid: number): string | undefined {
    try {
        const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
        return cmdline === "" ? undefined : cmdline;
    } catch {
        return undefined;
    }
}

/**
 * Records a process the lab started, so that a later run can stop it if this one was aborted.
 * `marker` is a string unique to this process's command line (its root or config path): a
 * recorded pid is signalled only while its command line still holds it, never a reused pid.
 */
export function recordPid(label: string, pid: number, marker: string): void {
    fs.mkdirSync(PID_DIR, { recursive: true });
    fs.writeFileSync(path.join(PID_DIR, `${label}.pid`), `${pid}\n${marker}\n`);
}

export function forgetPid(label: string): void {
    fs.rmSync(path.join(PID_DIR, `${label}.pid`), { force: true });
}

/** Stops a recorded process by its pid (SIGTERM, then SIGKILL after `graceMs`) and forgets it. */
export async function stopRecorded(label: string, graceMs = 20_000): Promise<void> {
    const file = path.join(PID_DIR, `${label}.pid`);
    if (!fs.existsSync(file)) return;
    const [pidText, marker] = fs.readFileSync(file, "utf8").split("\n");
    const pid = Number(pidText);
    const ours = () => Number.isInteger(pid) && pid > 1 && marker !== "" && (cmdlineOf(pid)?.includes(marker) ?? false);
    if (ours()) {
        process.kill(pid, "SIGTERM");
        const end = Date.now() + graceMs;
        while (ours() && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
        if (ours()) process.kill(pid, "SIGKILL");
    }
    fs.rmSync(file, { force: true });
}

/** The labels of every process the lab recorded and has not stopped. */
export function recordedPids(): string[] {
    if (!fs.existsSync(PID_DIR)) return [];
    return fs
        .readdirSync(PID_DIR)
        .filter((f) => f.endsWith(".pid"))
        .map((f) => f.slice(0, -4));
}

/**
 * Clears what an aborted lab run left: the processes it recorded as its own, stopped by pid
 * (never by a name pattern: another lab's or user's process may match it), and its overlays.
 */
export async function clearLeftovers(): Promise<void> {
    for (const label of recordedPids()) await stopRecorded(label);
    for (const line of fs.readFileSync("/proc/mounts", "utf8").split("\n")) {
        const mountpoint = line.split(" ")[1];
        if (mountpoint?.startsWith(`${WORK_DIR}/host-`)) sh("umount", ["-l", mountpoint], { allowFail: true });
    }
}

/** The namespace, the veth pair and the lab addresses; first clears what an aborted run left. */
export async function setupNetwork(): Promise<void> {
    await clearLeftovers();
    teardownNetwork();
    sh("ip", ["netns", "add", NETNS]);
    sh("ip", ["link", "add", "mlab0", "type", "veth", "peer", "name", "mlab1"]);
    sh("ip", ["link", "set", "mlab1", "netns", NETNS]);
    sh("ip", ["addr", "add", `${RUNNER_ADDR}/24`, "dev", "mlab0"]);
    sh("ip", ["link", "set", "mlab0", "up"]);
    inLab(["ip", "link", "set", "lo", "up"]);
    for (const a of [HOST_ADDR, DNS_ADDR, PERMITTED_ADDR, FORBIDDEN_ADDR]) inLab(["ip", "addr", "add", `${a}/24`, "dev", "mlab1"]);
    inLab(["ip", "link", "set", "mlab1", "up"]);
    // `ip netns exec` bind-mounts this over /etc/resolv.conf: checkers resolve only through the lab.
    fs.mkdirSync(`/etc/netns/${NETNS}`, { recursive: true });
    fs.writeFileSync(`/etc/netns/${NETNS}/resolv.conf`, `nameserver ${DNS_ADDR}\n`);
    const routes = inLab(["ip", "route", "show"]);
    if (/default/.test(routes)) throw new Error(`the lab namespace has a default route: ${routes}`);
}

export function teardownNetwork(): void {
    sh("ip", ["link", "del", "mlab0"], { allowFail: true });
    // The further hosts' namespaces (their veths go with them), this run's or an aborted one's.
    for (const ns of sh("ip", ["netns", "list"], { allowFail: true }).split("\n")) {
        const name = ns.split(" ")[0];
        if (name.startsWith(`${NETNS}-h`)) removeHostNetwork(name);
    }
    sh("ip", ["netns", "del", NETNS], { allowFail: true });
}

/** The veth end in the lab namespace that leads to a further host's namespace (`mlabh2`, ...). */
function hostLink(spec: LabHostSpec): string {
    return `mlabh${spec.index + 1}`;
}

/**
 * A further host's network namespace: a veth pair from the lab namespace (`mlabhN`) to the host's
 * `eth0`, holding the host's address in the lab's /24 and no other route. The lab namespace routes
 * the host's /32 to its veth and answers ARP for the addresses it routes (proxy_arp), so the
 * runner (10.231.0.1), knot, the other hosts and the host reach one another by address as on one
 * network; nothing has a default route, so nothing leaves the machine.
 */
export function addHostNetwork(spec: LabHostSpec): void {
    if (spec.netns === NETNS) return;
    removeHostNetwork(spec.netns);
    const link = hostLink(spec);
    sh("ip", ["netns", "add", spec.netns]);
    sh("ip", ["link", "add", link, "netns", NETNS, "type", "veth", "peer", "name", "eth0", "netns", spec.netns]);
    const inHost = (args: string[]) => sh("ip", ["netns", "exec", spec.netns, ...args]);
    inHost(["ip", "link", "set", "lo", "up"]);
    inHost(["ip", "addr", "add", `${spec.addr}/24`, "dev", "eth0"]);
    inHost(["ip", "link", "set", "eth0", "up"]);
    inLab(["ip", "link", "set", link, "up"]);
    inLab(["ip", "route", "add", `${spec.addr}/32`, "dev", link]);
    // Per namespace (net.ipv4.* are per network namespace): the lab namespace forwards between
    // its links and answers ARP on each for what it routes through another.
    inLab(["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
    for (const l of ["mlab1", link]) inLab(["sysctl", "-q", "-w", `net.ipv4.conf.${l}.proxy_arp=1`]);
    fs.mkdirSync(`/etc/netns/${spec.netns}`, { recursive: true });
    fs.writeFileSync(`/etc/netns/${spec.netns}/resolv.conf`, `nameserver ${DNS_ADDR}\n`);
    const routes = inHost(["ip", "route", "show"]);
    if (/default/.test(routes)) throw new Error(`the lab host namespace ${spec.netns} has a default route: ${routes}`);
}

/**
 * The host's IPv6 address on the lab's links (labIpv6), after addHostNetwork. The first host, in
 * the lab namespace itself, holds it on mlab1 as a /128. A further host holds it as a /128 on its
 * eth0 with one route, the lab's /64 via the lab namespace's end of its veth (LAB6_GATEWAY); the
 * lab namespace routes the host's /128 to that veth and forwards between its links (IPv6
 * forwarding, per namespace). No prefix route stands on the lab namespace's link to this machine,
 * and no namespace has a default route. DAD is off on these links and addresses (`nodad`): they
 * are usable at once, and only this lab assigns them.
 */
export function addHostIpv6(spec: LabHostSpec): void {
    const addr = labIpv6(spec);
    if (spec.netns === NETNS) {
        inLab(["ip", "-6", "addr", "add", `${addr}/128`, "dev", "mlab1", "nodad"]);
        return;
    }
    const link = hostLink(spec);
    const inHost = (args: string[]) => sh("ip", ["netns", "exec", spec.netns, ...args]);
    inHost(["sysctl", "-q", "-w", "net.ipv6.conf.eth0.accept_dad=0"]);
    inLab(["sysctl", "-q", "-w", `net.ipv6.conf.${link}.accept_dad=0`]);
    inLab(["ip", "-6", "addr", "add", `${LAB6_GATEWAY}/64`, "dev", link, "nodad"]);
    inLab(["sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=1"]);
    inLab(["ip", "-6", "route", "add", `${addr}/128`, "dev", link]);
    inHost(["ip", "-6", "addr", "add", `${addr}/128`, "dev", "eth0", "nodad"]);
    inHost(["ip", "-6", "route", "add", LAB6_PREFIX, "via", LAB6_GATEWAY, "dev", "eth0"]);
    const routes = inHost(["ip", "-6", "route", "show"]);
    if (/default/.test(routes)) throw new Error(`the lab host namespace ${spec.netns} has an IPv6 default route: ${routes}`);
}

/** Takes the first host's IPv6 address off the lab namespace (a further host's goes with its namespace). */
export function removeHostIpv6(spec: LabHostSpec): void {
    if (spec.netns === NETNS) inLab(["ip", "-6", "addr", "del", `${labIpv6(spec)}/128`, "dev", "mlab1"], { allowFail: true });
}

export function removeHostNetwork(netns: string): void {
    if (netns === NETNS) return;
    sh("ip", ["netns", "del", netns], { allowFail: true });
    fs.rmSync(`/etc/netns/${netns}`, { recursive: true, force: true });
}

/** One record change waiting in LabDns's batch. */
interface PendingChange {
    op: "zone-set" | "zone-unset";
    zone: string;
    name: string;
    args: string[];
    resolve: () => void;
    reject: (e: unknown) => void;
}

/**
 * knot, authoritative for the lab zones, listening only inside the lab namespace. `set` and
 * `unset` write one record in its own transaction, at once (for tests that write directly);
 * `batched` is what the runner writes through: the records it has ready go into one transaction
 * per zone, and each write's promise settles when its record is served (or has failed).
 */
export class LabDns {
    private readonly dir = path.join(WORK_DIR, "knot");
    private readonly socket = path.join(this.dir, "knot.sock");
    private pending: PendingChange[] = [];
    private flushing = false;
    /** knot transactions committed so far (each direct write is one; each batch one per zone). */
    transactions = 0;

    async start(): Promise<void> {
        await this.stop();
        fs.rmSync(this.dir, { recursive: true, force: true });
        fs.mkdirSync(path.join(this.dir, "db"), { recursive: true });
        for (const zone of ZONES) {
            fs.writeFileSync(
                path.join(this.dir, `${zone}.zone`),
                `$ORIGIN ${zone}.\n$TTL 60\n@ SOA ns.${zone}. hostmaster.${zone}. 1 60 60 3600 60\n@ NS ns.${zone}.\nns A ${DNS_ADDR}\n`,
            );
        }
        fs.writeFileSync(
            path.join(this.dir, "knot.conf"),
            [
                "server:",
                `  rundir: ${this.dir}`,
                `  listen: ${DNS_ADDR}@53`,
                // What knot did and why it stopped, for a run that finds it gone.
                "log:",
                `  - target: ${path.join(this.dir, "knot.log")}`,
                "    any: info",
                "control:",
                `  listen: ${this.socket}`,
                "database:",
                `  storage: ${path.join(this.dir, "db")}`,
                "template:",
                "  - id: default",
                `    storage: ${this.dir}`,
                "    zonefile-sync: -1",
                "    journal-content: all",
                "    zonefile-load: whole",
                "zone:",
                ...ZONES.map((z) => `  - domain: ${z}\n    file: ${z}.zone`),
                "",
            ].join("\n"),
        );
        const conf = path.join(this.dir, "knot.conf");
        inLab(["knotd", "-d", "-c", conf]);
        const pidFile = path.join(this.dir, "knot.pid");
        await waitFor("knot's pid file", () => fs.existsSync(pidFile) && fs.readFileSync(pidFile, "utf8").trim() !== "", 15_000);
        recordPid("knotd", Number(fs.readFileSync(pidFile, "utf8").trim()), `-c ${conf}`);
        await waitFor("knot", () => /serial/.test(sh("knotc", ["-s", this.socket, "zone-status", "example.com"], { allowFail: true })), 15_000);
    }

    async stop(): Promise<void> {
        if (fs.existsSync(this.socket)) sh("knotc", ["-s", this.socket, "stop"], { allowFail: true });
        // knotd daemonizes (-d) and writes its pid to <rundir>/knot.pid; that pid was recorded at start.
        await stopRecorded("knotd", 5_000);
    }

    private zoneOf(name: string): string {
        const zone = ZONES.find((z) => name === z || name.endsWith(`.${z}`));
        if (!zone) throw new Error(`no lab zone holds ${name}`);
        return zone;
    }

    private change(op: "zone-set" | "zone-unset", name: string, args: string[]): void {
        const zone = this.zoneOf(name);
        const k = (a: string[]) => sh("knotc", ["-s", this.socket, ...a]);
        k(["zone-begin", zone]);
        try {
            k([op, zone, `${name}.`, ...args]);
            k(["zone-commit", zone]);
            this.transactions++;
        } catch (e) {
            sh("knotc", ["-s", this.socket, "zone-abort", zone], { allowFail: true });
            throw e;
        }
    }

    /**
     * knotc, without blocking the event loop. With `input`, knotc reads one command a line
     * (its interactive mode) and prints one line per command, "OK" or "error: ...". HOME points
     * where nothing exists: interactive knotc saves its whole history file after every command
     * (~6 ms a command here, and it grows in ~/.knotc_history); without a home it saves nothing.
     */
    private knotc(args: string[], input?: string): Promise<string> {
        return new Promise((resolve, reject) => {
            execFileWithInput(
                "knotc",
                ["-s", this.socket, ...args],
                { maxBuffer: 64 << 20, timeout: 120_000, env: { ...process.env, HOME: path.join(this.dir, "no-home") } },
                input ?? "",
                (err, stdout, stderr) =>
                    err ? reject(new Error(`knotc ${args.join(" ")} failed: ${`${stderr}${stdout}`.trim() || err.message}${this.gone()}`)) : resolve(stdout),
            );
        });
    }

    /** When knotd is no longer running: that, and the last lines of its log. */
    private gone(): string {
        const pidFile = path.join(this.dir, "knot.pid");
        const pid = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, "utf8").trim()) : NaN;
        if (Number.isInteger(pid) && cmdlineOf(pid) !== undefined) return "";
        const log = path.join(this.dir, "knot.log");
        const tail = fs.existsSync(log) ? fs.readFileSync(log, "utf8").trimEnd().split("\n").slice(-5).join("\n") : "(no log)";
        return `\nknotd (pid ${pid}) is not running; the end of its log:\n${tail}`;
    }

    /** The records the runner writes, batched (see the class comment). */
    readonly batched: RecordStore = {
        set: (name, type, ttl, content, priority) =>
            this.enqueue("zone-set", name, [String(ttl === 1 ? 300 : ttl), type, ...this.rdata(type, content, priority)]),
        unset: (name, type, content, priority) => this.enqueue("zone-unset", name, [type, ...this.rdata(type, content, priority)]),
    };

    private enqueue(op: PendingChange["op"], name: string, args: string[]): Promise<void> {
        return new Promise((resolve, reject) => {
            const zone = this.zoneOf(name);
            this.pending.push({ op, zone, name, args, resolve, reject });
            if (!this.flushing) {
                this.flushing = true;
                // After the changes made in this turn of the event loop have joined the batch.
                setImmediate(() => void this.flushAll());
            }
        });
    }

    /** Writes what is waiting, a batch at a time; changes that arrive meanwhile make the next batch. */
    private async flushAll(): Promise<void> {
        while (this.pending.length > 0) {
            const batch = this.pending.splice(0);
            for (const zone of new Set(batch.map((c) => c.zone)))
                await this.writeBatch(
                    zone,
                    batch.filter((c) => c.zone === zone),
                );
        }
        this.flushing = false;
    }

    /**
     * One transaction for a zone's changes, in their order. Committed only when every change was
     * accepted; otherwise aborted, and each change is written again in its own transaction, as
     * `set`/`unset` do, so that a change that fails fails alone and with knot's own message.
     */
    private async writeBatch(zone: string, changes: PendingChange[]): Promise<void> {
        // One command a line, each argument one token of knotc's line splitter (libedit's
        // tok_line: shell-like, nothing inside single quotes is special, ' written as '\'').
        const token = (a: string) => `'${a.replace(/'/g, "'\\''")}'`;
        const lineSafe = changes.every((c) => c.args.every((a) => !/[\r\n]/.test(a)));
        if (changes.length > 1 && lineSafe) {
            const input = [`zone-begin ${token(zone)}`, ...changes.map((c) => [c.op, zone, `${c.name}.`, ...c.args].map(token).join(" "))];
            let accepted = false;
            try {
                const lines = (await this.knotc([], `${input.join("\n")}\n`)).split("\n").filter((l) => l !== "");
                accepted = lines.length === input.length && lines.every((l) => l === "OK");
                if (accepted) await this.knotc(["zone-commit", zone]);
            } catch {
                accepted = false;
            }
            if (accepted) {
                this.transactions++;
                for (const c of changes) c.resolve();
                return;
            }
            await this.knotc(["zone-abort", zone]).catch(() => undefined);
        }
        for (const c of changes) {
            try {
                await this.knotc(["zone-begin", zone]);
                try {
                    await this.knotc([c.op, zone, `${c.name}.`, ...c.args]);
                    await this.knotc(["zone-commit", zone]);
                    this.transactions++;
                } catch (e) {
                    await this.knotc(["zone-abort", zone]).catch(() => undefined);
                    throw e;
                }
                c.resolve();
            } catch (e) {
                c.reject(e);
            }
        }
    }

    /** Cloudflare's record fields, as knot rdata (MX targets made absolute). */
    private rdata(type: string, content: string, priority?: number): string[] {
        if (type === "MX") return [`${priority ?? 10}`, `${content.replace(/\.$/, "")}.`];
        return [content];
    }

    set(name: string, type: string, ttl: number, content: string, priority?: number): void {
        this.change("zone-set", name, [String(ttl === 1 ? 300 : ttl), type, ...this.rdata(type, content, priority)]);
    }

    unset(name: string, type: string, content: string, priority?: number): void {
        this.change("zone-unset", name, [type, ...this.rdata(type, content, priority)]);
    }

    /** What the lab server answers, as dig prints it. */
    query(name: string, type: string): string {
        return inLab(["kdig", "+short", `@${DNS_ADDR}`, name, type]).trim();
    }
}

/** The SSH key the runner logs in with, and the host's pinned key. */
export interface LabKeys {
    privateKeyPath: string;
    privateKey: string;
    hostKey: string;
    /** A known_hosts file that pins hostKey for the lab host's address. */
    knownHostsPath: string;
}

/**
 * What a lab host's Postfix is before the stack touches it (parts 1-3 of the guide):
 * - `final`: the domains' final destination (mydestination holds example.com and example.org), as
 *   the single host has always been;
 * - `relay`: only its own name is local; mail for the domains goes to their MX (a relay that sends
 *   the domains' mail, or a second host's outbound);
 * - `backup`: a backup MX: it accepts the domains' mail (relay_domains) and passes it on to the MX
 *   with a lower preference (Postfix does so once it finds itself among the MX hosts).
 */
export type LabPostfixRole = "final" | "relay" | "backup";

/**
 * One mail host: a fresh overlay on the cached root filesystem, booted with systemd as PID 1
 * inside its network namespace (the lab namespace for the first host, a namespace of its own for
 * each further one: labHostSpec). Every boot starts from the same pristine host; a further host
 * gets an SSH host key of its own, pinned in the lab's known_hosts beside the first host's.
 */
/** The cgroup hierarchies systemd uses (hybrid: name=systemd and the unified one; or cgroup v2 alone). */
const CGROUP_HIERARCHIES = ["/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified", "/sys/fs/cgroup"];

export class LabHost {
    private proc?: ChildProcess;
    private runDir = "";
    /** The cgroups it runs in, one per hierarchy, its own. */
    private cgroups: string[] = [];
    merged = "";
    readonly name = `mailauth-${crypto.randomBytes(3).toString("hex")}`;
    /** The host's pinned SSH host key (`ssh-ed25519 AAAA...`): the image's for the first host. */
    hostKey: string;

    constructor(
        private readonly rootfs: string,
        private readonly keys: LabKeys,
        readonly spec: LabHostSpec = labHostSpec(0),
        private readonly postfixRole: LabPostfixRole = spec.index === 0 ? "final" : "relay",
        /** It has an IPv6 address on the lab's links too (labIpv6, addHostIpv6). */
        readonly ipv6 = false,
    ) {
        this.hostKey = keys.hostKey;
    }

    get addr(): string {
        return this.spec.addr;
    }

    get hostname(): string {
        return this.spec.hostname;
    }

    /**
     * Boots the host; once more when its container stopped by itself before SSH and Postfix were up
     * (seen twice in full lab runs on Debian 12: the console showing systemd-halt.service during
     * boot, not reproduced when run again), saying so on stderr with the first boot's error. A boot
     * that times out with the container still running, or fails twice, fails the test.
     */
    async boot(prepare?: (root: string) => void): Promise<void> {
        try {
            await this.bootOnce(prepare);
        } catch (e) {
            const proc = this.proc;
            if (!proc || (proc.exitCode === null && proc.signalCode === null)) throw e;
            process.stderr.write(
                `lab: ${this.spec.hostname}'s container stopped while booting (systemd-nspawn exit ${proc.exitCode ?? proc.signalCode}); booting it again once. ${(e as Error).message}\n`,
            );
            await this.stop();
            await this.bootOnce(prepare);
        }
    }

    private async bootOnce(prepare?: (root: string) => void): Promise<void> {
        this.runDir = fs.mkdtempSync(path.join(WORK_DIR, "host-"));
        const [upper, work] = ["upper", "work"].map((d) => path.join(this.runDir, d));
        this.merged = path.join(this.runDir, "root");
        for (const d of [upper, work, this.merged]) fs.mkdirSync(d);
        sh("mount", ["-t", "overlay", "overlay", "-o", `lowerdir=${this.rootfs},upperdir=${upper},workdir=${work}`, this.merged]);
        const root = this.merged;
        const { addr, hostname } = this.spec;
        const short = hostname.split(".")[0];
        fs.writeFileSync(`${root}/etc/resolv.conf`, `nameserver ${DNS_ADDR}\n`);
        fs.writeFileSync(`${root}/etc/hostname`, `${short}\n`);
        fs.writeFileSync(
            `${root}/etc/hosts`,
            `127.0.0.1 localhost\n${addr} ${hostname} ${short}\n${this.ipv6 ? `${labIpv6(this.spec)} ${hostname} ${short}\n` : ""}`,
        );
        if (this.spec.index > 0) {
            // Its own host key, as a second server has: only ed25519, so that the one pinned is the one it offers.
            for (const f of fs.readdirSync(`${root}/etc/ssh`)) if (f.startsWith("ssh_host_")) fs.rmSync(`${root}/etc/ssh/${f}`);
            sh("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `root@${short}`, "-f", `${root}/etc/ssh/ssh_host_ed25519_key`]);
            this.hostKey = fs.readFileSync(`${root}/etc/ssh/ssh_host_ed25519_key.pub`, "utf8").trim().split(" ").slice(0, 2).join(" ");
            pinHostKey(this.keys, addr, this.hostKey);
            fs.writeFileSync(`${root}/etc/mailname`, `${hostname}\n`);
        }
        fs.mkdirSync(`${root}/root/.ssh`, { recursive: true, mode: 0o700 });
        fs.writeFileSync(`${root}/root/.ssh/authorized_keys`, sh("ssh-keygen", ["-y", "-f", this.keys.privateKeyPath]), { mode: 0o600 });
        fs.writeFileSync(`${root}/etc/ssh/sshd_config.d/lab.conf`, `ListenAddress ${addr}\nPermitRootLogin prohibit-password\nUseDNS no\n`);
        // The mail host of parts 1-3 of the guide: Postfix receiving for both domains (the first
        // host), or a relay or backup MX beside it (LabPostfixRole).
        const destinations = this.postfixRole === "final" ? "$myhostname, localhost, example.com, example.org" : "$myhostname, localhost";
        let mainCf = fs
            .readFileSync(`${root}/etc/postfix/main.cf`, "utf8")
            .replace(/^myhostname = .*$/m, `myhostname = ${hostname}`)
            .replace(/^mydestination = .*$/m, `mydestination = ${destinations}`)
            .replace(/^inet_interfaces = .*$/m, "inet_interfaces = all");
        if (this.postfixRole === "backup") mainCf += "relay_domains = example.com, example.org\n";
        fs.writeFileSync(`${root}/etc/postfix/main.cf`, mainCf);
        prepare?.(root);
        addHostNetwork(this.spec);
        if (this.ipv6) addHostIpv6(this.spec);
        // Each container in a cgroup of its own. With --keep-unit and no systemd on the machine
        // running the lab, nspawn leaves the container in the cgroup it was started in: every
        // container in one, where each one's systemd makes and removes the same
        // system.slice/postfix.service. Seen: a reload of one host's postfix.service failing with
        // status=219/CGROUP while a second host booted (the lab's diagnosis in hosts.test.ts).
        const cgroups = CGROUP_HIERARCHIES.filter((h) => fs.existsSync(`${h}/cgroup.procs`)).map((h) => `${h}/mailauth-lab/${this.name}`);
        this.cgroups = cgroups;
        this.proc = spawn(
            "setsid",
            [
                "sh",
                "-c",
                // Into each cgroup, then nspawn in place of this shell (the pid stays the one spawned).
                `for g in ${cgroups.map((g) => `'${g}'`).join(" ")}; do mkdir -p "$g" && echo $$ >"$g/cgroup.procs" || exit 1; done; exec "$@"`,
                "lab-host",
                "systemd-nspawn",
                "-D",
                root,
                "-b",
                `--machine=${this.name}`,
                "--register=no",
                "--keep-unit",
                "--console=read-only",
                "--resolv-conf=off",
                `--network-namespace-path=/run/netns/${this.spec.netns}`,
            ],
            { stdio: ["ignore", fs.openSync(path.join(this.runDir, "console.log"), "w"), "pipe"] },
        );
        // setsid execs systemd-nspawn in place (the child is no group leader): the pid is nspawn's.
        recordPid(this.name, this.proc.pid!, `-D ${root} `);
        try {
            await waitFor(
                "the lab host's SSH",
                // postfix.service is Debian's oneshot wrapper, active before the master of its
                // instance (postfix@-) runs: `postfix status` asks the master itself.
                () => {
                    // A container that stopped by itself will not come up: said at once, not after the timeout.
                    if (this.proc!.exitCode !== null || this.proc!.signalCode !== null) throw new Error("the lab host's SSH: its container stopped");
                    return (
                        this.ssh("systemctl is-active --quiet postfix ssh && postfix status >/dev/null 2>&1 && echo up", { allowFail: true }).trim() === "up"
                    );
                },
                60_000,
            );
        } catch (e) {
            // What the host's console said, for a boot that never got there.
            const console = path.join(this.runDir, "console.log");
            const tail = fs.existsSync(console) ? fs.readFileSync(console, "utf8").trimEnd().split("\n").slice(-15).join("\n") : "(no console log)";
            const exited = this.proc.exitCode !== null || this.proc.signalCode !== null;
            throw new Error(
                `${(e as Error).message} (${this.spec.hostname} at ${this.spec.addr}${exited ? `; its container stopped: systemd-nspawn exit ${this.proc.exitCode ?? this.proc.signalCode}` : ""}); the end of its console:\n${tail}`,
            );
        }
        // And the rest of the boot: the image's OpenDKIM may still be starting, and a restart the
        // stack asks for meanwhile can end as "Job for opendkim.service canceled" (seen once in a
        // full lab run). A host a user points the stack at has long finished booting.
        this.ssh("systemctl is-system-running --wait >/dev/null || true", { allowFail: true, timeout: 60_000 });
    }

    /** Runs a shell command on the host over SSH as root. */
    ssh(command: string, opts: { input?: string; allowFail?: boolean; timeout?: number } = {}): string {
        return sh("ssh", [...sshOptions(this.keys), `root@${this.spec.addr}`, command], opts);
    }

    /** Runs a command inside the container without SSH (for faults that cut SSH itself). */
    enter(command: string, opts: { allowFail?: boolean } = {}): string {
        const init = sh("pgrep", ["-P", String(this.proc!.pid)])
            .trim()
            .split("\n")[0];
        return sh("nsenter", ["-t", init, "-a", "/bin/sh", "-c", command], opts);
    }

    /** Sends SIGTERM to systemd-nspawn (an orderly halt) and removes the overlay. */
    async stop(): Promise<void> {
        if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) {
            const exited = new Promise((r) => this.proc!.once("exit", r));
            this.proc.kill("SIGTERM");
            await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
            if (this.proc.exitCode === null) this.proc.kill("SIGKILL");
        }
        forgetPid(this.name);
        // Its cgroups, once empty (the container's own below them go with it).
        for (const g of this.cgroups) sh("sh", ["-c", `find '${g}' -depth -type d -exec rmdir {} + 2>/dev/null || true`], { allowFail: true });
        if (this.merged) sh("umount", ["-l", this.merged], { allowFail: true });
        if (this.runDir) fs.rmSync(this.runDir, { recursive: true, force: true });
        if (this.ipv6) removeHostIpv6(this.spec);
        removeHostNetwork(this.spec.netns);
    }
}

export function sshOptions(keys: LabKeys): string[] {
    return [
        "-i",
        keys.privateKeyPath,
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        `UserKnownHostsFile=${keys.knownHostsPath}`,
        "-o",
        "ConnectTimeout=5",
        "-o",
        "LogLevel=ERROR",
    ];
}

/**
 * The cached root filesystem of a release; built (network needed) when missing. Its key is the
 * release and what decides what gets installed: the package step's template, the package lists
 * and the build script. Building one removes the older images of the same release (and the lab's
 * images from before releases were named), never the other release's: CI keeps both.
 */
export function ensureRootfs(packageStep: string, release: LabRelease = labRelease()): string {
    const hash = crypto.createHash("sha256").update(JSON.stringify(OS_FAMILY_FACTS.debian.packages)).update(release);
    for (const f of ["../../templates/packages.sh", "build-rootfs.sh"]) hash.update(fs.readFileSync(path.join(__dirname, f)));
    const name = `rootfs-${release}-${hash.digest("hex").slice(0, 12)}`;
    const rootfs = path.join(CACHE_DIR, name);
    if (fs.existsSync(rootfs)) return rootfs;
    fs.mkdirSync(CACHE_DIR, { recursive: true });
    const otherReleases = Object.keys(LAB_RELEASES).filter((r) => r !== release);
    for (const old of fs.readdirSync(CACHE_DIR)) {
        if (otherReleases.some((r) => old.startsWith(`rootfs-${r}-`))) continue;
        fs.rmSync(path.join(CACHE_DIR, old), { recursive: true, force: true });
    }
    const stepFile = path.join(CACHE_DIR, `package-step-${release}.sh`);
    fs.writeFileSync(stepFile, packageStep);
    sh("bash", [path.join(__dirname, "build-rootfs.sh"), rootfs, stepFile, release], { timeout: 900_000 });
    return rootfs;
}

export function labKeys(rootfs: string): LabKeys {
    fs.mkdirSync(WORK_DIR, { recursive: true });
    const privateKeyPath = path.join(WORK_DIR, "id_ed25519");
    if (!fs.existsSync(privateKeyPath)) sh("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", privateKeyPath]);
    const hostKey = fs.readFileSync(`${rootfs}/etc/ssh/ssh_host_ed25519_key.pub`, "utf8").trim().split(" ").slice(0, 2).join(" ");
    const knownHostsPath = path.join(WORK_DIR, "known_hosts");
    fs.writeFileSync(knownHostsPath, `${HOST_ADDR} ${hostKey}\n`);
    return { privateKeyPath, privateKey: fs.readFileSync(privateKeyPath, "utf8"), hostKey, knownHostsPath };
}

/** Pins `hostKey` for `addr` in the lab's known_hosts, in place of any key pinned for it before. */
export function pinHostKey(keys: LabKeys, addr: string, hostKey: string): void {
    const lines = fs.existsSync(keys.knownHostsPath) ? fs.readFileSync(keys.knownHostsPath, "utf8").split("\n") : [];
    const kept = lines.filter((l) => l !== "" && l.split(" ")[0] !== addr);
    fs.writeFileSync(keys.knownHostsPath, [...kept, `${addr} ${hostKey}`, ""].join("\n"));
}
