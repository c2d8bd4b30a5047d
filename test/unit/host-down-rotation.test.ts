/**
 * Rotation across hosts (issue 21: "a key ... is removed from DNS only when no host signs with it"):
 * two relays on the shared keys, example.com on a rotation calendar, and the second relay down
 * (every step the engine runs on it fails) across the days the calendar retires, revokes and removes
 * the selector it still signs with. Daily-ish `pulumi up`s of the program (index.ts, under the
 * mocks) are carried out by test/harness.ts simulateUp, which follows the engine's and the Node.js
 * SDK's rules for failed steps (cited there): plain `up`, `--continue-on-error` under this
 * program's SDK, and `--continue-on-error` under the engine's rules alone. After every `up`, every
 * selector a host's SigningTable names (as the state holds it: the last one that host ran) must be
 * published with its key; the old selector goes (revoked, then removed) once the host converges.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EngineState, exampleConfig, runProgram, simulateUp, stagedFile, StateResource, UpOptions } from "../harness";
import { FakeCloudflare } from "../cloudflare";
import { DnsServer, startDnsServer } from "../dns-server";
import { unquoteTxt } from "../../components/records/txt";
import { dayText, parseDay } from "../../components/rotation";

const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
const PRIMARY = { hostname: "mail.example.com", ipv4: "192.0.2.25", mx: 10, sshHostKey: HOST_KEY };
const RELAY = { hostname: "out.example.com", ipv4: "203.0.113.5", sshHostKey: HOST_KEY };
/** The manual selector (period -1's, until 2026-12-01) and the calendar's first. */
const OLD = "20261127";
const NEW = "k20261201";

const day = (text: string) => parseDay(text)!;

let dns: DnsServer;
beforeAll(async () => {
    dns = await startDnsServer();
});
afterAll(async () => {
    await dns.close();
});

/**
 * Two relays (`one`: the example's one host of mailauth:ssh + mx); example.com on the calendar (start
 * 2026-12-01, defaults: publishAhead 3d, retire 7d, revoke 30d), at 06:00 UTC of `date`.
 */
function config(date: string, one = false): Record<string, unknown> {
    const c = exampleConfig();
    if (!one) {
        delete c["mailauth:ssh"];
        delete c["mailauth:mx"];
    }
    const [com, org] = c["mailauth:domains"] as Record<string, unknown>[];
    return {
        ...c,
        ...(one ? {} : { "mailauth:hosts": [PRIMARY, RELAY] }),
        "mailauth:domains": [{ ...com, rotation: { start: "2026-12-01" } }, org],
        "mailauth:now": `${date}T06:00:00Z`,
        // The signing gate asks the test DNS server (the check itself stays off).
        "mailauth:check": { enabled: false, resolvers: [dns.address] },
    };
}

/** Cloudflare's zones and the resolvers' answers as the state's records make them (each made at 06:00 of the day of its up). */
function world(c: Record<string, unknown>, state: EngineState): FakeCloudflare {
    const cf = FakeCloudflare.forConfig(c);
    dns.zone = {};
    for (const r of state.values()) {
        if (r.type !== "cloudflare:index/dnsRecord:DnsRecord") continue;
        const zone = cf.zones.find((z) => z.id === r.inputs.zoneId)!;
        const made = `${dayText(r.createdAt)}T06:00:00.000Z`;
        cf.addRecord(zone.name, {
            name: r.inputs.name,
            type: r.inputs.type,
            content: String(r.inputs.content),
            priority: r.inputs.priority,
            comment: r.inputs.comment ?? null,
            createdOn: made,
            modifiedOn: made,
        });
        if (r.inputs.type === "TXT" && /\._domainkey\./.test(r.inputs.name)) dns.zone[r.inputs.name] = { TXT: [unquoteTxt(String(r.inputs.content))] };
    }
    return cf;
}

/** The OpenDKIM step of each host in the state, by hostname (`mailhost` for the one host of ssh + mx). */
function opendkimSteps(state: EngineState): Map<string, StateResource> {
    const out = new Map<string, StateResource>();
    for (const r of state.values()) {
        const m = /^mailhost(?:-(.+))?-opendkim$/.exec(r.name);
        if (m && r.type === "command:remote:Command") out.set(m[1] ?? "mailhost", r);
    }
    return out;
}

/** Per host, the selector its SigningTable names for example.com, as the state holds its OpenDKIM step (the last one that host ran). */
function signers(state: EngineState): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [host, r] of opendkimSteps(state)) {
        const line = stagedFile(r.inputs.stdin, "SigningTable")
            .split("\n")
            .find((l) => l.startsWith("*@example.com "));
        out[host] = line!.split(" ")[1].replace(/\._domainkey\.example\.com$/, "");
    }
    return out;
}

