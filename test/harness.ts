/**
 * Runs the stack program (index.ts, unchanged) under Pulumi's own mocks and records every
 * resource it registers: type, name, inputs, dependencies and secret-output options.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import * as pulumi from "@pulumi/pulumi";
import { effectiveConfig, StackConfig } from "./cli";
import { FakeCloudflare } from "./cloudflare";
import { splitStdinStep } from "../components/hostScripts";
import type { MailHostArgs } from "../components/mailHost";
// Internal to the SDK, but exactly "every outstanding resource RPC has finished".
const { waitForRPCs } = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs: () => Promise<void> };

export const ROOT = path.join(__dirname, "..");
/** Pulumi wraps secret values in this envelope. */
export const SECRET_SIG = "4dabf18193072939515e22adb298388d";

export interface Registered {
    type: string;
    name: string;
    urn: string;
    inputs: Record<string, any>;
    dependencies: string[];
    additionalSecretOutputs: string[];
    deleteBeforeReplace: boolean;
    ignoreChanges: string[];
    /** The URN of the parent; "" for the stack's own children. */
    parent: string;
    /** The URNs this resource claims as its former identities (aliases). */
    aliases: string[];
    /** The id of the existing resource it imports (the `import` resource option), as the mocks receive it. */
    importId?: string;
}

export interface Run {
    resources: Registered[];
    outputs: Record<string, unknown>;
    /** The keys generated for tls.PrivateKey, by resource name: a real pair each. */
    keys: Map<string, { privateKeyPem: string; publicKeyPem: string }>;
}

export function exampleConfig(): Record<string, unknown> {
    const doc = yaml.load(fs.readFileSync(path.join(ROOT, "Pulumi.example.yaml"), "utf8")) as { config: Record<string, unknown> };
    return { ...doc.config };
}

/**
 * The many-domain config of the program's measurements (test/bench/program.js, the counts of
 * program-outputs.test.ts and provider-resources.test.ts): `example.com`, `d0001.example.com`, ...,
 * one zone by id, one selector each; the example stack's other settings.
 */
export function manyDomainsConfig(n: number): Record<string, unknown> {
    return {
        ...exampleConfig(),
        "mailauth:domains": Array.from({ length: n }, (_, i) => ({
            name: i === 0 ? "example.com" : `d${String(i).padStart(4, "0")}.example.com`,
            zoneId: "0".repeat(32),
            selector: "s1",
        })),
    };
}

const testSshKey = crypto.generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
export const TEST_SSH_PRIVATE_KEY = testSshKey;

export function unwrapSecret(v: any): { secret: boolean; value: any } {
    if (v && typeof v === "object" && v[SECRET_SIG] === "1b47061264138c4ac30d75fd1eb44270") return { secret: true, value: v.value };
    return { secret: false, value: v };
}

/**
 * A registered input with every secret envelope in it opened, at any depth: what the provider
 * receives. Checks on a command's text must look at this, not at the envelope (whose String()
 * is "[object Object]").
 */
export function reveal(v: any): any {
    const u = unwrapSecret(v);
    if (u.secret) return reveal(u.value);
    if (Array.isArray(v)) return v.map(reveal);
    if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, reveal(x)]));
    return v;
}

/** Key pairs are slow to make: one per resource name across runs, as a stable provider would keep them. */
const keyCache = new Map<string, { privateKeyPem: string; publicKeyPem: string }>();

/**
 * The outputs a provider computes beyond those the mocks set, as the real one returns them
 * (@pulumi/cloudflare 6.22.1 dnsRecord.d.ts 62-118: the record's times, meta, proxiable, settings,
 * tags; @pulumi/tls 5.6.1 privateKey.d.ts 67-103: the key in OpenSSH and PKCS#8 forms, secret, and
 * its fingerprints), so a program that reads only some of them meets the whole response.
 */
