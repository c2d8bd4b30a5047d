/**
 * The lab's runner: runs the stack program (index.ts, unchanged) under Pulumi's mocks and makes
 * each resource real. It is not the Pulumi engine; it imitates the engine's and the providers'
 * behaviour where the stack meets it, each rule read from their sources (cited below; pulumi/pulumi
 * pkg/resource/deploy at the 3.27x line, pulumi-command v1.2.1, pulumi-go-provider v1.3.0, the
 * version pulumi-command 1.2.1 builds with):
 *   - tls.PrivateKey: a real RSA key pair; any input change replaces it.
 *   - cloudflare.DnsRecord: written into (and removed from) the lab's knot zones; a change is
 *     applied in place.
 *   - command.remote.Command: new -> `create`; inputs changed -> `update`, or else `create`;
 *     `triggers` changed -> replace; gone -> `delete` run from the state: the old script, the old
 *     connection and the old stdin. Scripts run over real SSH with their stdin; a non-zero exit
 *     fails the step.
 *   - State is written after every step, as the engine's snapshot is. A failed create records
 *     nothing; a failed update keeps the old state; a resource stays in state until its delete
 *     succeeds, so a failed delete is retried by the next run.
 *   - Replacement: create the new, then delete the old at the end of the run (the old is kept
 *     as a pending delete until then); with deleteBeforeReplace, delete the old first and keep it
 *     as "pending replacement" until the create succeeds, so a failed create is retried without
 *     running the delete twice.
 *   - The first failed step stops the run: no new step starts, steps in flight finish and are
 *     recorded, and no delete runs. With `continueOnError` (`pulumi up --continue-on-error`) a
 *     failed step stops only what depends on it: every other step still runs (pulumi/pulumi
 *     v3.260.0 pkg/resource/deploy/step_executor.go cancelDueToError ~435-460: the step is
 *     recorded as errored, the deployment not cancelled; deployment_executor.go ~630-645: steps
 *     that depend on an errored one are skipped). The run then fails naming every failed step
 *     (FailedSteps). Deletes are not run after a failure here (the engine runs those that do not
 *     depend on an errored step, deployment_executor.go ~510-545, once the program has finished).
 *   - ignoreChanges: the old value of each listed input is put back before anything is compared or
 *     sent, except for a resource targeted by `replace` (`--replace`), which is checked against its
 *     new inputs only (pulumi/pulumi pkg/resource/deploy/step_generator.go ~1264-1268, ~1325-1331);
 *     and any replacement (a pending one retried too) is created from the program's inputs (~2002-2022).
 *   - At most 4 x cores scripts at once: the CLI's default `--parallel`
 *     (pulumi/pulumi pkg/cmd/pulumi/operations/up.go ~71-73).
 *   - SSH: every command dials its own client (pulumi-command v1.2.1
 *     provider/pkg/provider/remote/commandOutputs.go:31 `c.Connection.Dial`), runs one session on
 *     it (36-40: only the session is closed, `defer session.Close()`) and never closes the client:
 *     it stays connected and logged in until the provider process ends with the run. Here each
 *     client is held open the same way and closed when `up`, `preview` or `destroy` returns;
 *     `openSessions`/`peakOpenSessions` count them. A failed dial is retried as the provider does
 *     (connection.go:150-187 dialWithRetry, DialErrorLimit default 10 at :32 and :73; delays from
 *     pulumi/pulumi sdk/go/common/util/retry/until.go: 100 ms, x1.5, at most 5 s).
 *   - Preview runs nothing and changes nothing; a value the provider computes (key material, a
 *     command's stdout) is unknown for a resource that would be created, replaced or updated.
 * Resources run in dependency order: the SDK registers a resource only once everything it
 * depends on has been registered, and registration here waits for the real work.
 */
