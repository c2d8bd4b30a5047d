/**
 * DKIM rotation on a calendar (components/rotation.ts, issue 20): the calendar's arithmetic, the
 * stage of each selector per date, what the program makes under the mocks at several `now` dates,
 * the settings' validation, and the move from a manual selector to the calendar.
 */
import { createHash } from "crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exampleConfig, reveal, Run, runLogged, runProgram, stagedFile } from "../harness";
import { splitStdinStep } from "../../components/hostScripts";
import { unquoteTxt } from "../../components/records/txt";
import { FakeCloudflare } from "../cloudflare";
import { askDns, gatedSelector, needsDns, Seen } from "../../components/signingGate";
import { DnsServer, startDnsServer } from "../dns-server";
import { RawSettings, validateSettings } from "../../components/settings";
import {
    calendarSelector,
    DAY_MS,
    dayOf,
    dayText,
    holdUntil,
    parseDay,
    parseDuration,
    parseNow,
    periodAt,
    periodStart,
    resolveRotation,
    Rotation,
    rotationSummary,
    stageOf,
} from "../../components/rotation";
import { exampleRawSettings, settingsProblems } from "../settings-problems";

const day = (text: string) => parseDay(text)!;
/** The defaults: every 180d, publishAhead 3d, retire 7d, revoke 30d; start 2026-12-01. */
const CAL: Rotation = { start: day("2026-12-01"), every: 180, publishAhead: 3, retire: 7, revoke: 30 };

describe("calendar arithmetic (UTC days)", () => {
    it("reads UTC dates, refusing those that do not exist, and counts a leap day as a day", () => {
        expect(day("1970-01-01")).toBe(0);
        expect(parseDay("2028-02-29")).toBe(day("2028-02-28") + 1);
        expect(day("2028-03-01") - day("2028-02-28")).toBe(2);
        expect(day("2027-03-01") - day("2027-02-28")).toBe(1);
        for (const bad of ["2027-02-29", "2026-13-01", "2026-00-10", "2026-12-32", "2026-1-1", "26-12-01", "2026-12-01T00:00Z", ""]) {
            expect(parseDay(bad), bad).toBeUndefined();
        }
    });

    it("periods start at start + k*every; the selector is k and the date of its start, across a leap day", () => {
        const leap = { start: day("2028-02-01"), every: 30 };
        expect(dayText(periodStart(leap, 1))).toBe("2028-03-02"); // February 2028 has 29 days
        expect(calendarSelector(periodStart(leap, 1))).toBe("k20280302");
        expect(dayText(periodStart({ start: day("2027-02-01"), every: 30 }, 1))).toBe("2027-03-03");
        // The leap day itself starts a period when the arithmetic lands on it.
        expect(calendarSelector(periodStart({ start: day("2028-02-28"), every: 1 }, 1))).toBe("k20280229");
        expect(dayText(periodStart(CAL, 1))).toBe("2027-05-30");
        expect(dayText(periodStart(CAL, 2))).toBe("2027-11-26");
        expect(dayText(periodStart(CAL, -1))).toBe("2026-06-04");
    });

    it("the period at a date: its first day belongs to it, the day before to the one before", () => {
        expect(periodAt(CAL, day("2026-11-30"))).toBe(-1);
        expect(periodAt(CAL, day("2026-12-01"))).toBe(0);
        expect(periodAt(CAL, day("2027-05-29"))).toBe(0);
        expect(periodAt(CAL, day("2027-05-30"))).toBe(1);
    });

    it("now is UTC: the last second of a day is that day, the next one the next day; no other time zone", () => {
        expect(dayText(dayOf(parseNow("2027-05-29T23:59:59Z")!))).toBe("2027-05-29");
        expect(dayText(dayOf(parseNow("2027-05-30T00:00:00Z")!))).toBe("2027-05-30");
        expect(dayText(dayOf(parseNow("2027-05-30")!))).toBe("2027-05-30");
        expect(dayText(dayOf(parseNow("2028-02-29T12:00")!))).toBe("2028-02-29");
        expect(parseNow("2027-05-30T12:00:00.250Z")).toBe(Date.UTC(2027, 4, 30, 12, 0, 0));
        for (const bad of ["2027-05-30T12:00:00+02:00", "2027-05-30 12:00", "2027-05-30T24:00", "2027-02-29", "tomorrow"]) {
            expect(parseNow(bad), bad).toBeUndefined();
        }
    });

    it("durations are <n>d, 1 to 3650", () => {
        expect(parseDuration("1d")).toBe(1);
        expect(parseDuration("3650d")).toBe(3650);
        for (const bad of ["0d", "3651d", "180", "6m", "1.5d", "-1d", "07d", " 7d"]) expect(parseDuration(bad), bad).toBeUndefined();
    });
});