function providerComputed(type: string, state: Record<string, any>): Record<string, unknown> {
    if (type === "cloudflare:index/dnsRecord:DnsRecord") {
        const at = "2026-12-01T00:00:00.000000Z";
        return {
            commentModifiedOn: at,
            createdOn: at,
            modifiedOn: at,
            meta: "{}",
            proxiable: state.type === "A" || state.type === "AAAA" || state.type === "CNAME",
            settings: { flattenCname: false, ipv4Only: false, ipv6Only: false },
            tags: [],
            tagsModifiedOn: at,
            includeShadowMetadata: false,
        };
    }
    if (type === "tls:index/privateKey:PrivateKey") {
        return {
            ecdsaCurve: "P224",
            privateKeyOpenssh: pulumi.secret("-----BEGIN OPENSSH PRIVATE KEY-----\n(mock)\n-----END OPENSSH PRIVATE KEY-----\n"),
            privateKeyPemPkcs8: pulumi.secret("-----BEGIN PRIVATE KEY-----\n(mock)\n-----END PRIVATE KEY-----\n"),
            publicKeyFingerprintMd5: "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff",
            publicKeyFingerprintSha256: "SHA256:mock",
            publicKeyOpenssh: "ssh-rsa AAAA(mock)\n",
        };
    }
    return {};
}

/**
 * A new key pair for a resource name and size. Under `npm test` (test/keys.global.ts) every test
 * file takes it from one directory made for the run, so each name and size is generated once per
 * run, not once per file (each file is its own process): RSA generation is most of a small program
 * run's time (2048 bits: ~0.2-0.3 s; 4096: ~1.2-2 s on this machine).
 */
function newKeyPair(name: string, bits: number, shared = true): { privateKeyPem: string; publicKeyPem: string } {
    const dir = shared ? process.env.MAILAUTH_TEST_KEYS : undefined;
    const file = dir ? path.join(dir, `${name.replace(/[^A-Za-z0-9.-]/g, "_")}-${bits}.json`) : undefined;
    if (file && fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, "utf8"));
    const kp = crypto.generateKeyPairSync("rsa", { modulusLength: bits });
    const pair = {
        privateKeyPem: kp.privateKey.export({ type: "pkcs1", format: "pem" }).toString(),
        publicKeyPem: kp.publicKey.export({ type: "spki", format: "pem" }).toString(),
    };
    if (file) {
        // Whole or not at all: another file may read it at the same moment.
        const tmp = `${file}.${process.pid}`;
        fs.writeFileSync(tmp, JSON.stringify(pair), { mode: 0o600 });
        fs.renameSync(tmp, file);
    }
    return pair;
}

/** What a resource looked like when registered, for a custom newResource (the lab's runner). */
export type ResourceHandler = (args: pulumi.runtime.MockResourceArgs, registered: Registered) => Promise<{ id: string; state: Record<string, any> }>;

export interface RunOptions {
    /** The SSH private key to set; null leaves it unset. Default: a throwaway test key. */
    sshPrivateKey?: string | null;
    /** Replaces the default mocks' newResource. */
    newResource?: ResourceHandler;
    /** Run as `pulumi preview` does: outputs the mocks do not give are unknown. */
    preview?: boolean;
    /** Keys stored encrypted in the stack (`pulumi config set --secret`); the SSH key always is unless given in `config`. */
    secretKeys?: string[];
    /** Answers the provider's invokes; default: a Cloudflare account holding the configured zones, empty. */
    call?: (args: pulumi.runtime.MockCallArgs) => Record<string, any>;
    /** One key pair for every key of the given size (many-domain runs: key generation dominates). */
    shareKeys?: boolean;
    /**
     * Every key is a new pair, as after `pulumi up --replace` on each: unlike any earlier run's, in
     * this file or another. Later runs keep the new pairs, as the provider would.
     */
    replaceKeys?: boolean;
    /**
     * At preview: resources the stack's state already holds, by name, whose outputs the engine then
     * knows (a preview of an existing stack). Their keys are the ones earlier runs made. Default: none,
     * a preview of a new stack.
     */
    inState?: string[];
    /**
     * Called as the default mocks create a resource, with what it gets; the mocks answer once it
     * settles (e.g. test/unit/check-output.test.ts publishes each DNS record to a test DNS server then).
     */
    created?: (args: pulumi.runtime.MockResourceArgs, state: Record<string, any>) => Promise<void> | void;
    /**
     * Arguments given to each MailHost the program makes, by its name, over the program's own
     * (components/mailHost.ts MailHostArgs: `sign`, `skipAddresses`): the host side of several
     * hosts, tested with index.ts as it is.
     */
    mailHostArgs?: (name: string) => Partial<MailHostArgs>;
}

