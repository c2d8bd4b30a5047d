/**
 * The lab's runner: runs the stack program (index.ts, unchanged) under Pulumi's mocks and makes
 * each resource real. It is not the Pulumi engine; it applies pulumi-command's documented
 * semantics so that the stack's own commands meet a real host:
 *   - tls.PrivateKey: a real RSA key pair, kept while its inputs stay the same;
 *   - cloudflare.DnsRecord: written into (and removed from) the lab's knot zones;
 *   - command.remote.Command: new -> `create`; inputs changed -> `update` (or `create`);
 *     `triggers` changed -> replace (new `create`, then the old `delete`, unless
 *     deleteBeforeReplace); gone -> `delete` with its old inputs, dependents first.
 *     Scripts run over real SSH with their stdin; a non-zero exit fails the run.
 * Resources run in dependency order: the SDK registers a resource only once everything it
 * depends on has been registered, and registration here waits for the real work.
 */
import { execFile } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import { isDeepStrictEqual } from "util";
import * as pulumi from "@pulumi/pulumi";
import { Registered, runProgram, SECRET_SIG } from "../harness";
import { LabDns, LabKeys, sshOptions } from "./lab";

interface StateEntry {
    type: string;
    name: string;
    inputs: Record<string, any>;
    outputs: Record<string, any>;
    /** Names of the resources this one depends on. */
    dependencies: string[];
}

export interface Operation {
    name: string;
    op: "create" | "update" | "replace" | "delete";
    /** Milliseconds spent on the real work. */
    ms: number;
}

export interface UpReport {
    operations: Operation[];
    outputs: Record<string, unknown>;
    /** Command steps that ran a script, in the order they ran. */
    commandsRun: string[];
}

/** Deep copy with Pulumi's secret envelopes removed. */
function plain(v: any): any {
    if (Array.isArray(v)) return v.map(plain);
    if (v && typeof v === "object") {
        if (v[SECRET_SIG] !== undefined) return plain(v.value);
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
    }
    return v;
}

export class RemoteCommandError extends Error {}

export class LabRunner {
    private state: Record<string, StateEntry>;
    /** SSH sessions opened so far (one per script run). */
    sshSessions = 0;

    constructor(
        private readonly statePath: string,
        private readonly dns: LabDns,
        private readonly keys: LabKeys,
    ) {
        this.state = fs.existsSync(statePath) ? JSON.parse(fs.readFileSync(statePath, "utf8")) : {};
    }

    /** Resources in the state, by name. */
    get resources(): Record<string, StateEntry> {
        return this.state;
    }

    private save(): void {
        fs.writeFileSync(this.statePath, JSON.stringify(this.state, null, 1), { mode: 0o600 });
    }

    /** Runs one script on the host the way pulumi-command does: the command over SSH, stdin piped. */
    private remote(connection: Record<string, any>, script: string, stdin?: string): Promise<string> {
        this.sshSessions++;
        const args = [...sshOptions(this.keys), "-p", String(connection.port ?? 22), `${connection.user ?? "root"}@${connection.host}`, script];
        return new Promise((resolve, reject) => {
            const child = execFile("ssh", args, { maxBuffer: 64 << 20, timeout: 600_000 }, (err, stdout, stderr) => {
                if (err) reject(new RemoteCommandError(`remote command failed, exit ${(err as any).code}: ${stderr || stdout}`));
                else resolve(stdout);
            });
            child.stdin!.end(stdin ?? "");
        });
    }

    private async runCommand(inputs: Record<string, any>, which: "create" | "update" | "delete"): Promise<string> {
        const script = which === "update" ? inputs.update ?? inputs.create : inputs[which];
        if (!script) return "";
        return this.remote(inputs.connection, script, which === "delete" ? undefined : inputs.stdin);
    }

    private dnsApply(inputs: Record<string, any>, add: boolean): void {
        if (add) this.dns.set(inputs.name, inputs.type, inputs.ttl, inputs.content, inputs.priority);
        else this.dns.unset(inputs.name, inputs.type, inputs.content, inputs.priority);
    }

    private async destroyEntry(entry: StateEntry): Promise<void> {
        if (entry.type === "command:remote:Command") await this.runCommand(entry.inputs, "delete");
        if (entry.type === "cloudflare:index/dnsRecord:DnsRecord") this.dnsApply(entry.inputs, false);
    }