describe("the stage of each selector per date", () => {
    // Period 0 (k20261201) starts 2026-12-01 and ends 2027-05-30: it is published from 2026-11-28;
    // the signing gate may keep it signing until 2027-06-06 (retire days), so it stays published with
    // its key until 2027-06-13 (retire days after that), revoked until 2027-07-06, then gone.
    const cases: [string, string | undefined][] = [
        ["2026-11-27", undefined],
        ["2026-11-28", "next"],
        ["2026-11-30", "next"],
        ["2026-12-01", "active"],
        ["2027-05-29", "active"],
        ["2027-05-30", "retiring"],
        ["2027-06-05", "retiring"],
        ["2027-06-06", "retiring"],
        ["2027-06-12", "retiring"],
        ["2027-06-13", "revoked"],
        ["2027-07-05", "revoked"],
        ["2027-07-06", undefined],
    ];
    it.each(cases)("period 0 on %s: %s", (date, stage) => {
        expect(stageOf(CAL, 0, day(date))?.stage).toBe(stage);
    });

    it("the manual selector (period -1) signs until start, then retires, is revoked and goes", () => {
        expect(stageOf(CAL, -1, day("2020-01-01"))?.stage).toBe("active");
        expect(stageOf(CAL, -1, day("2026-11-30"))?.stage).toBe("active");
        expect(stageOf(CAL, -1, day("2026-12-01"))?.stage).toBe("retiring");
        expect(stageOf(CAL, -1, day("2026-12-14"))?.stage).toBe("retiring");
        expect(stageOf(CAL, -1, day("2026-12-15"))?.stage).toBe("revoked");
        expect(stageOf(CAL, -1, day("2027-01-06"))?.stage).toBe("revoked");
        expect(stageOf(CAL, -1, day("2027-01-07"))).toBeUndefined();
    });

    it("at each date: the selector that signs, those published with their key, those revoked", () => {
        const at = (date: string) => {
            const p = resolveRotation(CAL, day(date), "20261127");
            return [p.selector, p.previousSelectors, p.revokedSelectors];
        };
        expect(at("2026-11-27")).toEqual(["20261127", [], []]);
        expect(at("2026-11-28")).toEqual(["20261127", ["k20261201"], []]);
        expect(at("2026-12-01")).toEqual(["k20261201", ["20261127"], []]);
        expect(at("2026-12-14")).toEqual(["k20261201", ["20261127"], []]);
        expect(at("2026-12-15")).toEqual(["k20261201", [], ["20261127"]]);
        expect(at("2027-01-07")).toEqual(["k20261201", [], []]);
        expect(at("2027-05-27")).toEqual(["k20261201", ["k20270530"], []]);
        expect(at("2027-05-30")).toEqual(["k20270530", ["k20261201"], []]);
        expect(at("2027-06-13")).toEqual(["k20270530", [], ["k20261201"]]);
        expect(at("2027-07-06")).toEqual(["k20270530", [], []]);
    });

    it("a short period keeps several old selectors revoked at once, and the next one ahead", () => {
        const short: Rotation = { start: day("2028-02-01"), every: 10, publishAhead: 2, retire: 3, revoke: 25 };
        const p = resolveRotation(short, day("2028-03-01"), undefined);
        // Periods start 02-01, 02-11, 02-21, 03-02: on 03-01 k20280221 signs, k20280302 is next.
        expect(p.selector).toBe("k20280221");
        expect(p.previousSelectors).toEqual(["k20280302"]);
        // k20280211 stopped 02-21 (revoked from 02-24 until 03-17), k20280201 stopped 02-11 (until 03-07).
        expect(p.revokedSelectors).toEqual(["k20280201", "k20280211"]);
    });

    it("without a manual selector before start, the first period's selector signs at once", () => {
        const p = resolveRotation(CAL, day("2026-11-01"), undefined);
        expect([p.selector, p.previousSelectors, p.revokedSelectors]).toEqual(["k20261201", [], []]);
    });

    it("revokeNow of the signing selector: revoked at once, the next period's signs from now on, and on at its own start", () => {
        const p = resolveRotation(CAL, day("2027-01-10"), "20261127", ["k20261201"]);
        expect([p.selector, p.previousSelectors, p.revokedSelectors]).toEqual(["k20270530", [], ["k20261201"]]);
        const later = resolveRotation(CAL, day("2027-06-01"), "20261127", ["k20261201"]);
        expect([later.selector, later.previousSelectors, later.revokedSelectors]).toEqual(["k20270530", [], ["k20261201"]]);
        // Its record goes when it would have anyway: revoke days after the gate's latest switch (retire days after its period's end).
        expect(resolveRotation(CAL, day("2027-07-05"), "20261127", ["k20261201"]).revokedSelectors).toEqual(["k20261201"]);
        expect(resolveRotation(CAL, day("2027-07-06"), "20261127", ["k20261201"]).revokedSelectors).toEqual([]);
        // A retiring one is revoked before its time.
        expect(resolveRotation(CAL, day("2026-12-02"), "20261127", ["20261127"]).revokedSelectors).toEqual(["20261127"]);
    });

    it("preview tells the active selector, its age, the next rotation and the next change", () => {
        const d = day("2027-05-27");
        expect(rotationSummary("example.com", resolveRotation(CAL, d, "20261127"), d)).toBe(
            "example.com: DKIM rotation on 2027-05-27: k20261201 signs (signing for 177 day(s)); next rotation 2027-05-30 to k20270530; " +
                "also in the zone: k20270530 next; next change on 2027-05-30 (the first pulumi up from then): k20261201 stops signing (kept published); k20270530 starts signing",
        );
        const e = day("2026-12-15");
        expect(rotationSummary("example.com", resolveRotation(CAL, e, "20261127"), e)).toContain(
            "also in the zone: 20261127 revoked; next change on 2027-01-07 (the first pulumi up from then): 20261127 is removed from the zone",
        );
        const m = day("2026-11-20");
        expect(rotationSummary("example.com", resolveRotation(CAL, m, "20261127"), m)).toContain(
            "20261127 signs (the manual selector, until the calendar starts); next rotation 2026-12-01 to k20261201; next change on 2026-11-28 (the first pulumi up from then): k20261201 is published (not signing yet)",
        );
    });
});

// ---------------------------------------------------------------- the program under the mocks

/** The example stack with example.com on its own calendar (start 2026-12-01, defaults), at `now`. */
function onCalendar(now: string, own: Record<string, unknown> = {}, patch: Record<string, unknown> = {}): Record<string, unknown> {
    const config = exampleConfig();
    const [com, org] = config["mailauth:domains"] as Record<string, unknown>[];
    config["mailauth:domains"] = [{ ...com, rotation: { start: "2026-12-01" }, ...own }, org];
    config["mailauth:now"] = now;
    return { ...config, ...patch };
}

const byName = (run: Run, name: string) => run.resources.find((r) => r.name === name);
/** example.com's DKIM records: selector -> value as sent to Cloudflare (unquoted). */
function dkimOf(run: Run): Record<string, string> {
    return Object.fromEntries(
        run.resources
            .filter((r) => r.type === "cloudflare:index/dnsRecord:DnsRecord" && r.name.startsWith("example.com-dkim-"))
            .map((r) => [r.name.slice("example.com-dkim-".length), unquoteTxt(r.inputs.content)]),
    );
}
const dkimKeys = (run: Run) =>
    run.resources
        .filter((r) => r.type === "tls:index/privateKey:PrivateKey" && r.name.startsWith("example.com-"))
        .map((r) => r.name)
        .sort();