/**
 * How a run loads the program's modules afresh. Under vitest: its module runner is reset, then
 * index.ts imported. test/bench/program.js, which runs the program as the CLI does (Node's own
 * require through ts-node), sets its own.
 */
let programLoader: () => Promise<Record<string, unknown>> = async () => {
    const { vi } = await import("vitest");
    vi.resetModules();
    return import("../index");
};
export function setProgramLoader(load: () => Promise<Record<string, unknown>>): void {
    programLoader = load;
}

export async function runProgram(config: Record<string, unknown>, opts: RunOptions = {}): Promise<Run> {
    // The program turns stack traces off for the process (components/stackTraces.ts); a test file's
    // own assertions after the run get them back.
    const stackTraceLimit = Error.stackTraceLimit;
    try {
        return await run(config, opts);
    } finally {
        Error.stackTraceLimit = stackTraceLimit;
    }
}

async function run(config: Record<string, unknown>, opts: RunOptions): Promise<Run> {
    const resources: Registered[] = [];
    // By type and name: a search of the list per registration made the mocks' own time grow with the square of the resources (3.5 s of a 1,000-domain run).
    const byName = new Map<string, Registered>();
    const keys = new Map<string, { privateKeyPem: string; publicKeyPem: string }>();
    const pending = new Map<string, Partial<Registered>>();
    pulumi.runtime.setMocks(
        {
            async newResource(args: pulumi.runtime.MockResourceArgs) {
                const registered: Registered = {
                    type: args.type,
                    name: args.name,
                    urn: "",
                    inputs: args.inputs,
                    dependencies: [],
                    additionalSecretOutputs: [],
                    deleteBeforeReplace: false,
                    ignoreChanges: [],
                    parent: "",
                    aliases: [],
                    ...(args.id ? { importId: args.id } : {}),
                    ...pending.get(args.name),
                };
                resources.push(registered);
                byName.set(`${args.type}::${args.name}`, registered);
                if (opts.newResource) return opts.newResource(args, registered);
                const state: Record<string, any> = { ...args.inputs };
                if (opts.preview && !opts.inState?.includes(args.name)) {
                    // At preview nothing exists yet: what a provider computes is unknown, as the engine
                    // leaves it (the sources are cited in test/lab/runner.ts, at its preview).
                    if (args.type === "tls:index/privateKey:PrivateKey") Object.assign(state, { privateKeyPem: pulumi.unknown, publicKeyPem: pulumi.unknown });
                    if (args.type === "command:remote:Command") Object.assign(state, { stdout: pulumi.unknown, stderr: pulumi.unknown });
                    Object.assign(state, Object.fromEntries(Object.keys(providerComputed(args.type, state)).map((k) => [k, pulumi.unknown])));
                    return { id: `${args.name}-id`, state };
                }
                if (args.type === "tls:index/privateKey:PrivateKey") {
                    const cacheName = opts.shareKeys ? `shared-${args.inputs.rsaBits}` : args.name;
                    let pair = keyCache.get(cacheName);
                    if (
                        opts.replaceKeys ||
                        !pair ||
                        Number(args.inputs.rsaBits) !== crypto.createPublicKey(pair.publicKeyPem).asymmetricKeyDetails?.modulusLength
                    ) {
                        pair = newKeyPair(cacheName, Number(args.inputs.rsaBits), !opts.replaceKeys);
                        keyCache.set(cacheName, pair);
                    }
                    keys.set(args.name, pair);
                    // As the real provider does: the private key is a secret output.
                    state.privateKeyPem = pulumi.secret(pair.privateKeyPem);
                    state.publicKeyPem = pair.publicKeyPem;
                }
                if (args.type === "command:remote:Command") {
                    // The key test prints a verdict per domain it was given on stdin.
                    state.stdout = /-testkey$/.test(args.name)
                        ? (splitStdinStep(String(args.inputs.create), String(args.inputs.stdin ?? ""))?.stdin ?? String(args.inputs.stdin ?? "")).replace(
                              /^(\S+) (\S+) \S+$/gm,
                              "$1 $2 key OK",
                          )
                        : "";
                    state.stderr = "";
                }
                // Everything else the provider returns (the stack's classes track fewer properties
                // than the generated ones: components/providerResources.ts; the SDK skips the rest).
                Object.assign(state, providerComputed(args.type, state));
                await opts.created?.(args, state);
                return { id: `${args.name}-id`, state };
            },
            call: opts.call ?? FakeCloudflare.forConfig(config).call,
        },
        "mailauth",
        "test",
        opts.preview ?? false,
    );
    // The mocks' newResource does not see dependencies; the monitor's request does.
    const monitor = pulumi.runtime.getMonitor() as any;
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req: any, callback: any) => {
        pending.set(req.getName(), {
            dependencies: req.getDependenciesList(),
            additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
            deleteBeforeReplace: req.getDeletebeforereplace(),
            ignoreChanges: req.getIgnorechangesList(),
            parent: req.getParent(),
            aliases: aliasUrns(req),
        });
        return register(req, (err: any, res: any) => {
            const r = byName.get(`${req.getType()}::${req.getName()}`);
            if (r && res) r.urn = res.getUrn();
            callback(err, res);
        });
    };

    // The stack's configuration goes through the CLI's own steps (test/cli.ts): required keys,
    // Pulumi.yaml defaults, declared types and secrets; a CliError stops the run before the program.
    const stack: StackConfig = { values: { ...config }, secret: new Set(opts.secretKeys ?? []) };
    // The check of the published DNS (components/check) would ask the machine's resolvers about names
    // the mocks made up: off here unless a test sets mailauth:check (test/unit/check-output.test.ts
    // points it at a local DNS server). Users get it on (components/settingsTable.ts CHECK).
    if (!("mailauth:check" in stack.values)) stack.values["mailauth:check"] = { enabled: false };
    const sshKey = opts.sshPrivateKey === undefined ? TEST_SSH_PRIVATE_KEY : opts.sshPrivateKey;
    if (sshKey !== null && stack.values["mailauth:sshPrivateKey"] === undefined) {
        stack.values["mailauth:sshPrivateKey"] = sshKey;
        stack.secret.add("mailauth:sshPrivateKey");
    }
    const { config: all, secretKeys } = effectiveConfig(stack);
    pulumi.runtime.setAllConfig(all, secretKeys);

    const program = await (opts.mailHostArgs ? loadWithHostArgs(opts.mailHostArgs) : programLoader());
    const outputs: Record<string, unknown> = {};
    let failed: { error: unknown } | undefined;
    for (const [k, v] of Object.entries(program)) outputs[k] = await resolve(v).catch((error) => (failed ??= { error }));
    // Outputs can resolve before every resource is registered (one no output depends on):
    // wait, as the engine does, until the SDK has no registration left in flight (also after a
    // failure, so that nothing of this run reaches the next one's mocks).
    await waitForRPCs().catch((error) => (failed ??= { error }));
    if (failed) throw failed.error;
    return { resources, outputs, keys };
}

