/**
 * The lab's runner (test/lab/runner.ts) against a fake host and a fake DNS: it must treat state,
 * failures, deletes and preview as the Pulumi engine and pulumi-command do (sources cited there),
 * or lab scenarios pass that users would fail.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exampleConfig, runProgram, scriptOf, TEST_SSH_PRIVATE_KEY } from "../../harness";
import { splitStdinStep } from "../../../components/hostScripts";
import { FakeCloudflare } from "../../cloudflare";
import { DIAL_ERROR_LIMIT, FailedSteps, LabRunner, RecordStore, RemoteClient, RemoteExec } from "../runner";
import { dkimPublicKey, dkimRecordValue } from "../../../components/records/dkim";

interface Call {
    /** The template the script was built from (packages, dkim-key, opendkim-delete, ...). */
    step: string;
    domain?: string;
    host: string;
    stdin: string;
}

/** A host that records every script it is given and fails or delays the ones a test picks. */
class FakeHost {
    calls: Call[] = [];
    fail: (c: Call) => boolean = () => false;
    delayMs: (c: Call) => number = () => 0;
    /** Awaited when a call starts, before its delay: lets a test order calls that run side by side. */
    before: (c: Call) => Promise<void> | void = () => {};

    exec: RemoteExec = async (connection, commandLine, commandStdin) => {
        // A step whose script travels on stdin (components/hostScripts.ts stdinCommandLine): the script's own stdin follows it.
        const split = splitStdinStep(commandLine, commandStdin);
        const script = split?.script ?? scriptOf(commandLine);
        const stdin = split?.stdin ?? commandStdin;
        const call: Call = {
            step: script.match(/# mailauth step: (\S+)/)![1],
            // Key steps name their key file (/etc/opendkim/keys/<domain>/<selector>.private), others the domain.
            domain: script.match(/^DOMAIN='([^']+)'/m)?.[1] ?? script.match(/^KEY_FILE='[^']*\/keys\/([^/']+)\//m)?.[1],
            host: connection.host,
            stdin,
        };
        this.calls.push(call);
        await this.before(call);
        await new Promise((r) => setTimeout(r, this.delayMs(call)));
        if (this.fail(call)) throw new Error(`remote command failed, exit 1: ${call.step} failed`);
        // The key test prints a verdict for each `<domain> <selector> <digest>` line of its stdin.
        if (call.step === "testkey") return { stdout: stdin.replace(/^(\S+) (\S+) \S+$/gm, "$1 $2 key OK"), stderr: "" };
        return { stdout: "", stderr: "" };
    };

    ran(step: string, domain?: string): Call[] {
        return this.calls.filter((c) => c.step === step && (domain === undefined || c.domain === domain));
    }
}