const tables = (run: Run, file: string) => stagedFile(byName(run, "mailhost-opendkim")!.inputs.stdin, file).replace(/^#.*\n/gm, "");
const installedKeyFiles = (run: Run) => {
    const inputs = byName(run, "mailhost-keys")!.inputs;
    return splitStdinStep(inputs.create, reveal(inputs.stdin))!
        .stdin.split("\n")
        .filter((l) => l.startsWith("#mailauth-key "))
        .map((l) => l.split(" ")[1]);
};
const retireKeeps = (run: Run) => {
    const r = byName(run, "mailhost-keys-retire")!;
    return splitStdinStep(r.inputs.create, r.inputs.stdin)!.stdin;
};
const key = (sel: string) => `/etc/opendkim/keys/example.com/${sel}.private`;

describe("the program on a calendar, under the mocks", () => {
    it("from manual to calendar: the manual selector keeps signing, with the same key and record, until start", async () => {
        const manual = await runProgram(exampleConfig());
        // Before publishAhead: nothing changes at all.
        const early = await runProgram(onCalendar("2026-11-20"));
        const strip = (run: Run) => run.resources.map((r) => [r.type, r.name, r.inputs]);
        expect(strip(early)).toEqual(strip(manual));

        // From start - publishAhead: the next key is published and installed, not signing.
        const ahead = await runProgram(onCalendar("2026-11-28T06:00:00Z"));
        expect(Object.keys(dkimOf(ahead)).sort()).toEqual(["20261127", "k20261201"]);
        expect(dkimOf(ahead)["20261127"]).toBe(dkimOf(manual)["20261127"]);
        expect(dkimKeys(ahead)).toEqual(["example.com-20261127-rsa", "example.com-k20261201-rsa"]);
        expect(tables(ahead, "SigningTable")).toBe(tables(manual, "SigningTable"));
        expect(tables(ahead, "KeyTable")).toContain("k20261201._domainkey.example.com example.com:k20261201:");
        expect(installedKeyFiles(ahead)).toContain(key("k20261201"));

        // From start: the calendar's selector signs; the manual one stays published with its key.
        const started = await runProgram(onCalendar("2026-12-01"));
        expect(tables(started, "SigningTable")).toContain("*@example.com k20261201._domainkey.example.com\n");
        expect(dkimOf(started)["20261127"]).toBe(dkimOf(manual)["20261127"]);
        expect(dkimOf(started)["k20261201"]).toBe(dkimOf(ahead)["k20261201"]);
        expect(byName(started, "example.com-dkim-20261127")!.ignoreChanges).toEqual(["content"]);
        expect(installedKeyFiles(started)).toEqual([key("k20261201"), key("20261127"), "/etc/opendkim/keys/example.org/20261127.private"]);
        expect(started.outputs.selectors).toMatchObject({
            "example.com": { active: "k20261201", previous: ["20261127"] },
            "example.org": { active: "20261127", previous: [] },
        });
    });

    it("after retire: the old record is revoked (empty p=), its key leaves the state and the host; after revoke it is gone", async () => {
        const revoked = await runProgram(onCalendar("2026-12-15"));
        expect(dkimOf(revoked)).toMatchObject({ "20261127": "v=DKIM1; p=" });
        expect(dkimOf(revoked)["k20261201"]).toMatch(/^v=DKIM1; k=rsa; p=MII/);
        // Its content is not ignored: the record changes to the empty p= in place (same resource, same URN).
        expect(byName(revoked, "example.com-dkim-20261127")!.ignoreChanges).toEqual([]);
        expect(byName(revoked, "example.com-dkim-k20261201")!.ignoreChanges).toEqual(["content"]);
        expect(dkimKeys(revoked)).toEqual(["example.com-k20261201-rsa"]);
        expect(installedKeyFiles(revoked)).not.toContain(key("20261127"));
        expect(retireKeeps(revoked)).not.toContain(key("20261127"));
        expect(tables(revoked, "KeyTable")).not.toContain("20261127._domainkey.example.com");
        expect(revoked.outputs.selectors).toMatchObject({ "example.com": { active: "k20261201", previous: [], revoked: ["20261127"] } });

        const gone = await runProgram(onCalendar("2027-01-07"));
        expect(Object.keys(dkimOf(gone))).toEqual(["k20261201"]);
        expect(dkimKeys(gone)).toEqual(["example.com-k20261201-rsa"]);
    });

    it("the next rotation: the next key ahead, then it signs while the last one is kept, then revoked", async () => {
        const ahead = await runProgram(onCalendar("2027-05-27"));
        expect(Object.keys(dkimOf(ahead)).sort()).toEqual(["k20261201", "k20270530"]);
        expect(tables(ahead, "SigningTable")).toContain("*@example.com k20261201._domainkey.example.com\n");
        const switched = await runProgram(onCalendar("2027-05-30"));
        expect(tables(switched, "SigningTable")).toContain("*@example.com k20270530._domainkey.example.com\n");
        expect(dkimOf(switched)["k20261201"]).toBe(dkimOf(ahead)["k20261201"]);
        expect(dkimOf(switched)["k20270530"]).toBe(dkimOf(ahead)["k20270530"]);
        // The key test follows the signing selector.
        const testkey = splitStdinStep(byName(switched, "mailhost-testkey")!.inputs.create, byName(switched, "mailhost-testkey")!.inputs.stdin)!.stdin;
        expect(testkey).toMatch(/^example\.com k20270530 [0-9a-f]{16}\n/);
        const revoked = await runProgram(onCalendar("2027-06-13"));
        expect(dkimOf(revoked)).toMatchObject({ k20261201: "v=DKIM1; p=" });
    });

    it("a set mailauth:now is said, so that it is not left to hold a scheduled up on that day", async () => {
        const warnings: string[] = [];
        const pulumi = await import("@pulumi/pulumi");
        const warn = pulumi.log.warn;
        (pulumi.log as any).warn = (m: string) => warnings.push(m);
        try {
            await runProgram(onCalendar("2027-05-30T08:00:00Z"));
            expect(warnings).toContain(
                "mailauth:now is set: the rotation calendar takes 2027-05-30T08:00:00.000Z as now, not the clock; remove it once done planning: pulumi config rm mailauth:now",
            );
            warnings.length = 0;
            await runProgram(exampleConfig());
            expect(warnings.filter((w) => w.includes("mailauth:now"))).toEqual([]);
        } finally {
            (pulumi.log as any).warn = warn;
        }
    });

    it("mailauth:rotation applies to every domain; a domain's own fields go over it", async () => {
        const config = exampleConfig();
        config["mailauth:rotation"] = { start: "2026-12-01", every: "90d" };
        const [com, org] = config["mailauth:domains"] as Record<string, unknown>[];
        config["mailauth:domains"] = [{ ...com, rotation: { every: "180d" } }, org];
        config["mailauth:now"] = "2027-03-01";
        const run = await runProgram(config);
        expect(run.outputs.selectors).toMatchObject({
            "example.com": { active: "k20261201", previous: [] },
            // Every 90 days from 2026-12-01: the period that started 2027-03-01; the last one's key is kept a week.
            "example.org": { active: "k20270301", previous: ["k20261201"] },
        });
    });

    it("emergency: revokeNow of the signing selector revokes it in this run and the next period's key signs", async () => {
        const run = await runProgram(onCalendar("2027-01-10", { revokeNow: ["k20261201"] }));
        expect(dkimOf(run)).toMatchObject({ k20261201: "v=DKIM1; p=" });
        expect(dkimOf(run)["k20270530"]).toMatch(/^v=DKIM1; k=rsa; p=MII/);
        expect(tables(run, "SigningTable")).toContain("*@example.com k20270530._domainkey.example.com\n");
        expect(dkimKeys(run)).toEqual(["example.com-k20270530-rsa"]);
        expect(retireKeeps(run)).not.toContain(key("k20261201"));
    });

    it("manual rotation: revokeNow publishes a dropped selector's record with an empty p=, and no key for it", async () => {
        const config = exampleConfig();
        const [com, org] = config["mailauth:domains"] as Record<string, unknown>[];
        config["mailauth:domains"] = [{ ...com, selector: "20270601", revokeNow: ["20261127"] }, org];
        const run = await runProgram(config);
        expect(dkimOf(run)).toMatchObject({ "20261127": "v=DKIM1; p=" });
        expect(dkimKeys(run)).toEqual(["example.com-20270601-rsa"]);
        expect(tables(run, "SigningTable")).toContain("*@example.com 20270601._domainkey.example.com\n");
    });
});

// ---------------------------------------------------------------- the signing gate

/** This stack's comment before it had an identity: still its own (components/stackMarker.ts isOwn). */
const OWN = "managed by Pulumi stack mailauth/test (mailauth)";

describe("signing gate: a new selector signs once its record was in the zone as the run started and the resolvers answer its key", () => {
    /** The example account, with example.com's DKIM records of `selectors` already there (this stack's, with a key). */
    function zoneWith(config: Record<string, unknown>, selectors: string[], comment: string | null = OWN): FakeCloudflare {
        const cf = FakeCloudflare.forConfig(config);
        for (const sel of selectors) {
            cf.addRecord("example.com", { name: `${sel}._domainkey.example.com`, type: "TXT", content: '"v=DKIM1; k=rsa; p=MIIBIjANBgkq"', comment });
        }
        return cf;
    }
    let dns: DnsServer;
    beforeAll(async () => {
        dns = await startDnsServer();
    });
    afterAll(async () => {
        await dns.close();
    });
    /** onCalendar, asking the test DNS server (mailauth:check.resolvers; the check itself stays off). */
    const asking = (now: string) => onCalendar(now, {}, { "mailauth:check": { enabled: false, resolvers: [dns.address] } });
    const NEW = "k20270530._domainkey.example.com";
    const domain = (now: string, revokeNow: string[] = []) =>
        validateSettings(raw({ domains: [{ ...com, rotation: { start: "2026-12-01" }, revokeNow }], now })).domains[0];
    const KEY = { seen: "key" } as const;
    /** Both records made long before any calendar date here. */
    const LONG_AGO = { k20261201: "2026-11-01T00:00:00Z", k20270530: "2027-01-01T00:00:00Z" } as Record<string, string | undefined>;
    /** Runs with pulumi.log.info and warn collected. */
    const logged = (config: Record<string, unknown>, cf: FakeCloudflare) => runLogged(config, { call: cf.call });
    const testKeyList = (run: Run) => splitStdinStep(byName(run, "mailhost-testkey")!.inputs.create, byName(run, "mailhost-testkey")!.inputs.stdin)!.stdin;

    it("the day a selector is revoked, its record in the zone (the stack's, still with its key) passes the zone check and changes to the empty p=", async () => {
        // Before: the revoked selector's empty p= was taken for a key of the user's (mailauth:dkimKeys) and
        // the stack's own record, still publishing the old key, was refused as "another key".
        const config = onCalendar("2026-12-15");
        const run = await runProgram(config, { call: zoneWith(config, ["20261127", "k20261201"]).call });
        expect(dkimOf(run)).toMatchObject({ "20261127": "v=DKIM1; p=" });
    });

    it("in the zone, and the resolvers answer: nothing, then another key, then its key; it signs only then", async () => {
        const config = asking("2027-05-30");
        const cf = zoneWith(config, ["k20261201", "k20270530"]);
        // The resolvers do not serve the name yet (NXDOMAIN): held, and said why.
        dns.zone = {};
        const none = await logged(config, cf);
        expect(tables(none.run, "SigningTable")).toContain("*@example.com k20261201._domainkey.example.com\n");
        expect(none.info).toContain(
            `example.com: k20270530 does not sign yet: the resolvers do not answer ${NEW} with a DKIM record yet (a cached absence lasts the zone's negative TTL, RFC 2308 5); k20261201 keeps signing (published with its key), and a later pulumi up switches once it is seen`,
        );
        // opendkim-testkey tests the selector that signs this run, with its published value.
        const digest = (v: string) => createHash("sha256").update(v).digest("hex").slice(0, 16);
        expect(testKeyList(none.run)).toMatch(new RegExp(`^example\\.com k20261201 ${digest(dkimOf(none.run)["k20261201"])}\n`));
        const mine = dkimOf(none.run)["k20270530"];
        // Another key at the name (an older record cached or served): held.
        dns.zone = { [NEW]: { TXT: [dkimOf(none.run)["k20261201"]] } };
        const other = await logged(config, cf);
        expect(tables(other.run, "SigningTable")).toContain("*@example.com k20261201._domainkey.example.com\n");
        expect(other.info.find((m) => m.startsWith("example.com: k20270530 does not sign yet: the resolvers answer"))).toMatch(
            /with another key \(p=MIIBIjANBgkq…\)/,
        );
        // Two records at the name, one of them its key: held too.
        dns.zone = { [NEW]: { TXT: [mine, "v=DKIM1; p="] } };
        expect(tables((await logged(config, cf)).run, "SigningTable")).toContain("*@example.com k20261201._domainkey.example.com\n");
        // Its key, as the stack publishes it: it signs.
        dns.zone = { [NEW]: { TXT: [mine] } };
        const seen = await logged(config, cf);
        expect(tables(seen.run, "SigningTable")).toContain("*@example.com k20270530._domainkey.example.com\n");
        expect(seen.info.filter((m) => m.includes("does not sign yet"))).toEqual([]);
        expect(testKeyList(seen.run)).toMatch(/^example\.com k20270530 [0-9a-f]{16}\n/);
        // Asked only on a day the gate decides: not while the next key is only published ahead.
        const asked = dns.queries.udp + dns.queries.tcp;
        const ahead = asking("2027-05-28");
        await runProgram(ahead, { call: zoneWith(ahead, ["k20261201", "k20270530"]).call });
        expect(dns.queries.udp + dns.queries.tcp).toBe(asked);
        expect(asked).toBeGreaterThan(0);
    });

    it("the listing's created_on: a record Cloudflare made an hour before now is held though the resolvers answer its key; a day after, it signs", async () => {
        const config = asking("2027-05-30T07:00:00Z");
        const cf = FakeCloudflare.forConfig(config);
        const record = (sel: string) =>
            cf.addRecord("example.com", { name: `${sel}._domainkey.example.com`, type: "TXT", content: '"v=DKIM1; k=rsa; p=MIIBIjANBgkq"', comment: OWN });
        cf.clock = () => Date.parse("2027-05-01T00:00:00Z");
        record("k20261201");
        cf.clock = () => Date.parse("2027-05-30T06:00:00Z");
        expect(record("k20270530").createdOn).toBe("2027-05-30T06:00:00.000Z");
        const first = await logged(config, cf);
        dns.zone = { [NEW]: { TXT: [dkimOf(first.run)["k20270530"]] } };
        const young = await logged(config, cf);
        expect(tables(young.run, "SigningTable")).toContain("*@example.com k20261201._domainkey.example.com\n");
        expect(young.info).toContain(
            "example.com: k20270530 does not sign yet: Cloudflare made its record at 2027-05-30T06:00:00.000Z, less than 86400 s (the longest negative caching of a Cloudflare zone, RFC 2308 5) before 2027-05-30T07:00:00.000Z: a resolver may still hold its absence; k20261201 keeps signing (published with its key), and a later pulumi up switches once it is seen",
        );
        const day1 = await logged(asking("2027-05-31T06:00:00Z"), cf);
        expect(tables(day1.run, "SigningTable")).toContain("*@example.com k20270530._domainkey.example.com\n");
    });

    it("DNS cannot be asked: the gate holds and says why", async () => {
        const view = await askDns(
            async () => {
                throw Object.assign(new Error("queryTxt ECONNREFUSED"), { code: "ECONNREFUSED" });
            },
            NEW,
            "MIIB",
        );
        expect(view).toEqual({ seen: "error", error: "ECONNREFUSED" });
        const d = domain("2027-05-30");
        const gate = gatedSelector(d, { inZone: ["k20261201", "k20270530"], createdOn: LONG_AGO, dns: view }, at("2027-05-30T00:00:00Z"));
        expect(gate).toMatchObject({ selector: "k20261201", held: "k20270530" });
        expect(gate.why).toBe(`DNS could not be asked for ${NEW} (ECONNREFUSED): the gate cannot see that resolvers have the key`);
    });

    it("not yet in the zone (no up ran during publishAhead): published now, the one before keeps signing; the next up switches", async () => {
        const config = asking("2027-05-30");
        const { run, info } = await logged(config, zoneWith(config, ["k20261201"]));
        expect(tables(run, "SigningTable")).toContain("*@example.com k20261201._domainkey.example.com\n");
        expect(tables(run, "SigningTable")).toContain("*@example.org 20261127._domainkey.example.org\n");
        expect(tables(run, "KeyTable")).toContain("k20261201._domainkey.example.com example.com:k20261201:");
        expect(tables(run, "KeyTable")).toContain("k20270530._domainkey.example.com example.com:k20270530:");
        expect(Object.keys(dkimOf(run)).sort()).toEqual(["k20261201", "k20270530"]);
        expect((run.outputs.selectors as any)["example.com"]).toMatchObject({ active: "k20270530", signing: "k20261201", previous: ["k20261201"] });
        expect(info).toContain(
            "example.com: k20270530 does not sign yet: its record was not in Cloudflare's zone when the run started; k20261201 keeps signing (published with its key), and a later pulumi up switches once it is seen",
        );
        // What preview tells for the day, per domain on a calendar.
        expect(info.find((l) => l.startsWith("example.com: DKIM rotation on 2027-05-30: k20270530 signs"))).toBeDefined();
        // The next run: the record is there now, and the resolvers answer it.
        dns.zone = { [NEW]: { TXT: [dkimOf(run)["k20270530"]] } };
        const next = await runProgram(config, { call: zoneWith(config, ["k20261201", "k20270530"]).call });
        expect(tables(next, "SigningTable")).toContain("*@example.com k20270530._domainkey.example.com\n");
    });

    it("past holdUntil (retire days after the period starts), a selector in Cloudflare's zone signs although the resolvers do not show it, and the run warns", async () => {
        dns.zone = {};
        const config = asking("2027-06-06");
        const { run, warn } = await logged(config, zoneWith(config, ["k20261201", "k20270530"]));
        expect(tables(run, "SigningTable")).toContain("*@example.com k20270530._domainkey.example.com\n");
        expect(warn).toContain(
            `example.com: k20270530 signs from this run although the resolvers do not answer ${NEW} with a DKIM record yet (a cached absence lasts the zone's negative TTL, RFC 2308 5): the signing gate holds a new key at most retire days after its period starts (until 2027-06-06), so that the one before it stays published 7 day(s) after it stopped signing`,
        );
        // The day before, it still holds.
        const before = await logged(asking("2027-06-05T23:59:59Z"), zoneWith(config, ["k20261201", "k20270530"]));
        expect(tables(before.run, "SigningTable")).toContain("*@example.com k20261201._domainkey.example.com\n");
    });

    it("only this stack's record with a key counts; nothing to fall back on, or an emergency: the new one signs at once", () => {
        const d = domain("2027-05-30");
        const now = at("2027-05-30T06:00:00Z");
        const both = { inZone: ["k20261201", "k20270530"], createdOn: LONG_AGO };
        expect(gatedSelector(d, { ...both, dns: KEY }, now)).toEqual({ selector: "k20270530" });
        expect(gatedSelector(d, { inZone: ["k20261201"], createdOn: LONG_AGO }, now)).toMatchObject({ selector: "k20261201", held: "k20270530" });
        // Neither there (a new stack): the active one, nothing else could sign.
        expect(gatedSelector(d, { inZone: [] }, now)).toEqual({ selector: "k20270530" });
        // The manual selector at the calendar's start, as the one before.
        expect(gatedSelector(domain("2026-12-01"), { inZone: ["20261127"] }, at("2026-12-01T06:00:00Z"))).toMatchObject({
            selector: "20261127",
            held: "k20261201",
        });
        // revokeNow: the next key signs at once.
        expect(gatedSelector(domain("2027-01-10", ["k20261201"]), { inZone: ["k20261201"] }, at("2027-01-10T06:00:00Z"))).toEqual({ selector: "k20270530" });
        // In the zone but the resolvers not asked (or not answering): held.
        expect(gatedSelector(d, both, now)).toMatchObject({ selector: "k20261201", held: "k20270530" });
        expect(needsDns(d, both, now)).toBe(true);
        expect(needsDns(d, { inZone: ["k20270530"], createdOn: LONG_AGO }, now)).toBe(false);
        expect(needsDns(d, { inZone: ["k20261201"], createdOn: LONG_AGO }, now)).toBe(false);
    });

    it("a record Cloudflare made less than a day before now is held, whatever the resolvers say: an absence cached before it may last 86400 s", () => {
        const d = domain("2027-05-30");
        const now = at("2027-05-30T06:00:00Z");
        const made = (iso: string | undefined) => ({
            inZone: ["k20261201", "k20270530"],
            createdOn: { k20261201: LONG_AGO.k20261201, k20270530: iso },
            dns: KEY,
        });
        const young = gatedSelector(d, made("2027-05-29T06:00:01.000Z"), now);
        expect(young).toMatchObject({ selector: "k20261201", held: "k20270530" });
        expect(young.why).toBe(
            "Cloudflare made its record at 2027-05-29T06:00:01.000Z, less than 86400 s (the longest negative caching of a Cloudflare zone, RFC 2308 5) before 2027-05-30T06:00:00.000Z: a resolver may still hold its absence",
        );
        expect(needsDns(d, made("2027-05-29T06:00:01.000Z"), now)).toBe(false);
        expect(gatedSelector(d, made("2027-05-29T06:00:00.000Z"), now)).toEqual({ selector: "k20270530" });
        // The API's own form, fractions of a second and all.
        expect(gatedSelector(d, made("2027-05-29T05:20:00.12345Z"), now)).toEqual({ selector: "k20270530" });
        // A listing that does not say: held.
        expect(gatedSelector(d, made(undefined), now).why).toBe("Cloudflare's listing does not say when its record was made (created_on)");
    });

    it("the zone check lists as in the zone only this stack's DKIM records that carry a key", async () => {
        const config = asking("2027-05-30");
        const cf = zoneWith(config, ["k20261201"]);
        cf.addRecord("example.com", { name: "k20270530._domainkey.example.com", type: "TXT", content: '"v=DKIM1; p="', comment: OWN });
        const run = await runProgram(config, { call: cf.call });
        expect(tables(run, "SigningTable")).toContain("*@example.com k20261201._domainkey.example.com\n");
    });
});

// ---------------------------------------------------------------- the overlap after the real switch

/**
 * Runs `pulumi up` on the given days (UTC instants) against a zone that holds what the last run
 * published and resolvers that serve what Cloudflare holds, as the gate sees them; per selector of
 * the calendar, the instant it stopped signing (the first run another signed) and the first run it
 * was no longer published with its key (revoked or gone). The retire overlap is the difference.
 */
function simulate(cal: Rotation, manual: string | undefined, ups: number[]) {
    let published = new Set<string>();
    let signer: string | undefined;
    const stopped = new Map<string, number>();
    const unpublished = new Map<string, number>();
    const signers: string[] = [];
    const madeAt = new Map<string, string>();
    for (const at of ups) {
        const today = dayOf(at);
        const plan = resolveRotation(cal, today, manual);
        const d = { name: "example.com", selector: plan.selector, rotation: plan };
        // Each record as Cloudflare made it at the run that first published it; resolvers serve what it holds.
        const seen: Seen = { inZone: [...published], createdOn: Object.fromEntries([...published].map((s) => [s.toLowerCase(), madeAt.get(s)])) };
        const gate = gatedSelector(d, { ...seen, dns: needsDns(d, seen, at) ? { seen: "key" } : undefined }, at);
        if (signer !== undefined && gate.selector !== signer && !stopped.has(signer)) stopped.set(signer, at);
        signer = gate.selector;
        signers.push(signer);
        const now = new Set([plan.selector, ...plan.previousSelectors]);
        for (const s of published) if (!now.has(s) && !unpublished.has(s)) unpublished.set(s, at);
        for (const s of now) if (!madeAt.has(s)) madeAt.set(s, new Date(at).toISOString());
        published = now;
    }
    /** Days each selector stayed published with its key after it stopped signing (only those retired within the runs). */
    const overlap = Object.fromEntries([...stopped].filter(([s]) => unpublished.has(s)).map(([s, t]) => [s, (unpublished.get(s)! - t) / DAY_MS]));
    return { overlap, signers };
}
const at = (text: string) => parseNow(text)!;
/** Daily ups at `hh:mm` UTC from `from` for `n` days, less the days listed in `skip`. */
function daily(from: string, n: number, time = "06:00", skip: string[] = []): number[] {
    return Array.from({ length: n }, (_, i) => dayText(day(from) + i))
        .filter((d) => !skip.includes(d))
        .map((d) => at(`${d}T${time}:00Z`));
}

describe("the previous selector stays published retire days after the new one really began signing", () => {
    it("daily ups: the switch on the period's first day, the old key published 14 days after (retire after the gate's latest switch)", () => {
        const { overlap } = simulate(CAL, "20261127", daily("2026-11-20", 60));
        expect(overlap).toEqual({ "20261127": 14 });
    });

    it("a late up: no up during publishAhead, the first one on day 2 publishes and holds; the switch on day 3 still leaves retire days", () => {
        // Ups until 2026-11-25, none 11-26 .. 12-02, then daily: 12-03 publishes k20261201, 12-04 switches.
        const ups = [...daily("2026-11-20", 6), ...daily("2026-12-03", 40)];
        const { overlap, signers } = simulate(CAL, "20261127", ups);
        expect(signers.slice(6, 8)).toEqual(["20261127", "k20261201"]);
        // Stopped 12-04 06:00, revoked at the first up from 12-15: 11 days, at least retire (before: from 12-08, 4 days).
        expect(overlap["20261127"]).toBe(11);
        expect(overlap["20261127"]).toBeGreaterThanOrEqual(CAL.retire);
    });

    it("a missed week of ups after the key was published ahead: the switch on day 6 still leaves retire days", () => {
        const ups = [...daily("2027-05-20", 9), ...daily("2027-06-05", 40)]; // last up 05-28 (published), next 06-05
        const { overlap, signers } = simulate(CAL, "20261127", ups);
        expect(signers.slice(8, 10)).toEqual(["k20261201", "k20270530"]);
        // Stopped 06-05, revoked 06-13: 8 days (before: revoked on 06-06, the day after it stopped).
        expect(overlap["k20261201"]).toBe(8);
    });

    it("any single gap in daily ups of up to retire days around a period start leaves at least retire days", () => {
        for (let gapStart = -5; gapStart <= 5; gapStart++) {
            for (let gap = 1; gap <= CAL.retire; gap++) {
                const skip = Array.from({ length: gap }, (_, i) => dayText(day("2027-05-30") + gapStart + i));
                const { overlap } = simulate(CAL, "20261127", daily("2027-05-15", 60, "06:00", skip));
                // Published ahead or not, the gate opens before holdUntil when the gap leaves an up before it.
                if (overlap["k20261201"] !== undefined) expect(overlap["k20261201"], `${gap} day(s) from ${gapStart}`).toBeGreaterThanOrEqual(CAL.retire);
            }
        }
    });

    it("period edges in UTC: the last second of the period's eve still signs the old key, its first second the new one", () => {
        const ups = [at("2027-05-28T12:00:00Z"), at("2027-05-29T23:59:59Z"), at("2027-05-30T00:00:00Z")];
        expect(simulate(CAL, "20261127", ups).signers).toEqual(["k20261201", "k20261201", "k20270530"]);
        // The old one's keyed stage ends at the midnight (UTC) 14 days later.
        expect(stageOf(CAL, 0, dayOf(at("2027-06-12T23:59:59Z")))?.stage).toBe("retiring");
        expect(stageOf(CAL, 0, dayOf(at("2027-06-13T00:00:00Z")))?.stage).toBe("revoked");
    });

    it("across a leap day: a period starting on 2028-02-29 switches then, and its predecessor's overlap counts the leap day", () => {
        const leap: Rotation = { start: day("2028-02-22"), every: 7, publishAhead: 2, retire: 2, revoke: 5 };
        expect(calendarSelector(periodStart(leap, 1))).toBe("k20280229");
        const { overlap, signers } = simulate(leap, undefined, daily("2028-02-20", 20));
        expect(signers[dayOf(at("2028-02-29T06:00:00Z")) - day("2028-02-20")]).toBe("k20280229");
        // k20280222 stopped 02-29, published with its key until 03-04 (02-29 + 2 retire held + 2): 4 days, the leap day one of them.
        expect(overlap["k20280222"]).toBe(4);
        expect(dayText(holdUntil(leap, day("2028-02-29")) + leap.retire)).toBe("2028-03-04");
    });
});

// ---------------------------------------------------------------- validation

const raw = exampleRawSettings;
const problems = settingsProblems;
const com = { name: "example.com", zoneId: "0123456789abcdef0123456789abcdef", selector: "20261127" };

describe("rotation settings: every problem at once, naming the setting and what is allowed", () => {
    it("bad durations, a bad start and a bad now, all in one list", () => {
        expect(
            problems(raw({ rotation: { start: "2026-02-30", every: "6m", retire: "0d", revoke: 30, extra: 1 }, now: "2027-05-30T12:00+02:00", ttl: 5 })),
        ).toEqual([
            `mailauth:now: must be a UTC date YYYY-MM-DD or date-time YYYY-MM-DDTHH:MM[:SS]Z (no other time zone), got "2027-05-30T12:00+02:00"`,
            `mailauth:rotation.extra: unknown setting; allowed here: start, every, publishAhead, retire, revoke`,
            `mailauth:rotation.start: must be a UTC date YYYY-MM-DD (the first period starts at its midnight, UTC), got "2026-02-30"`,
            `mailauth:rotation.every: must be a number of days such as 180d (1d to 3650d), got "6m"`,
            `mailauth:rotation.retire: must be a number of days such as 180d (1d to 3650d), got "0d"`,
            `mailauth:rotation.revoke: must be a number of days such as 180d (1d to 3650d), got "30"`,
            `mailauth:ttl: must be 1 (automatic) or a number of seconds from 60 to 86400, got 5`,
        ]);
    });

    it("publishAhead under every, retire under revoke, not too many old selectors; said once for the global calendar", () => {
        expect(problems(raw({ rotation: { start: "2026-12-01", every: "10d", publishAhead: "10d", retire: "30d", revoke: "30d" } }))).toEqual([
            `mailauth:rotation.publishAhead: 10d must be less than every (10d): the next key is published within the period before its own`,
            `mailauth:rotation.revoke: 30d must be more than retire (30d): the old key is revoked after it is retired, then removed`,
        ]);
        expect(problems(raw({ rotation: { start: "2026-12-01", every: "2d", publishAhead: "1d" } }))).toEqual([
            `mailauth:rotation.revoke: 30d with retire 7d and every 2d keeps 19 old selectors in the zone at once; at most 10 (retire + revoke at most 10 times every)`,
        ]);
    });

    it("a domain's own rotation is named at its own path", () => {
        expect(problems(raw({ domains: [{ ...com, rotation: { every: "4d", publishAhead: "4d" } }] }))).toEqual([
            `mailauth:domains[0].rotation.start: required for a rotation calendar, not set: the first period's start, a UTC date YYYY-MM-DD (or remove the rotation settings for manual rotation)`,
            `mailauth:domains[0].rotation.publishAhead: 4d must be less than every (4d): the next key is published within the period before its own`,
        ]);
        expect(problems(raw({ domains: [{ ...com, rotation: "2026-12-01" }] }))[0]).toMatch(
            /^mailauth:domains\[0\]\.rotation: must be an object with start, every, publishAhead, retire, revoke, got "2026-12-01"/,
        );
    });

    it("selector is required without a calendar only; revokeNow must not hold a key still published", () => {
        expect(problems(raw({ domains: [{ name: "example.com" }] }))).toEqual([`mailauth:domains[0].selector: required, not set`]);
        expect(problems(raw({ domains: [{ name: "example.com", rotation: { start: "2026-12-01" } }] }))).toEqual([]);
        expect(problems(raw({ domains: [{ ...com, revokeNow: ["20261127"] }] }))).toEqual([
            `mailauth:domains[0].revokeNow: "20261127" is the selector that signs; set a new selector in the same change (pulumi config set --path 'mailauth:domains[0].selector' <new>) and the old one is revoked while the new one signs`,
        ]);
        expect(problems(raw({ domains: [{ ...com, previousSelectors: ["old"], revokeNow: ["old", "bad_one"] }] }))).toEqual([
            `mailauth:domains[0].revokeNow: "bad_one" is not a valid selector (a DNS label: letters, digits, hyphens, at most 63)`,
            `mailauth:domains[0].revokeNow: "old" is also in previousSelectors (published with its key); list it in one of them`,
        ]);
        expect(problems(raw({ domains: [{ ...com, rotation: { start: "2026-12-01" }, previousSelectors: ["k20261201"] }], now: "2026-12-02" }))).toEqual([
            `mailauth:domains[0].previousSelectors: "k20261201" is a selector of the rotation calendar; drop it from previousSelectors`,
        ]);
    });

    it("the manual selector must not be one of the calendar's own; revokeNow on a calendar: others stay revoked while listed, the calendar's end with their period", () => {
        expect(problems(raw({ domains: [{ ...com, selector: "k20270530", rotation: { start: "2026-12-01" } }] }))).toEqual([
            `mailauth:domains[0].selector: "k20270530" is the calendar's own selector of the period starting 2027-05-30; on a calendar, selector is the one that signs before rotation.start: give that one, or leave selector out`,
        ]);
        // k20261130 is not a period start of this calendar: a selector like any other.
        expect(problems(raw({ domains: [{ ...com, selector: "k20261130", rotation: { start: "2026-12-01" } }] }))).toEqual([]);
        const d = validateSettings(raw({ domains: [{ ...com, rotation: { start: "2026-12-01" }, revokeNow: ["20250101", "k20261201"] }], now: "2027-08-01" }))
            .domains[0];
        expect([d.selector, d.previousSelectors, d.revokedSelectors]).toEqual(["k20270530", [], ["20250101"]]);
    });

    it("mailauth:rotation {} (Pulumi.yaml's default) and an empty now are manual rotation on the clock", () => {
        const s = validateSettings(raw({ rotation: {}, now: "" }));
        expect(s.domains.map((d) => [d.selector, d.previousSelectors, d.revokedSelectors, d.rotation])).toEqual([
            ["20261127", [], [], undefined],
            ["20261127", [], [], undefined],
        ]);
        expect(Math.abs(s.now - Date.now())).toBeLessThan(60_000);
    });
});