/** index.ts loaded afresh with each MailHost's arguments changed (RunOptions.mailHostArgs); the mock is gone once it is loaded. */
async function loadWithHostArgs(edit: (name: string) => Partial<MailHostArgs>): Promise<Record<string, unknown>> {
    const { vi } = await import("vitest");
    vi.resetModules();
    vi.doMock("../components/mailHost", async (importOriginal) => {
        const m = await importOriginal<typeof import("../components/mailHost")>();
        class MailHost extends m.MailHost {
            constructor(name: string, args: MailHostArgs, o?: pulumi.ComponentResourceOptions) {
                super(name, { ...args, ...edit(name) }, o);
            }
        }
        return { ...m, MailHost };
    });
    try {
        return await import("../index");
    } finally {
        vi.doUnmock("../components/mailHost");
    }
}

/** The plain value of an output, or a plain value as is; `pulumi.unknown` for one unknown at preview; an output that fails rejects. */
export async function resolve(v: unknown): Promise<unknown> {
    if (pulumi.Output.isInstance(v)) {
        // An unknown output never runs an apply: ask whether it is known first.
        if (!(await (v as any).isKnown)) return pulumi.unknown;
        return new Promise((res, rej) => {
            (v as any).promise().catch(rej);
            (v as pulumi.Output<unknown>).apply((x) => res(x));
        });
    }
    return v;
}