/** What example.com's record of `selector` publishes in the state: its value, or undefined when there is none. */
function published(state: EngineState, selector: string): string | undefined {
    const r = [...state.values()].find((x) => x.name === `example.com-dkim-${selector}`);
    return r && unquoteTxt(String(r.inputs.content));
}
const hasKey = (value: string | undefined) => value !== undefined && /(^|;)\s*p=[A-Za-z0-9+/]/.test(value);

interface Day {
    date: string;
    signers: Record<string, string>;
    old: string | undefined;
    /** What each selector a host signs with publishes. */
    records: Record<string, string | undefined>;
    /** Per host, whether its OpenDKIM step (in the state) depends on the record of the selector it signs with. */
    dependsOnSigned: Record<string, boolean>;
    failed: string[];
    deletesRan: boolean;
}

/** `up` on each date, the relay (`one`: the one host) down on the dates `down` says; returns what each left. */
async function ups(dates: string[], down: (date: string) => boolean, how: Omit<UpOptions, "fails" | "up">, one = false): Promise<Day[]> {
    let state: EngineState = new Map();
    const days: Day[] = [];
    const prefix = one ? "mailhost-" : `mailhost-${RELAY.hostname}-`;
    for (const date of dates) {
        const c = config(date, one);
        const run = await runProgram(c, { call: world(c, state).call });
        const result = simulateUp(state, run, {
            ...how,
            up: day(date),
            fails: (r) => down(date) && r.type === "command:remote:Command" && r.name.startsWith(prefix),
        });
        state = result.state;
        const failed = [...result.steps].filter(([, s]) => s === "failed").map(([urn]) => urn.slice(urn.lastIndexOf("::") + 2));
        const signing = signers(state);
        const records = Object.fromEntries(Object.values(signing).map((sel) => [sel, published(state, sel)]));
        const recordUrn = (sel: string) => [...state.values()].find((x) => x.name === `example.com-dkim-${sel}`)?.urn;
        const dependsOnSigned = Object.fromEntries(
            [...opendkimSteps(state)].map(([host, r]) => [host, r.dependencies.includes(recordUrn(signing[host]) ?? "(none)")]),
        );
        days.push({ date, signers: signing, old: published(state, OLD), records, dependsOnSigned, failed, deletesRan: result.deletesRan });
    }
    return days;
}

/**
 * Every selector a host signs with is published with its key, after every up; and the host's
 * signing step depends on that record (so that the engine keeps the record while the step fails:
 * deployment_executor.go 513-552, test/harness.ts simulateUp).
 */
function expectPublishedWhileSigned(days: Day[]) {
    for (const d of days) {
        for (const [host, selector] of Object.entries(d.signers)) {
            expect(hasKey(d.records[selector]), `${d.date}: ${host} signs with ${selector}, published ${JSON.stringify(d.records[selector])}`).toBe(true);
            expect(d.dependsOnSigned[host], `${d.date}: ${host}'s OpenDKIM step depends on the record of ${selector}`).toBe(true);
        }
    }
}

// The calendar for OLD (period -1, ends 2026-12-01): retiring until 2026-12-15 (holdUntil 12-08 + retire),
// revoked until 2027-01-07 (holdUntil + revoke), then removed. The relay goes down after the run of
// 2026-11-29 (NEW is published and installed on it, OLD still signs there).
const DOWN_FROM = "2026-11-30";
const BEFORE = ["2026-11-26", "2026-11-28", "2026-11-29"];
const ACROSS = ["2026-12-01", "2026-12-08", "2026-12-14", "2026-12-15", "2026-12-16", "2027-01-06", "2027-01-07", "2027-01-08"];

const MODES: [string, Omit<UpOptions, "fails" | "up">][] = [
    ["pulumi up --continue-on-error (this program's Node.js SDK)", { mode: "continue-on-error", sdk: "nodejs" }],
    ["pulumi up --continue-on-error (the engine's rules alone)", { mode: "continue-on-error", sdk: "engine" }],
    ["pulumi up (stops at the first failure)", { mode: "plain" }],
];