    /** Deletes entries, each only after every entry that depends on it. */
    private async deleteInOrder(entries: StateEntry[], operations: Operation[]): Promise<void> {
        const left = new Map(entries.map((e) => [e.name, e]));
        while (left.size > 0) {
            const ready = [...left.values()].filter((e) => ![...left.values()].some((o) => o.dependencies.includes(e.name)));
            if (ready.length === 0) throw new Error("dependency cycle among deletes");
            for (const e of ready) {
                const t0 = Date.now();
                await this.destroyEntry(e);
                if (e.type === "command:remote:Command" && e.inputs.delete) operations.push({ name: e.name, op: "delete", ms: Date.now() - t0 });
                left.delete(e.name);
            }
        }
    }

    /** `pulumi up`: run the program with this config and converge the lab to it. */
    async up(config: Record<string, unknown>): Promise<UpReport> {
        const operations: Operation[] = [];
        const commandsRun: string[] = [];
        const next: Record<string, StateEntry> = {};
        const replacedOld: StateEntry[] = [];
        let failure: unknown;
        let failed: (e: unknown) => void = () => {};

        const handle = async (args: pulumi.runtime.MockResourceArgs, reg: Registered) => {
            const inputs = plain(args.inputs);
            const dependencies = reg.dependencies.map((u) => u.split("::").pop()!);
            const old = this.state[args.name];
            let outputs: Record<string, any> = old?.outputs ?? {};
            const same = old && isDeepStrictEqual(old.inputs, inputs);
            const t0 = Date.now();
            try {
                if (args.type === "tls:index/privateKey:PrivateKey" && !same) {
                    const kp = crypto.generateKeyPairSync("rsa", { modulusLength: Number(inputs.rsaBits) });
                    outputs = {
                        privateKeyPem: kp.privateKey.export({ type: "pkcs1", format: "pem" }).toString(),
                        publicKeyPem: kp.publicKey.export({ type: "spki", format: "pem" }).toString(),
                    };
                } else if (args.type === "cloudflare:index/dnsRecord:DnsRecord" && !same) {
                    if (old) this.dnsApply(old.inputs, false);
                    this.dnsApply(inputs, true);
                } else if (args.type === "command:remote:Command" && !same) {
                    const replace = old && !isDeepStrictEqual(old.inputs.triggers, inputs.triggers);
                    if (replace && reg.deleteBeforeReplace) await this.runCommand(old.inputs, "delete");
                    const stdout = await this.runCommand(inputs, old && !replace ? "update" : "create");
                    if (replace && !reg.deleteBeforeReplace) replacedOld.push(old);
                    outputs = { stdout, stderr: "" };
                    commandsRun.push(args.name);
                    operations.push({ name: args.name, op: !old ? "create" : replace ? "replace" : "update", ms: Date.now() - t0 });
                }
            } catch (e) {
                failure ??= e;
                failed(e);
                throw e;
            }
            next[args.name] = { type: args.type, name: args.name, inputs, outputs, dependencies };
            const state: Record<string, any> = { ...args.inputs, ...outputs };
            if (outputs.privateKeyPem) state.privateKeyPem = pulumi.secret(outputs.privateKeyPem);
            return { id: `${args.name}-id`, state };
        };

        let result;
        try {
            // A failed step leaves its dependents' outputs unresolved forever, as a failed engine
            // step would end the update: stop at the first failure.
            result = await Promise.race([
                runProgram(config, { sshPrivateKey: this.keys.privateKey, newResource: handle }),
                new Promise<never>((_, reject) => (failed = reject)),
            ]);
        } catch (e) {
            // Keep what did converge, as the engine does, then report the first real failure.
            this.state = { ...this.state, ...next };
            this.save();
            throw failure ?? e;
        }
        const gone = Object.values(this.state).filter((e) => !next[e.name]);
        this.state = { ...next };
        this.save();
        await this.deleteInOrder([...replacedOld, ...gone], operations);
        return { operations, outputs: result.outputs, commandsRun };
    }

    /** `pulumi destroy`: delete everything, dependents first. */
    async destroy(): Promise<Operation[]> {
        const operations: Operation[] = [];
        await this.deleteInOrder(Object.values(this.state), operations);
        this.state = {};
        this.save();
        return operations;
    }
}