/** Runs the program with pulumi.log.info and warn collected (each message as logged), then puts both back. */
export async function runLogged(config: Record<string, unknown>, opts: RunOptions = {}): Promise<{ run: Run; info: string[]; warn: string[] }> {
    const info: string[] = [];
    const warn: string[] = [];
    const [i, w] = [pulumi.log.info, pulumi.log.warn];
    (pulumi.log as any).info = (m: string) => info.push(m);
    (pulumi.log as any).warn = (m: string) => warn.push(m);
    try {
        return { run: await runProgram(config, opts), info, warn };
    } finally {
        (pulumi.log as any).info = i;
        (pulumi.log as any).warn = w;
    }
}

/** Runs the program and returns the message it (or the CLI before it) stops with. */
export async function programError(config: Record<string, unknown>, opts: RunOptions = {}): Promise<string> {
    try {
        await runProgram(config, opts);
    } catch (e) {
        return (e as Error).message;
    }
    throw new Error("the program accepted the config");
}

/** The text of a file a step stages, from its stdin (`#mailauth-file <name>` framing). */
export function stagedFile(stdin: string, name: string): string {
    const files = new Map<string, string>();
    let current: string | undefined;
    for (const line of stdin.split("\n").slice(0, -1)) {
        if (line.startsWith("#mailauth-file ")) files.set((current = line.slice(15)), "");
        else if (current !== undefined) files.set(current, `${files.get(current)}${line}\n`);
    }
    const text = files.get(name);
    if (text === undefined) throw new Error(`no staged ${name}`);
    return text;
}

/**
 * The URNs a registration names as aliases, computed as the engine does from each alias spec:
 * an unset field means "the same as this resource's" (pulumi/pulumi sdk/nodejs/runtime/resource.ts,
 * the Alias message of proto/pulumi/alias.proto).
 */
function aliasUrns(req: any): string[] {
    const urns: string[] = [...(req.getAliasurnsList?.() ?? [])];
    for (const a of req.getAliasesList?.() ?? []) {
        if (a.getUrn()) {
            urns.push(a.getUrn());
            continue;
        }
        const spec = a.getSpec();
        const stack = spec.getStack() || pulumi.getStack();
        const project = spec.getProject() || pulumi.getProject();
        const type = spec.getType() || req.getType();
        const name = spec.getName() || req.getName();
        const parent = spec.getNoparent() ? "" : spec.getParenturn() || req.getParent();
        const parentTypes = parent ? parent.split("::")[2] : "";
        const chain = parentTypes && !parentTypes.endsWith("pulumi:pulumi:Stack") ? `${parentTypes}$` : "";
        urns.push(`urn:pulumi:${stack}::${project}::${chain}${type}::${name}`);
    }
    return urns;
}

/**
 * The script a step runs: inside `bash -c '...'`, unquoted, or, for a step whose script travels on
 * stdin (components/hostScripts.ts stdinCommandLine), the start of its stdin.
 */