describe.each(MODES)("a relay down across the revoke and the removal of the selector it signs with: %s", (_, how) => {
    it("its selector stays published with its key while it signs with it, and goes once it converges", async () => {
        const back = "2027-01-10";
        const dates = [...BEFORE, ...ACROSS, back, "2027-01-11"];
        const days = await ups(dates, (d) => d >= DOWN_FROM && d < back, how);
        const on = (date: string) => days.find((d) => d.date === date)!;
        // Both relays on the calendar's key before it goes down; the other relay switches on the period's first day.
        expect(on("2026-11-29").signers).toEqual({ [PRIMARY.hostname]: OLD, [RELAY.hostname]: OLD });
        expect(on("2026-12-01").signers).toEqual({ [PRIMARY.hostname]: NEW, [RELAY.hostname]: OLD });
        // The down relay's steps fail on every up from then on, and it keeps signing with OLD.
        for (const date of ACROSS) {
            expect(
                on(date).failed.some((n) => n.startsWith(`mailhost-${RELAY.hostname}-`)),
                date,
            ).toBe(true);
            expect(on(date).signers[RELAY.hostname], date).toBe(OLD);
            // Published with its key (not revoked on 2026-12-15, not removed on 2027-01-07).
            expect(hasKey(on(date).old), `${date}: ${OLD} publishes ${JSON.stringify(on(date).old)}`).toBe(true);
        }
        // Back: it converges in one up; OLD, past its removal date, is removed in that same up.
        expect(on(back).failed).toEqual([]);
        expect(on(back).signers).toEqual({ [PRIMARY.hostname]: NEW, [RELAY.hostname]: NEW });
        expect(on(back).old).toBeUndefined();
        expect(on("2027-01-11").old).toBeUndefined();
        expectPublishedWhileSigned(days);
    });
});

describe.each(MODES.filter(([, h]) => h.sdk !== "engine"))("a relay back while its old selector is in its revoked stage: %s", (_, how) => {
    it("the record is revoked in the up where the relay stops signing with it, after its OpenDKIM step; removed on its date", async () => {
        const back = "2026-12-20";
        const dates = [...BEFORE, "2026-12-01", "2026-12-15", back, "2027-01-07"];
        const days = await ups(dates, (d) => d >= DOWN_FROM && d < back, how);
        const on = (date: string) => days.find((d) => d.date === date)!;
        expect(hasKey(on("2026-12-15").old)).toBe(true);
        expect(on("2026-12-15").signers[RELAY.hostname]).toBe(OLD);
        expect(on(back).failed).toEqual([]);
        expect(on(back).signers).toEqual({ [PRIMARY.hostname]: NEW, [RELAY.hostname]: NEW });
        expect(on(back).old).toBe("v=DKIM1; p=");
        expect(on("2027-01-07").old).toBeUndefined();
        expectPublishedWhileSigned(days);
    });
});

describe.each(MODES.filter(([, h]) => h.sdk !== "engine"))("one host (mailauth:ssh + mx) down across the revoke date: %s", (_, how) => {
    it("its old selector stays published with its key until the host is back, then is revoked", async () => {
        const back = "2026-12-20";
        const days = await ups([...BEFORE, "2026-12-01", "2026-12-15", "2026-12-16", back], (d) => d >= DOWN_FROM && d < back, how, true);
        const on = (date: string) => days.find((d) => d.date === date)!;
        expect(on("2026-12-16").signers).toEqual({ mailhost: OLD });
        expect(hasKey(on("2026-12-16").old)).toBe(true);
        expect(on(back).signers).toEqual({ mailhost: NEW });
        expect(on(back).old).toBe("v=DKIM1; p=");
        expectPublishedWhileSigned(days);
    });
});

describe("the record the calendar revokes waits for every relay's signing step; the hosts do not wait for it", () => {
    it("one host (ssh + mx): the revoked record depends on mailhost-opendkim; the keys and OpenDKIM steps do not depend on it", async () => {
        const c = exampleConfig();
        const [com, org] = c["mailauth:domains"] as Record<string, unknown>[];
        const run = await runProgram({
            ...c,
            "mailauth:domains": [{ ...com, rotation: { start: "2026-12-01" } }, org],
            "mailauth:now": "2026-12-15T06:00:00Z",
        });
        const by = (name: string) => run.resources.find((r) => r.name === name)!;
        const revoked = by(`example.com-dkim-${OLD}`);
        expect(unquoteTxt(revoked.inputs.content)).toBe("v=DKIM1; p=");
        expect(revoked.dependencies).toContain(by("mailhost-opendkim").urn);
        expect(by("mailhost-keys").dependencies).not.toContain(revoked.urn);
        expect(by("mailhost-opendkim").dependencies).not.toContain(revoked.urn);
        // The published one is still waited for by the host.
        expect(by("mailhost-keys").dependencies).toContain(by(`example.com-dkim-${NEW}`).urn);
    });

    it("revokeNow (a leaked key) is revoked at once: its record waits for no host", async () => {
        const c = exampleConfig();
        const [com, org] = c["mailauth:domains"] as Record<string, unknown>[];
        const run = await runProgram({
            ...c,
            "mailauth:domains": [{ ...com, rotation: { start: "2026-12-01" }, revokeNow: [NEW] }, org],
            "mailauth:now": "2026-12-15T06:00:00Z",
        });
        const by = (name: string) => run.resources.find((r) => r.name === name)!;
        expect(unquoteTxt(by(`example.com-dkim-${NEW}`).inputs.content)).toBe("v=DKIM1; p=");
        expect(by(`example.com-dkim-${NEW}`).dependencies).not.toContain(by("mailhost-opendkim").urn);
    });
});