import { execFile, spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { isDeepStrictEqual } from "util";
import * as pulumi from "@pulumi/pulumi";
import { Registered, runProgram, SECRET_SIG } from "../harness";
import { FakeCloudflare } from "../cloudflare";
import { parseNow } from "../../components/rotation";
import { execFileWithInput, LabKeys, sshOptions } from "./lab";

const PRIVATE_KEY = "tls:index/privateKey:PrivateKey";
const DNS_RECORD = "cloudflare:index/dnsRecord:DnsRecord";
const COMMAND = "command:remote:Command";
/** How the SDK passes an unknown value over its RPC; kept as this string inside the runner. */
const UNKNOWN = pulumi.runtime.unknownValue;

export interface StateEntry {
    type: string;
    name: string;
    inputs: Record<string, any>;
    outputs: Record<string, any>;
    /** Names of the resources this one depends on. */
    dependencies: string[];
    /** Replaced (create-before-delete); its delete has not succeeded yet (the engine's `delete: true`). */
    delete?: boolean;
    /**
     * Deleted as the first half of a delete-before-replace whose create has not succeeded yet
     * (the engine's `pendingReplacement`): the next run creates it without deleting it again.
     */
    pendingReplacement?: boolean;
}

export type Op = "create" | "update" | "replace" | "delete";

export interface Operation {
    name: string;
    op: Op;
    /** Milliseconds spent on the real work. */
    ms: number;
}

export interface UpReport {
    /** The command steps that ran (or would run) a script, in the order they ran. */
    operations: Operation[];
    outputs: Record<string, unknown>;
    /** Command steps that ran a script, in the order they ran. */
    commandsRun: string[];
    /** Every resource the run changed (any type), in the order the changes were made. */
    steps: { name: string; type: string; op: Op }[];
}

/**
 * What the runner writes records into: the lab's knot server (its batched writer, LabDns.batched),
 * or a fake in unit tests. A write is done when it returns or its promise resolves: only then is
 * the record served, and only then does the runner record it in state.
 */
export interface RecordStore {
    set(name: string, type: string, ttl: number, content: string, priority?: number): void | Promise<void>;
    unset(name: string, type: string, content: string, priority?: number): void | Promise<void>;
}

/** Runs one script on the host named by `connection`, `stdin` piped in: real SSH, or a fake. */
export type RemoteExec = (connection: Record<string, any>, script: string, stdin: string) => Promise<{ stdout: string; stderr: string }>;

/** Deep copy with Pulumi's secret envelopes removed and unknowns (preview) as UNKNOWN. */
function plain(v: any): any {
    if (pulumi.isUnknown(v)) return UNKNOWN;
    if (Array.isArray(v)) return v.map(plain);
    if (v && typeof v === "object") {
        if (v[SECRET_SIG] !== undefined) return plain(v.value);
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
    }
    return v;
}

export class RemoteCommandError extends Error {}

/**
 * A `continueOnError` run in which steps failed: every failed step by name with its error, and
 * what the run did meanwhile (the steps that ran and the commands among them).
 */
export class FailedSteps extends Error {
    constructor(
        readonly failed: { name: string; error: unknown }[],
        readonly report: Pick<UpReport, "operations" | "commandsRun" | "steps">,
    ) {
        super(`${failed.length} step(s) failed: ${failed.map((f) => `${f.name}: ${(f.error as Error)?.message ?? String(f.error)}`).join("; ")}`);
    }
}

/**
 * One SSH client (pulumi-command's `*ssh.Client` from Connection.Dial): logged in once, it runs a
 * command in a session of its own and stays connected until `close`.
 */
export interface RemoteClient {
    exec(script: string, stdin: string): Promise<{ stdout: string; stderr: string }>;
    close(): Promise<void>;
}

/** Dials and logs in one client to the host named by `connection`; rejects when the host refuses it. */
export type RemoteDial = (connection: Record<string, any>) => Promise<RemoteClient>;

/** A remote that dials clients, or a bare exec (each script its own client, nothing to hold). */
export type Remote = RemoteExec | { dial: RemoteDial };

/** Dials a client: the error after every attempt failed, as the provider words it (connection.go:160-162). */
export class DialError extends Error {}

/** The provider's dial limit (connection.go:32, dialErrorDefault 10) and retry.Until's delays (until.go). */
export const DIAL_ERROR_LIMIT = 10;
export function dialDelayMs(attempt: number): number {
    return Math.min(100 * 1.5 ** attempt, 5000);
}

let controlSeq = 0;
/** One directory of control sockets for the process, removed when it exits. */
let controlDir: string | undefined;
function controlSocket(): string {
    if (!controlDir) {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mailauth-ssh-"));
        process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
        controlDir = dir;
    }
    return path.join(controlDir, `c${controlSeq++}`);
}

/**
 * The lab's remote: the OpenSSH client with the lab's key and its pinned host key. Each client is an
 * OpenSSH control master (`-M -N -f`: it goes to the background once logged in, ssh(1) -f), which
 * holds its TCP connection and its login on the host until `close` (`-O exit`), as the provider
 * holds each of its clients; every command runs as a session of its own master (`-S`).
 */
export function opensshExec(keys: LabKeys): RemoteExec & { dial: RemoteDial } {
    const dial: RemoteDial = (connection) => {
        const target = [`-p`, String(connection.port ?? 22), `${connection.user ?? "root"}@${connection.host}`];
        const socket = controlSocket();
        // A master left behind by a killed test dies once the host is gone (keepalives).
        const master = [
            ...sshOptions(keys),
            "-o",
            "ServerAliveInterval=15",
            "-o",
            "ServerAliveCountMax=4",
            "-o",
            "ControlPersist=no",
            "-M",
            "-S",
            socket,
            "-N",
            "-f",
            ...target,
        ];
        return new Promise((resolve, reject) => {
            // -f: the parent exits once logged in, its background child keeps the connection
            // (its stdio on /dev/null: OpenSSH ssh.c fork_postauth). 'exit', not 'close': the
            // child may hold the pipe a moment longer.
            let stderr = "";
            const child = spawn("ssh", master, { stdio: ["ignore", "ignore", "pipe"] });
            child.stderr!.on("data", (d) => (stderr += d));
            child.on("error", reject);
            child.on("exit", (code) => {
                if (code !== 0) {
                    reject(new RemoteCommandError(`ssh: connect to ${connection.host} failed, exit ${code}: ${stderr.trim()}`));
                    return;
                }
                resolve({
                    exec: (script, stdin) =>
                        new Promise((res, rej) => {
                            const args = [...sshOptions(keys), "-o", "ControlMaster=no", "-S", socket, ...target, script];
                            execFileWithInput("ssh", args, { maxBuffer: 64 << 20, timeout: 600_000 }, stdin ?? "", (err, stdout, stderr) => {
                                if (err) rej(new RemoteCommandError(`remote command failed, exit ${(err as any).code}: ${stderr || stdout}`));
                                else res({ stdout, stderr });
                            });
                        }),
                    close: () =>
                        new Promise<void>((res) => {
                            execFile("ssh", [...sshOptions(keys), "-S", socket, "-O", "exit", ...target], { timeout: 30_000 }, () => res());
                        }),
                });
            });
        });
    };
    // As a bare exec (a test that wraps it): one client per script, closed after it.
    const exec: RemoteExec = async (connection, script, stdin) => {
        const client = await dial(connection);
        try {
            return await client.exec(script, stdin);
        } finally {
            await client.close();
        }
    };
    return Object.assign(exec, { dial });
}

export class LabRunner {
    private entries: StateEntry[];
    /** SSH clients dialed and logged in so far (one per script run, as the provider dials one per command). */
    sshSessions = 0;
    /** Logged-in SSH clients held open now: the provider closes none before the run ends. */
    openSessions = 0;
    /** The most clients held open at once, over this runner's life. */
    peakOpenSessions = 0;
    /** Dials that failed and were retried (the host refused or dropped the connection). */
    dialRetries = 0;
    /** SSH clients dialed so far, by the connection's host (each mail host of a stack has its own). */
    sessionsByHost: Record<string, number> = {};
    /** The most clients held open at once to each host, over this runner's life. */
    peakOpenByHost: Record<string, number> = {};
    private openByHost: Record<string, number> = {};
    /** The clients of the run in progress, closed when it ends. */
    private held: RemoteClient[] = [];
    /** Config keys stored encrypted, as `pulumi config set --secret` keeps them (mailauth:dkimKeys, say). */
    secretKeys: string[] = [];
    /** Bytes sent to the host so far: every script and its stdin. */
    bytesSent = 0;
    /** Scripts running, and those waiting for a place (the CLI's default `--parallel`). */
    private running = 0;
    private readonly waiting: (() => void)[] = [];
    readonly parallel = 4 * os.cpus().length;
    private readonly dialer: RemoteDial;

    constructor(
        readonly statePath: string,
        private readonly dns: RecordStore,
        private readonly keys: Pick<LabKeys, "privateKey"> & Partial<LabKeys>,
        exec?: Remote,
        /** The program to run: the stack's own by default (test/harness.ts runProgram). */
        private readonly program: typeof runProgram = runProgram,
    ) {
        this.entries = fs.existsSync(statePath) ? JSON.parse(fs.readFileSync(statePath, "utf8")) : [];
        for (const e of this.entries) if (!e.delete && !this.liveByName.has(e.name)) this.liveByName.set(e.name, e);
        const remote = exec ?? opensshExec(keys as LabKeys);
        this.dialer = !("dial" in remote)
            ? async (connection) => ({ exec: (script, stdin) => remote(connection, script, stdin), close: async () => {} })
            : remote.dial;
    }

    /**
     * The Cloudflare account the program's zone check lists, as Cloudflare would answer it: the
     * configured zones holding every record this runner's state has made (the provider's records,
     * with the stack's comment), so a run sees the records earlier runs created, as a real
     * `pulumi up` does. Records written into the lab DNS by hand are not in it: they are not
     * Cloudflare's.
     */
    private cloudflare(config: Record<string, unknown>): FakeCloudflare {
        const cf = FakeCloudflare.forConfig(config);
        cf.clock = () => this.clock;
        for (const e of this.liveByName.values()) {
            if (e.type !== DNS_RECORD || e.delete) continue;
            const zone = cf.zones.find((z) => z.id === e.inputs.zoneId);
            if (!zone) continue;
            cf.addRecord(zone.name, {
                name: e.inputs.name,
                type: e.inputs.type,
                content: e.inputs.content,
                comment: typeof e.inputs.comment === "string" ? e.inputs.comment : null,
                ...(e.inputs.priority !== undefined ? { priority: e.inputs.priority } : {}),
                // As the provider's create and update left them (a state without them: made now, the cautious reading).
                ...(typeof e.outputs.createdOn === "string" ? { createdOn: e.outputs.createdOn } : {}),
                ...(typeof e.outputs.modifiedOn === "string" ? { modifiedOn: e.outputs.modifiedOn } : {}),
            });
        }
        return cf;
    }

    /** Dials a client as Connection.Dial does: retried with the provider's delays, up to its limit. */
    private async dial(connection: Record<string, any>): Promise<RemoteClient> {
        const limit = typeof connection.dialErrorLimit === "number" ? connection.dialErrorLimit : DIAL_ERROR_LIMIT;
        for (let attempt = 0; ; attempt++) {
            try {
                return await this.dialer(connection);
            } catch (e) {
                // dials = try + 1; the error once dials > limit (connection.go:159-162); -1: no limit.
                if (limit !== -1 && attempt + 1 > limit) throw new DialError(`after ${attempt} failed attempts: ${(e as Error).message}`);
                this.dialRetries++;
                await new Promise((r) => setTimeout(r, dialDelayMs(attempt)));
            }
        }
    }

    /** Closes every client the run held open: the provider's process ends with the run. */
    private async closeAll(): Promise<void> {
        const held = this.held;
        this.held = [];
        await Promise.allSettled(held.map((c) => c.close()));
        this.openSessions -= held.length;
        this.openByHost = {};
    }

    /** Live resources in the state, by name (pending deletes left out). */
    get resources(): Record<string, StateEntry> {
        return Object.fromEntries(this.entries.filter((e) => !e.delete).map((e) => [e.name, e]));
    }

    /** Every entry of the state, pending deletes included, as the state file holds them. */
    get state(): StateEntry[] {
        return this.entries.map((e) => ({ ...e }));
    }

    /**
     * The engine writes its snapshot after every step; this writes the whole state as JSON at the
     * end of every run (`flush`) and, within a run, at most once per 250 ms or per ten times the
     * last write's duration, whichever is longer. A write after each step made a 1,000-domain
     * converge quadratic here (some 8,000 writes of a state of tens of MB), and so did a write
     * every 250 ms: the number of writes grows with the run's length and each write with the
     * state (300 domains: 23% of the runner's time in writes). Spacing writes by their own cost
     * keeps them under a tenth of the run at any size. Within a run the state in memory is the
     * truth; a process killed mid-run loses at most the steps of the last interval.
     */
    private save(): void {
        this.dirty = true;
        this.saveTimer ??= setTimeout(() => this.flush(), Math.max(250, 10 * this.lastWriteMs));
    }

    private dirty = false;
    private saveTimer?: NodeJS.Timeout;
    /** How long the last write of the state took, in ms. */
    private lastWriteMs = 0;
    /** Writes of the state file so far. */
    stateWrites = 0;

    private flush(): void {
        if (this.saveTimer) clearTimeout(this.saveTimer);
        this.saveTimer = undefined;
        if (!this.dirty) return;
        this.dirty = false;
        const t0 = process.hrtime.bigint();
        fs.writeFileSync(this.statePath, JSON.stringify(this.entries, null, 1), { mode: 0o600 });
        this.lastWriteMs = Number(process.hrtime.bigint() - t0) / 1e6;
        this.stateWrites++;
    }

    /**
     * The live entry of each name, and where each entry sits in `entries`: maps, not searches of
     * the state, which made a step's bookkeeping grow with the state (quadratic at 1,000 domains).
     */
    private readonly liveByName = new Map<string, StateEntry>();
    /**
     * Cloudflare's clock in this run (ms): the calendar's `mailauth:now` when set, else the real one,
     * so that a record's createdOn (which the signing gate reads, components/signingGate.ts) lines up
     * with the dates a rotation scenario runs on, as it would on those days.
     */
    private clock = Date.now();
    private positions?: Map<StateEntry, number>;

    private live(name: string): StateEntry | undefined {
        return this.liveByName.get(name);
    }

    /** Marks a replaced entry as a pending delete (the engine's `delete: true`). */
    private condemn(entry: StateEntry): void {
        entry.delete = true;
        if (this.liveByName.get(entry.name) === entry) this.liveByName.delete(entry.name);
    }

    /** Puts `entry` where `old` was (or at the end) and writes the state. */
    private commit(old: StateEntry | undefined, entry: StateEntry): void {
        if (!this.positions) this.positions = new Map(this.entries.map((e, i) => [e, i]));
        const i = old ? (this.positions.get(old) ?? -1) : -1;
        if (i >= 0) {
            this.entries[i] = entry;
            this.positions.delete(old!);
            this.positions.set(entry, i);
        } else {
            this.positions.set(entry, this.entries.push(entry) - 1);
        }
        if (old && this.liveByName.get(old.name) === old) this.liveByName.delete(old.name);
        if (!entry.delete && !this.liveByName.has(entry.name)) this.liveByName.set(entry.name, entry);
        this.save();
    }

    private drop(entry: StateEntry): void {
        this.entries = this.entries.filter((e) => e !== entry);
        this.positions = undefined;
        if (this.liveByName.get(entry.name) === entry) {
            this.liveByName.delete(entry.name);
            // Another live entry of that name, if the state holds one, is now the first.
            const next = this.entries.find((e) => e.name === entry.name && !e.delete);
            if (next) this.liveByName.set(entry.name, next);
        }
        this.save();
    }

    /**
     * Runs a command's script as pulumi-command's CommandOutputs.run does
     * (provider/pkg/provider/remote/commandOutputs.go): stdin only when non-empty (73-75),
     * stdout and stderr kept with one trailing newline trimmed (103-106).
     */
    private async run(inputs: Record<string, any>, script: string): Promise<{ stdout: string; stderr: string }> {
        if (this.running >= this.parallel) await new Promise<void>((r) => this.waiting.push(r));
        this.running++;
        let result: { stdout: string; stderr: string };
        try {
            const client = await this.dial(inputs.connection);
            this.sshSessions++;
            this.held.push(client);
            this.openSessions++;
            this.peakOpenSessions = Math.max(this.peakOpenSessions, this.openSessions);
            const host = String(inputs.connection?.host);
            this.sessionsByHost[host] = (this.sessionsByHost[host] ?? 0) + 1;
            this.openByHost[host] = (this.openByHost[host] ?? 0) + 1;
            this.peakOpenByHost[host] = Math.max(this.peakOpenByHost[host] ?? 0, this.openByHost[host]);
            this.bytesSent += Buffer.byteLength(script) + Buffer.byteLength(inputs.stdin ?? "");
            try {
                result = await client.exec(script, inputs.stdin ?? "");
            } catch (e) {
                // The engine names the resource and the provider the host; for the lab's own
                // diagnosis, a unit that failed to start brings its journal's end (a flake seen once in CI).
                if (!(e instanceof RemoteCommandError)) throw e;
                const unit = /Job for (\S+) failed/.exec(e.message)?.[1];
                const journal = unit
                    ? await client
                          .exec(`journalctl -u ${unit} -n 30 --no-pager 2>&1; systemctl status ${unit} --no-pager -l 2>&1 | tail -n 20`, "")
                          .then((r) => `\n--- the lab's diagnosis: ${unit} on ${host} ---\n${r.stdout}`)
                          .catch(() => "")
                    : "";
                throw new RemoteCommandError(`on ${host}: ${e.message}${journal}`);
            }
        } finally {
            this.running--;
            this.waiting.shift()?.();
        }
        const { stdout, stderr } = result;
        return { stdout: stdout.replace(/\n$/, ""), stderr: stderr.replace(/\n$/, "") };
    }

    private async dnsApply(inputs: Record<string, any>, add: boolean): Promise<void> {
        if (add) await this.dns.set(inputs.name, inputs.type, inputs.ttl, inputs.content, inputs.priority);
        else await this.dns.unset(inputs.name, inputs.type, inputs.content, inputs.priority);
    }

    /** The provider's create. Returns the outputs it computes. */
    private async create(type: string, inputs: Record<string, any>): Promise<Record<string, any>> {
        if (type === PRIVATE_KEY) {
            // Made off the event loop (libuv's thread pool), as the provider makes keys in its own
            // process while the engine runs other steps. generateKeyPairSync here held the event
            // loop for every key in turn: at 1,000 domains (~0.3-0.5 s a key on this machine) no
            // script or record could start for minutes.
            return new Promise((resolve, reject) =>
                crypto.generateKeyPair(
                    "rsa",
                    {
                        modulusLength: Number(inputs.rsaBits),
                        publicKeyEncoding: { type: "spki", format: "pem" },
                        privateKeyEncoding: { type: "pkcs1", format: "pem" },
                    },
                    (err, publicKeyPem, privateKeyPem) => (err ? reject(err) : resolve({ privateKeyPem, publicKeyPem })),
                ),
            );
        }
        if (type === DNS_RECORD) {
            await this.dnsApply(inputs, true);
            // The record's times as Cloudflare gives them back (types/output.d.ts DnsRecord createdOn, modifiedOn).
            const made = new Date(this.clock).toISOString();
            return { createdOn: made, modifiedOn: made };
        }
        // commandController.go Create (31-60): nothing to run without `create`; stdout stays empty.
        if (type === COMMAND && inputs.create) return this.run(inputs, inputs.create);
        if (type === COMMAND) return { stdout: "", stderr: "" };
        return {};
    }

    /** The provider's update. */
    private async update(old: StateEntry, inputs: Record<string, any>): Promise<Record<string, any>> {
        if (old.type === DNS_RECORD) {
            // One after the other: a failed removal leaves the new value unwritten, as before.
            await this.dnsApply(old.inputs, false);
            await this.dnsApply(inputs, true);
        }
        if (old.type === DNS_RECORD) return { ...old.outputs, modifiedOn: new Date(this.clock).toISOString() };
        if (old.type === COMMAND) {
            // commandController.go Update (63-83): `update`, or else `create`; with neither, the
            // old stdout and stderr are kept (70).
            const script = inputs.update ?? inputs.create;
            return script ? this.run(inputs, script) : { stdout: old.outputs.stdout ?? "", stderr: old.outputs.stderr ?? "" };
        }
        return old.outputs;
    }

    /**
     * The provider's delete, from the state alone. pulumi-command's Delete
     * (commandController.go 86-92) runs the stored `delete` through props.run, where props is the
     * stored state: the old connection, and the old stdin (commandOutputs.go 73-75).
     */
    private async remove(entry: StateEntry): Promise<boolean> {
        if (entry.type === COMMAND && entry.inputs.delete) {
            await this.run(entry.inputs, entry.inputs.delete);
            return true;
        }
        if (entry.type === DNS_RECORD) await this.dnsApply(entry.inputs, false);
        return false;
    }

    /**
     * Whether a change of inputs replaces the resource. pulumi-command: `triggers` is
     * replaceOnChanges in the provider's schema (provider/pkg/provider/common/inputs.go 10) and the
     * Node SDK adds replaceOnChanges `triggers[*]` (@pulumi/command remote/command.js 132), so any
     * change of triggers replaces; every other input updates in place. pulumi-tls (bridged from
     * hashicorp/terraform-provider-tls internal/provider/resource_private_key.go): every input of
     * PrivateKey is RequiresReplace and its Update is a no-op; an RSA key's PEM is PKCS#1, as here.
     */
    private replaces(type: string, old: Record<string, any>, inputs: Record<string, any>): boolean {
        if (type === PRIVATE_KEY) return true;
        if (type === COMMAND) return !isDeepStrictEqual(old.triggers, inputs.triggers);
        return false;
    }

    /**
     * Deletes entries, each only after every entry that depends on it (the engine's
     * ScheduleDeletes, step_generator.go ~2747-2795, run one at a time here). Each entry leaves the
     * state as soon as its delete succeeds; a failed delete stops and leaves it (and every entry not
     * yet deleted) in the state.
     */
    private async deleteInOrder(entries: StateEntry[], operations: Operation[], steps: UpReport["steps"]): Promise<void> {
        const left = new Set(entries);
        while (left.size > 0) {
            // Ready: no other entry left depends on it. Counted once per round, not searched per
            // entry (a search per entry made a 1,000-domain destroy quadratic in every round).
            const dependents = new Map<string, number>();
            for (const o of left) for (const d of new Set(o.dependencies)) dependents.set(d, (dependents.get(d) ?? 0) + 1);
            const ready = [...left].filter((e) => (dependents.get(e.name) ?? 0) - (e.dependencies.includes(e.name) ? 1 : 0) === 0);
            if (ready.length === 0) throw new Error("dependency cycle among deletes");
            for (const e of ready) {
                const t0 = Date.now();
                // A delete-before-replace already ran this one's delete (step.go ~760-785);
                // the engine only drops it (RemovePendingReplaceStep, step_generator.go ~2427-2432).
                const ran = e.pendingReplacement ? false : await this.remove(e);
                this.drop(e);
                left.delete(e);
                if (ran) operations.push({ name: e.name, op: "delete", ms: Date.now() - t0 });
                if (e.type === COMMAND || e.type === DNS_RECORD || e.type === PRIVATE_KEY) {
                    steps.push({ name: e.name, type: e.type, op: "delete" });
                }
            }
        }
    }

    /**
     * `pulumi up`: run the program with this config and converge the lab to it. `replace` names
     * resources to replace whatever their diff, as `pulumi up --replace <urn>` does.
     */
    async up(config: Record<string, unknown>, opts: { replace?: string[]; continueOnError?: boolean } = {}): Promise<UpReport> {
        try {
            return await this.deploy(config, false, new Set(opts.replace), opts.continueOnError ?? false);
        } finally {
            this.flush();
            await this.closeAll();
        }
    }

    /**
     * `pulumi preview`: what `up` would do, with nothing run and nothing changed. Outputs the
     * providers compute are unknown where the engine leaves them unknown.
     */
    async preview(config: Record<string, unknown>, opts: { replace?: string[] } = {}): Promise<UpReport> {
        try {
            return await this.deploy(config, true, new Set(opts.replace));
        } finally {
            await this.closeAll();
        }
    }

    private async deploy(config: Record<string, unknown>, preview: boolean, targeted: Set<string>, continueOnError = false): Promise<UpReport> {
        const now = typeof config["mailauth:now"] === "string" ? parseNow(config["mailauth:now"]) : undefined;
        this.clock = now ?? Date.now();
        const operations: Operation[] = [];
        const commandsRun: string[] = [];
        const steps: UpReport["steps"] = [];
        const seen = new Set<string>();
        const inFlight = new Set<Promise<unknown>>();
        let failure: unknown;
        /** Every failed step (continueOnError; otherwise the first). */
        const failedSteps: { name: string; error: unknown }[] = [];
        let failed: (e: unknown) => void = () => {};

        const step = async (args: pulumi.runtime.MockResourceArgs, reg: Registered, goal: Record<string, any>): Promise<Record<string, any>> => {
            let inputs = plain(args.inputs);
            const dependencies = reg.dependencies.map((u) => u.split("::").pop()!);
            const old = this.live(args.name);
            seen.add(args.name);
            const entry = (outputs: Record<string, any>): StateEntry => ({ type: args.type, name: args.name, inputs, outputs, dependencies });
            const record = (op: Op) => steps.push({ name: args.name, type: args.type, op });

            // Components and unchanged resources: the engine's SameStep keeps the old outputs.
            const same = old && !old.pendingReplacement && !targeted.has(args.name) && isDeepStrictEqual(old.inputs, inputs);
            if (!args.custom || same) {
                if (!preview) this.commit(old, entry(old?.outputs ?? {}));
                return old?.outputs ?? {};
            }
            const replace = old && (old.pendingReplacement || targeted.has(args.name) || this.replaces(args.type, old.inputs, inputs));
            const op: Op = !old ? "create" : replace ? "replace" : "update";
            if (op === "replace") {
                // A replacement is made from the program's inputs: ignoreChanges decided the diff but
                // does not carry into the new resource (step_generator.go ~2002-2022: Check again
                // with goal.Properties; a targeted replace already had them, ~1325-1333).
                args.inputs = goal;
                inputs = plain(goal);
            }
            const runs = args.type === COMMAND && (op === "update" ? (inputs.update ?? inputs.create) : inputs.create);

            if (preview) {
                // Nothing runs at preview. pulumi-command's Create and Update return at once
                // (commandController.go 44-46, 71-73) and pulumi-go-provider marks every output that
                // does not echo an input as computed: always on create, on update when an input
                // changed (infer/resource.go markComputed ~545-590, ensureDefaultComputed ~743-752).
                // pulumi-tls leaves the key's computed attributes unknown until it is created.
                record(op);
                if (runs) operations.push({ name: args.name, op, ms: 0 });
                if (args.type === COMMAND) return { stdout: UNKNOWN, stderr: UNKNOWN };
                if (args.type === PRIVATE_KEY) return { privateKeyPem: UNKNOWN, publicKeyPem: UNKNOWN };
                return {};
            }

            const t0 = Date.now();
            let outputs: Record<string, any>;
            if (op === "create") {
                outputs = await this.create(args.type, inputs);
                this.commit(undefined, entry(outputs));
            } else if (op === "update") {
                outputs = await this.update(old!, inputs);
                this.commit(old, entry(outputs));
            } else if (reg.deleteBeforeReplace) {
                // Delete first, from the old state; then the old stays in state as pending
                // replacement until the create succeeds (step_generator.go ~2075-2150, step.go
                // ~760-785). A failed delete leaves it as it was, to be retried.
                if (!old!.pendingReplacement) {
                    await this.remove(old!);
                    old!.pendingReplacement = true;
                    this.save();
                }
                outputs = await this.create(args.type, inputs);
                this.commit(old, entry(outputs));
            } else {
                // Create first; the old becomes a pending delete, deleted after every other step
                // (step.go ~466-472; step_generator.go ~2390-2420).
                outputs = await this.create(args.type, inputs);
                this.condemn(old!);
                this.commit(undefined, entry(outputs));
            }
            record(op);
            if (runs) {
                commandsRun.push(args.name);
                operations.push({ name: args.name, op, ms: Date.now() - t0 });
            }
            return outputs;
        };

        const handle = async (args: pulumi.runtime.MockResourceArgs, reg: Registered) => {
            // The engine cancels the deployment at the first failed step: nothing new starts
            // (step_executor.go executeChain ~404-432, cancelDueToError ~435-460).
            // With continueOnError only what depends on a failed step stops, and the SDK never
            // registers that (its dependency's registration failed).
            if (failure !== undefined && !continueOnError) throw new Error(`${args.name} not started: an earlier step failed`);
            // ignoreChanges: the old values go back into the inputs the step compares and sends.
            const old = this.live(args.name);
            const goal = { ...args.inputs };
            if (old && !targeted.has(args.name)) {
                for (const p of reg.ignoreChanges) if (p in old.inputs) args.inputs[p] = old.inputs[p];
            }
            const work = step(args, reg, goal);
            inFlight.add(work);
            let outputs: Record<string, any>;
            try {
                outputs = await work;
            } catch (e) {
                failure ??= e;
                failedSteps.push({ name: args.name, error: e });
                if (!continueOnError) failed(e);
                throw e;
            } finally {
                inFlight.delete(work);
            }
            const state: Record<string, any> = { ...args.inputs, ...outputs };
            if (typeof outputs.privateKeyPem === "string" && outputs.privateKeyPem !== UNKNOWN) state.privateKeyPem = pulumi.secret(outputs.privateKeyPem);
            return { id: `${args.name}-id`, state };
        };

        let result;
        try {
            // A failed step leaves its dependents' outputs unresolved forever, as a failed engine
            // step would end the update: stop at the first failure.
            result = await Promise.race([
                this.program(config, {
                    sshPrivateKey: this.keys.privateKey,
                    newResource: handle,
                    preview,
                    call: this.cloudflare(config).call,
                    secretKeys: this.secretKeys,
                }),
                new Promise<never>((_, reject) => (failed = reject)),
            ]);
        } catch (e) {
            // Steps already running finish and are recorded, as the engine waits for them
            // (deployment_executor.go ~355, stepExec.WaitForCompletion); then the first failure.
            while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
            // What those steps gave the SDK it passes on (a component's registerOutputs once its
            // children's outputs resolve) in callbacks still queued: let them reach this run's mocks.
            // The engine ends the program process; here it lives on, and the next run's mocks would
            // get them ("unknown resource").
            for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
            if (continueOnError && failedSteps.length > 0) throw new FailedSteps(failedSteps, { operations, commandsRun, steps });
            throw failure ?? e;
        }
        if (continueOnError && failedSteps.length > 0) throw new FailedSteps(failedSteps, { operations, commandsRun, steps });
        // After every step: deletes of what the program no longer has and of replaced resources
        // (pending deletes), dependents first (step_generator.go GenerateDeletes ~2370-2440).
        const condemned = this.entries.filter((e) => e.delete || !seen.has(e.name));
        if (preview) {
            for (const e of condemned) {
                if (e.type === COMMAND && e.inputs.delete && !e.pendingReplacement) operations.push({ name: e.name, op: "delete", ms: 0 });
                if (e.type === COMMAND || e.type === DNS_RECORD || e.type === PRIVATE_KEY) steps.push({ name: e.name, type: e.type, op: "delete" });
            }
        } else {
            await this.deleteInOrder(condemned, operations, steps);
        }
        return { operations, outputs: result.outputs, commandsRun, steps };
    }

    /** `pulumi destroy`: delete everything, dependents first, each leaving the state as it goes. */
    async destroy(): Promise<Operation[]> {
        const operations: Operation[] = [];
        try {
            await this.deleteInOrder([...this.entries], operations, []);
        } finally {
            this.flush();
            await this.closeAll();
        }
        return operations;
    }
}