export function scriptOf(commandLine: string, stdin?: unknown): string {
    const split = splitStdinStep(commandLine, typeof stdin === "string" ? stdin : "");
    if (split) return split.script;
    const m = commandLine.match(/^(?:sudo -n )?bash -c '([\s\S]*)'$/);
    if (!m) throw new Error(`not a bash -c command: ${commandLine.slice(0, 80)}`);
    return m[1].replace(/'\\''/g, "'");
}

/**
 * Which resource of the state each resource of a run takes over, as the engine decides it: its own
 * URN if the state holds it, else the first of its aliases the state holds, the aliases including
 * those its parent's matched alias gives it. The engine's own steps (pulumi/pulumi
 * pkg/resource/deploy/step_generator.go at 1b59498: getOldResource 655-713, generateAliases 621-653,
 * inheritedChildAlias 590-619): the SDK sends a resource's own alias specs only (the mocks and the CLI
 * support them: sdk/nodejs/runtime/resource.ts 1079-1085), so a child's inherited alias is the
 * engine's and no registration shows it. Registration order: a parent before its children.
 * Returns new URN -> the state's URN it takes over.
 */
export function stateMatches(
    stateUrns: readonly string[],
    resources: readonly Pick<Registered, "urn" | "name" | "type" | "parent" | "aliases">[],
): Map<string, string> {
    const olds = new Set(stateUrns);
    const matched = new Map<string, string>();
    // sg.aliases: the alias a resource was found by, for its children.
    const foundBy = new Map<string, string>();
    const nameOf = (urn: string) => urn.slice(urn.lastIndexOf("::") + 2);
    const typeOf = (urn: string) => urn.split("::")[2].split("$").pop()!;
    const qualifiedType = (urn: string) => urn.split("::")[2];
    // resource.NewURN(stack, project, parentAlias.QualifiedType(), childType, aliasName).
    const inherited = (childType: string, childName: string, parentName: string, parentAlias: string) => {
        const aliasName = childName.startsWith(parentName) ? nameOf(parentAlias) + childName.slice(parentName.length) : childName;
        const [head, project] = parentAlias.split("::");
        return `${head}::${project}::${qualifiedType(parentAlias)}$${childType}::${aliasName}`;
    };
    for (const r of resources) {
        const aliases = [...r.aliases];
        const parentAlias = r.parent ? foundBy.get(r.parent) : undefined;
        if (parentAlias) {
            aliases.push(inherited(r.type, r.name, nameOf(r.parent), parentAlias));
            for (const a of r.aliases) aliases.push(inherited(typeOf(a), nameOf(a), nameOf(r.parent), parentAlias));
        }
        if (olds.has(r.urn)) {
            matched.set(r.urn, r.urn);
            continue;
        }
        const hit = aliases.find((a) => olds.has(a));
        if (hit) {
            matched.set(r.urn, hit);
            foundBy.set(r.urn, hit);
        }
    }
    return matched;
}

// ---------------------------------------------------------------- the engine's rules for a failing step

/** A resource as the stack's state holds it after an `up`: its inputs (secrets opened) and dependencies. */
export interface StateResource {
    urn: string;
    type: string;
    name: string;
    inputs: Record<string, any>;
    dependencies: string[];
    /** The number of the `up` that created it (a DNS record's created_on, for the next run's zone listing). */
    createdAt: number;
}
/** The state: by URN. */
export type EngineState = Map<string, StateResource>;

/**
 * How `pulumi up` is run. `plain`: stops at the first failure; `continue-on-error`: the flag. `sdk`:
 * `nodejs` (this program's: what the Node.js SDK does with a failed registration, below) or `engine`
 * (the engine's own rules alone, as for an SDK that registers the dependents of a failed resource).
 */
export interface UpOptions {
    mode: "plain" | "continue-on-error";
    sdk?: "nodejs" | "engine";
    /** Whether this step fails when the engine runs it (a create, update or delete: a same step calls no provider). */
    fails: (r: Pick<Registered, "type" | "name" | "urn">, op: "create" | "update" | "delete") => boolean;
    /** The number of this `up` (StateResource.createdAt). */
    up: number;
}

export type StepResult = "create" | "update" | "same" | "failed" | "skipped" | "not-registered" | "not-started" | "delete" | "delete-skipped";

export interface UpResult {
    state: EngineState;
    /** What happened to each resource of the run and of the state. */
    steps: Map<string, StepResult>;
    /** Whether the deletes (performPostSteps) ran at all. */
    deletesRan: boolean;
}

const isComponent = (type: string) => type.startsWith("mailauth:") || type === "pulumi:pulumi:Stack";

/** Inputs as compared: secrets opened, the fields the resource ignores (ignoreChanges) taken from the state's. */
function diffInputs(r: Registered, old: StateResource | undefined): Record<string, any> {
    const inputs = reveal(r.inputs);
    if (old) for (const field of r.ignoreChanges) if (field in old.inputs) inputs[field] = old.inputs[field];
    return inputs;
}

/**
 * One `pulumi up` of a program run (`run`, from runProgram) against `prev`, as the engine and the
 * Node.js SDK carry it out when some steps fail (pulumi/pulumi at 1b5949891b). The program
 * registers each resource once its dependencies have registered (the SDK awaits every dependency's
 * URN first: sdk/nodejs/runtime/resource.ts prepareResource 976-983, runtime/dependsOn.ts
 * gatherExplicitDependencies 23-50 and getAllTransitivelyReferencedResourceURNs, which awaits each
 * `r.urn.promise()`), so the run's registration order is one the engine can follow. For each:
 *
 * - no provider call unless its inputs changed (pkg/resource/deploy/step_generator.go diff
 *   2884-2972: dependencies are no input, a changed dependency list alone is a same step);
 * - a failed update leaves the state's old resource (its old inputs and dependencies) in place, a
 *   failed create nothing (pkg/backend/snapshot.go updateSnapshotMutation.End 493-503): the next
 *   `up` tries again;
 * - a resource depending on a failed (or skipped) one: under the Node.js SDK it is never
 *   registered, because the engine reports the failure (RegisterResourceResponse.result FAIL or
 *   SKIP, source_eval.go 3208-3221) and the SDK rejects the failed resource's URN
 *   (runtime/resource.ts 789-796), which the dependent's registration awaits; under the engine's
 *   own rules it is registered and skipped (deployment_executor.go doesStepDependOn 559-575,
 *   handleSingleEvent 630-651). Either way it keeps its old state;
 * - plain `up`: the first failure cancels the step executor, no new step starts
 *   (step_executor.go cancelDueToError 435-462, executeChain 404-431); which independent steps had
 *   started by then depends on timing, so here every step that does not depend on a failed one
 *   runs (the most that can have run).
 *
 * Then the deletes of what the state holds and the run did not register (performPostSteps 446-556):
 * - plain `up` after a failure: none (the main loop returns at the canceled context before it
 *   reaches performPostSteps, deployment_executor.go 318-323, 332);
 * - `--continue-on-error` under the Node.js SDK after a failure: none either. The dependent whose
 *   registration rejected is an unhandled rejection (runtime/resource.ts runAsyncResourceOp
 *   1400-1432), so the program exits non-zero without calling SignalAndWaitForShutdown
 *   (sdk/nodejs/cmd/run/index.ts 27-85, beforeExitHandler 131-139: "could lead to many (or all) of
 *   the user resources being deleted"); the source iterator ends with that error (source_eval.go
 *   337-347) and the executor bails before performPostSteps (deployment_executor.go 292-304);
 * - `--continue-on-error` under the engine's rules: every delete but those of resources that an
 *   errored step's new or old resource depends on, transitively (deployment_executor.go 513-552).
 */
export function simulateUp(prev: EngineState, run: Run, opts: UpOptions): UpResult {
    const sdk = opts.sdk ?? "nodejs";
    const state: EngineState = new Map(prev);
    const steps = new Map<string, StepResult>();
    // Failed, skipped, not registered or not started: what depends on them does not run.
    const blocked = new Set<string>();
    const errored: { res: string[]; old: string[] }[] = [];
    const registered = new Set<string>();
    for (const r of run.resources) {
        registered.add(r.urn);
        const old = prev.get(r.urn);
        if (r.dependencies.some((d) => blocked.has(d))) {
            blocked.add(r.urn);
            steps.set(r.urn, opts.mode === "plain" ? "not-started" : sdk === "nodejs" ? "not-registered" : "skipped");
            if (opts.mode !== "plain" && sdk === "nodejs") registered.delete(r.urn);
            continue;
        }
        const inputs = diffInputs(r, old);
        const op = isComponent(r.type) ? "same" : !old ? "create" : JSON.stringify(inputs) === JSON.stringify(old.inputs) ? "same" : "update";
        if (op !== "same" && opts.fails(r, op)) {
            blocked.add(r.urn);
            steps.set(r.urn, "failed");
            errored.push({ res: r.dependencies, old: old?.dependencies ?? [] });
            continue;
        }
        steps.set(r.urn, op);
        state.set(r.urn, { urn: r.urn, type: r.type, name: r.name, inputs, dependencies: r.dependencies, createdAt: old?.createdAt ?? opts.up });
    }
    const failed = errored.length > 0;
    const deletesRan = !failed || (opts.mode === "continue-on-error" && sdk === "engine");
    const candidates = [...prev.keys()].filter((urn) => !registered.has(urn) && !steps.has(urn));
    if (!deletesRan) return { state, steps, deletesRan };
    // What the errored steps depend on, transitively through the state (the deployment's dependency graph).
    const held = new Set<string>();
    const walk = (urn: string) => {
        if (held.has(urn)) return;
        held.add(urn);
        for (const d of prev.get(urn)?.dependencies ?? []) walk(d);
    };
    for (const e of errored) for (const d of [...e.res, ...e.old]) walk(d);
    for (const urn of candidates) {
        const old = prev.get(urn)!;
        if (held.has(urn)) {
            steps.set(urn, "delete-skipped");
        } else if (opts.fails(old, "delete")) {
            steps.set(urn, "failed");
        } else {
            steps.set(urn, "delete");
            state.delete(urn);
        }
    }
    return { state, steps, deletesRan };
}