/** A zone store that, like knot's zone-unset, refuses to remove a record that is not there. */
class FakeDns implements RecordStore {
    records = new Set<string>();
    set(name: string, type: string, _ttl: number, content: string): void {
        this.records.add(`${name} ${type} ${content}`);
    }
    unset(name: string, type: string, content: string): void {
        if (!this.records.delete(`${name} ${type} ${content}`)) throw new Error(`no such record: ${name} ${type}`);
    }
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mailauth-runner-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
let n = 0;

function fresh(): { runner: LabRunner; host: FakeHost; dns: FakeDns; statePath: string } {
    const host = new FakeHost();
    const dns = new FakeDns();
    const statePath = path.join(dir, `state-${n++}.json`);
    return { runner: new LabRunner(statePath, dns, { privateKey: TEST_SSH_PRIVATE_KEY }, host.exec), host, dns, statePath };
}

const config = exampleConfig;
/** State and records after `up` of the example stack, shared: each test starts from a copy. */
let deployedState = "";
let deployedRecords: string[] = [];
beforeAll(async () => {
    const { runner, dns, statePath } = fresh();
    await runner.up(config());
    deployedState = fs.readFileSync(statePath, "utf8");
    deployedRecords = [...dns.records];
});
function deployed(): ReturnType<typeof fresh> {
    const statePath = path.join(dir, `state-${n++}.json`);
    fs.writeFileSync(statePath, deployedState);
    const host = new FakeHost();
    const dns = new FakeDns();
    for (const r of deployedRecords) dns.records.add(r);
    return { runner: new LabRunner(statePath, dns, { privateKey: TEST_SSH_PRIVATE_KEY }, host.exec), host, dns, statePath };
}
/** The example stack with only its first domain (example.com). */
function oneDomain(patch: Record<string, unknown> = {}): Record<string, unknown> {
    const c = exampleConfig();
    c["mailauth:domains"] = (c["mailauth:domains"] as unknown[]).slice(0, 1);
    return { ...c, ...patch };
}
function rotated(): Record<string, unknown> {
    const c = exampleConfig();
    const [com, org] = c["mailauth:domains"] as Record<string, unknown>[];
    c["mailauth:domains"] = [{ ...com, selector: "20270601", previousSelectors: ["20261127"] }, org];
    return c;
}
const KEYS = "mailhost-keys";
/** The example stack without the key test: its step is deleted. */
const noTestKey = (patch: Record<string, unknown> = {}) => ({ ...config(), "mailauth:testKey": { enabled: false }, ...patch });

describe("the lab's runner, as the engine and pulumi-command behave", () => {
    it("the zone check lists the records earlier runs made, as Cloudflare keeps them (before: an empty account every run)", async () => {
        const { runner } = deployed();
        const seen: string[] = [];
        // The program's zone check asks for the zone's records through the provider's data source.
        const cf = (runner as unknown as { cloudflare(c: Record<string, unknown>): FakeCloudflare }).cloudflare(config());
        for (const r of cf.zone("example.com").records) seen.push(`${r.name} ${r.type}`);
        expect(seen).toEqual(expect.arrayContaining(["example.com MX", "example.com TXT", "_dmarc.example.com TXT", "20261127._domainkey.example.com TXT"]));
        expect(cf.zone("example.com").records.every((r) => /^mailauth:/.test(r.comment ?? ""))).toBe(true);
        // A repeat passes the zone check against them (its own records) and changes nothing.
        const again = await runner.up(config());
        expect(again.commandsRun).toEqual([]);
    });

    it("dates each record as Cloudflare would on the run's mailauth:now: created at its create, modified at its update", async () => {
        const { runner } = fresh();
        const zoneOf = () => (runner as unknown as { cloudflare(c: Record<string, unknown>): FakeCloudflare }).cloudflare(config()).zone("example.com");
        await runner.up({ ...config(), "mailauth:now": "2026-11-28" });
        const dkim = () => zoneOf().records.find((r) => r.name === "20261127._domainkey.example.com")!;
        expect([dkim().createdOn, dkim().modifiedOn]).toEqual(["2026-11-28T00:00:00.000Z", "2026-11-28T00:00:00.000Z"]);
        // A changed TTL updates every record in place: created stays, modified moves.
        await runner.up({ ...config(), "mailauth:now": "2026-12-01T06:00:00Z", "mailauth:ttl": 600 });
        expect([dkim().createdOn, dkim().modifiedOn]).toEqual(["2026-11-28T00:00:00.000Z", "2026-12-01T06:00:00.000Z"]);
    });

    it("runs a delete from state: the old script, the old connection and the old stdin", async () => {
        const { runner, host } = deployed();
        const old = runner.resources["mailhost-testkey"].inputs;
        // pulumi-command keeps stdout with its trailing newline trimmed.
        expect(runner.resources["mailhost-testkey"].outputs.stdout).toBe("example.com 20261127 key OK\nexample.org 20261127 key OK");

        // The key test goes and, in the same run, the host moves: its delete still goes to the old one.
        const moved = noTestKey({ "mailauth:ssh": { ...(config()["mailauth:ssh"] as object), host: "192.0.2.26" } });
        await runner.up(moved);
        const [del] = host.ran("testkey-delete");
        expect(del.stdin).toBe(old.stdin);
        expect(del.host).toBe("192.0.2.25");
        expect(host.ran("opendkim").at(-1)!.host).toBe("192.0.2.26");
    });

    it("keeps a resource in state until its delete succeeds, and the next run retries it", async () => {
        const { runner, host } = deployed();
        host.fail = (c) => c.step === "testkey-delete";
        await expect(runner.up(noTestKey())).rejects.toThrow(/testkey-delete failed/);
        expect(Object.keys(runner.resources)).toContain("mailhost-testkey");

        host.fail = () => false;
        const report = await runner.up(noTestKey());
        expect(host.ran("testkey-delete")).toHaveLength(2);
        expect(report.operations.map((o) => `${o.op} ${o.name}`)).toEqual(["delete mailhost-testkey"]);
        expect(Object.keys(runner.resources)).not.toContain("mailhost-testkey");
    });

    it("destroy drops each resource from state as it deletes it; a failed destroy resumes where it stopped", async () => {
        const { runner, host, dns, statePath } = deployed();
        host.fail = (c) => c.step === "opendkim-delete";
        await expect(runner.destroy()).rejects.toThrow(/opendkim-delete failed/);
        // The next `pulumi destroy` is a new process: it reads the state file.
        const next = new LabRunner(statePath, dns, { privateKey: TEST_SSH_PRIVATE_KEY }, host.exec);
        const left = Object.keys(next.resources);
        expect(left).not.toContain("mailhost-postfix");
        expect(left).not.toContain("mailhost-testkey");
        expect(left).toContain("mailhost-opendkim");
        expect(left).toContain(KEYS);

        host.fail = () => false;
        await next.destroy();
        expect(host.ran("postfix-delete")).toHaveLength(1);
        expect(host.ran("opendkim-delete")).toHaveLength(2);
        expect(host.ran("dkim-key-delete")).toHaveLength(1);
        expect(Object.keys(next.resources)).toEqual([]);
    });

    it("stops at the first failure: a failed create records nothing, a step in flight finishes and is recorded", async () => {
        const { runner, host } = fresh();
        host.fail = (c) => c.step === "postfix";
        // The retire step is running (and takes a while) when Postfix's fails: both follow OpenDKIM's.
        let retireStarted!: () => void;
        const retireRunning = new Promise<void>((r) => (retireStarted = r));
        host.before = (c) => {
            if (c.step === "dkim-key-retire") retireStarted();
            return c.step === "postfix" ? retireRunning : undefined;
        };
        host.delayMs = (c) => (c.step === "dkim-key-retire" ? 400 : 0);
        await expect(runner.up(config())).rejects.toThrow(/postfix failed/);
        host.before = () => {};
        expect(Object.keys(runner.resources)).toContain("mailhost-keys-retire");
        expect(Object.keys(runner.resources)).not.toContain("mailhost-postfix");
        expect(host.ran("testkey")).toEqual([]);

        host.fail = () => false;
        const report = await runner.up(config());
        expect(host.ran("dkim-key-retire")).toHaveLength(1);
        expect(host.ran("postfix")).toHaveLength(2);
        expect(report.commandsRun).toEqual(["mailhost-postfix", "mailhost-testkey"]);
    });

    it("with continueOnError (pulumi up --continue-on-error) a failed step stops only what depends on it, and the run names it", async () => {
        // The retire step fails while Postfix's (beside it, after OpenDKIM's) is still running.
        const failRetire = (host: FakeHost) => {
            host.fail = (c) => c.step === "dkim-key-retire";
            host.delayMs = (c) => (c.step === "postfix" ? 300 : 0);
        };
        // Without: the key test, which follows Postfix's, never starts.
        const plainRun = fresh();
        failRetire(plainRun.host);
        await expect(plainRun.runner.up(config())).rejects.toThrow(/dkim-key-retire failed/);
        expect(plainRun.host.ran("testkey")).toEqual([]);

        const { runner, host } = fresh();
        failRetire(host);
        const error = await runner.up(config(), { continueOnError: true }).catch((e) => e);
        expect(error).toBeInstanceOf(FailedSteps);
        expect((error as FailedSteps).failed.map((f) => f.name)).toEqual(["mailhost-keys-retire"]);
        expect((error as FailedSteps).message).toMatch(/^1 step\(s\) failed: mailhost-keys-retire: remote command failed, exit 1: dkim-key-retire failed/);
        expect(host.ran("testkey")).toHaveLength(1);
        expect((error as FailedSteps).report.commandsRun).toContain("mailhost-testkey");
        expect(Object.keys(runner.resources)).not.toContain("mailhost-keys-retire");

        host.fail = () => false;
        const report = await runner.up(config(), { continueOnError: true });
        expect(report.commandsRun).toEqual(["mailhost-keys-retire"]);
    });

    it("a failed update keeps the old state, so the next run updates again", async () => {
        const { runner, host } = deployed();
        const before = runner.resources["mailhost-opendkim"].inputs.create;
        const changed = { ...config(), "mailauth:opendkim": { reportAddress: "postmaster@example.com", trustedHosts: ["192.0.2.0/25"] } };
        host.fail = (c) => c.step === "opendkim";
        await expect(runner.up(changed)).rejects.toThrow(/opendkim failed/);
        expect(runner.resources["mailhost-opendkim"].inputs.create).toBe(before);
        host.fail = () => false;
        expect((await runner.up(changed)).operations.map((o) => `${o.op} ${o.name}`)).toEqual(["update mailhost-opendkim"]);
    });

    it("a delete-first replacement deletes from state, and a failed create is retried without a second delete", async () => {
        const { runner, host } = deployed();
        host.fail = (c) => c.step === "opendkim";
        await expect(runner.up(config(), { replace: ["mailhost-opendkim"] })).rejects.toThrow(/opendkim failed/);
        expect(host.ran("opendkim-delete")).toHaveLength(1);
        expect(runner.state.find((e) => e.name === "mailhost-opendkim")!.pendingReplacement).toBe(true);

        host.fail = () => false;
        const report = await runner.up(config());
        expect(report.operations.map((o) => `${o.op} ${o.name}`)).toEqual(["replace mailhost-opendkim"]);
        expect(host.ran("opendkim-delete")).toHaveLength(1);
        expect(runner.state.find((e) => e.name === "mailhost-opendkim")!.pendingReplacement).toBeUndefined();
    });

    it("a replacement without deleteBeforeReplace creates first; the old one leaves the state at the end", async () => {
        const { runner } = deployed();
        const key = "example.org-20261127-rsa";
        const report = await runner.up(config(), { replace: [key] });
        expect(report.steps.filter((s) => s.name === key).map((s) => s.op)).toEqual(["replace", "delete"]);
        expect(runner.state.filter((e) => e.name === key)).toHaveLength(1);
        expect(report.outputs.testKey).toEqual({ "example.com": "key OK", "example.org": "key OK" });
    });

    it("a replaced key is not published; the keys step gets it on stdin with the record's own p=, for the host to refuse", async () => {
        const { runner, host, dns } = deployed();
        const records = [...dns.records].sort();
        const key = "example.org-20261127-rsa";
        const before = runner.resources[key].outputs.privateKeyPem;
        const header = (inputs: Record<string, any>) =>
            splitStdinStep(inputs.create, inputs.stdin)!
                .stdin.split("\n")
                .find((l) => l.includes("/example.org/"))!
                .split(" ");
        const published = dkimPublicKey(dkimRecordValue(runner.resources[key].outputs.publicKeyPem));
        expect(header(runner.resources[KEYS].inputs).slice(4)).toEqual([published, published]);
        await runner.up(config(), { replace: [key] });
        const after = runner.resources[key].outputs.privateKeyPem;
        expect(after).not.toBe(before);
        expect([...dns.records].sort()).toEqual(records);
        // The keys step ran with the new key, and the p= its record still publishes beside the new key's own.
        expect(host.ran("dkim-key")).toHaveLength(1);
        expect(host.ran("dkim-key")[0].stdin).toContain(after);
        expect(header(runner.resources[KEYS].inputs).slice(4)).toEqual([published, dkimPublicKey(dkimRecordValue(runner.resources[key].outputs.publicKeyPem))]);
        expect(published).not.toBe(dkimPublicKey(dkimRecordValue(runner.resources[key].outputs.publicKeyPem)));
    });

    it("previews without running or changing anything; key material and stdout are unknown until created", async () => {
        const { runner, host, dns, statePath } = fresh();
        const first = await runner.preview(config());
        expect(host.calls).toEqual([]);
        expect(dns.records.size).toBe(0);
        expect(fs.existsSync(statePath)).toBe(false);
        expect(first.steps.length).toBeGreaterThan(15);
        expect(new Set(first.steps.map((s) => s.op))).toEqual(new Set(["create"]));
        expect(pulumi.isUnknown(first.outputs.testKey)).toBe(true);
        expect(pulumi.isUnknown(first.outputs.records)).toBe(true);
        expect(first.outputs.selectors).toEqual({ "example.com": { active: "20261127", previous: [] }, "example.org": { active: "20261127", previous: [] } });

        const { runner: after, host: afterHost } = deployed();
        const again = await after.preview(config());
        expect(again.steps).toEqual([]);
        expect(again.outputs.testKey).toEqual({ "example.com": "key OK", "example.org": "key OK" });

        const rotation = await after.preview(rotated());
        const plan = rotation.steps.map((s) => `${s.op} ${s.name}`);
        expect(plan).toEqual(
            expect.arrayContaining([
                "create example.com-20270601-rsa",
                "create example.com-dkim-20270601",
                "update mailhost-keys",
                "update mailhost-opendkim",
                "update mailhost-keys-retire",
                "update mailhost-testkey",
            ]),
        );
        expect(pulumi.isUnknown(rotation.outputs.testKey)).toBe(true);
        expect(afterHost.calls).toEqual([]);
    });
});

/**
 * A zone store that answers later, as the lab's batched knot writer does: a write is done when
 * its promise resolves. It notes any record the runner put in state before its write was done.
 */
class LaterDns extends FakeDns {
    runner?: LabRunner;
    recordedEarly: string[] = [];
    refuse: (name: string) => boolean = () => false;
    async set(name: string, type: string, ttl: number, content: string): Promise<void> {
        await new Promise((r) => setTimeout(r, 20));
        const inState = Object.values(this.runner!.resources).some(
            (e) => e.type === "cloudflare:index/dnsRecord:DnsRecord" && e.inputs.name === name && e.inputs.content === content,
        );
        if (inState) this.recordedEarly.push(name);
        if (this.refuse(name)) throw new Error(`refused: ${name}`);
        super.set(name, type, ttl, content);
    }
}

describe("the lab's runner, with writes that finish later (the lab's batched DNS)", () => {
    it("records a record only once its write is done, starts the key test only after, and a refused write fails the run", async () => {
        const host = new FakeHost();
        const dns = new LaterDns();
        const statePath = path.join(dir, `state-${n++}.json`);
        let recordsAtKeyTest: string[] = [];
        const exec: RemoteExec = async (connection, commandLine, stdin) => {
            if (commandLine.endsWith(" mailauth-testkey")) recordsAtKeyTest = [...dns.records];
            return host.exec(connection, commandLine, stdin);
        };
        const runner = new LabRunner(statePath, dns, { privateKey: TEST_SSH_PRIVATE_KEY }, exec);
        dns.runner = runner;

        // The DKIM record of example.org is refused: the run fails with it, and it is not in state.
        dns.refuse = (name) => name === "20261127._domainkey.example.org";
        await expect(runner.up(config())).rejects.toThrow(/refused: 20261127._domainkey.example.org/);
        expect(Object.values(runner.resources).some((e) => e.inputs.name === "20261127._domainkey.example.org")).toBe(false);
        expect(host.ran("testkey")).toEqual([]);

        // The next run writes it, then tests the keys against both records.
        dns.refuse = () => false;
        const report = await runner.up(config());
        expect(report.outputs.testKey).toEqual({ "example.com": "key OK", "example.org": "key OK" });
        expect(dns.recordedEarly).toEqual([]);
        expect(recordsAtKeyTest.filter((r) => r.includes("._domainkey."))).toHaveLength(2);
        const names = (records: Iterable<string>) => [...records].map((r) => r.split(" ").slice(0, 2).join(" ")).sort();
        expect(names(dns.records)).toEqual(names(deployedRecords));
    });
});

describe("the unit harness at preview", () => {
    it("leaves key material and command output unknown, and the program still builds every resource", async () => {
        const preview = await runProgram(exampleConfig(), { preview: true });
        // Every resource `up` made (the runner's state after up) is registered at preview too.
        const upNames = (JSON.parse(deployedState) as { name: string }[]).map((e) => e.name);
        expect(preview.resources.map((r) => r.name).sort()).toEqual(upNames.sort());
        expect(preview.keys.size).toBe(0);
        expect(pulumi.isUnknown(preview.outputs.testKey)).toBe(true);
        // The DKIM record's content comes from the key: unknown at preview, as the engine shows it.
        const dkim = preview.resources.find((r) => r.name === "example.com-dkim-20261127")!;
        expect(pulumi.isUnknown(dkim.inputs.content)).toBe(true);
    });
});

/**
 * pulumi-command v1.2.1 dials a client per command and closes only the session
 * (provider/pkg/provider/remote/commandOutputs.go:31-40): every client stays logged in until the
 * provider's process ends with the run. A host that counts the clients it holds.
 */
class HoldingHost extends FakeHost {
    open = 0;
    peak = 0;
    dials = 0;
    /** Refuses a dial (as sshd's MaxStartups drops a connection) while this says so. */
    refuse: (dial: number) => boolean = () => false;
    dial = async (connection: Record<string, any>): Promise<RemoteClient> => {
        const n = ++this.dials;
        if (this.refuse(n)) throw new Error("kex_exchange_identification: read: Connection reset by peer");
        this.open++;
        this.peak = Math.max(this.peak, this.open);
        let closed = false;
        return {
            exec: (script, stdin) => {
                if (closed) throw new Error("client closed");
                return this.exec(connection, script, stdin);
            },
            close: async () => {
                if (!closed) this.open--;
                closed = true;
            },
        };
    };
}

describe("the lab's runner holds SSH clients as pulumi-command does", () => {
    const holding = () => {
        const host = new HoldingHost();
        const runner = new LabRunner(path.join(dir, `state-${n++}.json`), new FakeDns(), { privateKey: TEST_SSH_PRIVATE_KEY }, { dial: host.dial });
        return { host, runner };
    };

    it("keeps every command's client open until the run ends, counts them, and closes them after up and destroy", async () => {
        const { host, runner } = holding();
        let openAtTestKey = -1;
        const before = host.before;
        host.before = (c) => {
            if (c.step === "testkey") openAtTestKey = host.open;
            return before(c);
        };
        const report = await runner.up(config());
        // Every step that ran held its client until the last one: the key test found all the others open.
        expect(openAtTestKey).toBe(report.commandsRun.length);
        expect(runner.peakOpenSessions).toBe(report.commandsRun.length);
        expect(host.peak).toBe(report.commandsRun.length);
        expect(runner.sshSessions).toBe(report.commandsRun.length);
        expect(host.open).toBe(0);
        expect(runner.openSessions).toBe(0);
        // By host: the example stack's one host has them all.
        const sshHost = (config()["mailauth:ssh"] as { host: string }).host;
        expect(runner.sessionsByHost).toEqual({ [sshHost]: report.commandsRun.length });
        expect(runner.peakOpenByHost).toEqual({ [sshHost]: report.commandsRun.length });

        const ops = await runner.destroy();
        expect(host.peak).toBe(Math.max(report.commandsRun.length, ops.length));
        expect(host.open).toBe(0);
    });

    it("closes them after a failed run too", async () => {
        const { host, runner } = holding();
        host.fail = (c) => c.step === "postfix";
        await expect(runner.up(config())).rejects.toThrow(/postfix failed/);
        expect(host.peak).toBeGreaterThan(1);
        expect(host.open).toBe(0);
    });

    it("retries a refused dial with the provider's delays, and fails after its limit with the provider's words", async () => {
        const { host, runner } = holding();
        // The first two dials dropped (sshd's MaxStartups): the step still runs.
        host.refuse = (d) => d <= 2;
        await runner.up(config());
        expect(runner.dialRetries).toBe(2);

        const other = holding();
        other.host.refuse = () => true;
        const t0 = Date.now();
        await expect(other.runner.up(config())).rejects.toThrow(new RegExp(`after ${DIAL_ERROR_LIMIT} failed attempts: kex_exchange_identification`));
        // 100 ms, x1.5 per attempt, at most 5 s (pulumi/pulumi sdk/go/common/util/retry/until.go).
        expect(Date.now() - t0).toBeGreaterThan(11_000);
        expect(other.host.dials).toBe(DIAL_ERROR_LIMIT + 1);
    }, 60_000);
});
