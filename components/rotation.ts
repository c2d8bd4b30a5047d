/**
 * DKIM rotation on a calendar (issue 20), mapped onto the manual mechanism: at a given `now`, the
 * calendar says which selector signs (a domain's `selector`), which are published with their key on
 * the host but do not sign (`previousSelectors`: the next period's, ahead of its start, and the last
 * period's, for `retire` days), and which are published revoked (`v=DKIM1; p=`, no key on the host)
 * until `revoke` days after they stopped signing. Everything after that is gone (record, key, key file).
 *
 * The signing gate (components/signingGate.ts) may keep the previous selector signing after its
 * period ended, until an `up` sees the new record in the zone and in DNS: at most `retire` days
 * (`holdUntil`). So the previous selector's later stages count from that latest switch, not from the
 * period's end: it stays published with its key `retire` days after the last day the gate may still
 * switch (`e + 2*retire`, e the end of its period), and is revoked until `revoke` days after it
 * (`e + retire + revoke`). The program's resources (keys, records) must follow from the config and
 * the date alone (they are registered before any Cloudflare or DNS answer is known), so this bound
 * is the memory, not a date read back from the zone: see docs/rotation-calendar.md, "The overlap".
 *
 * Period k starts at S_k = start + k*every (midnight UTC, whole days: no time zone, no leap-second or
 * DST arithmetic, a leap day is one day like any other) and its selector is `k<YYYYMMDD of S_k>`, so
 * the selectors follow from the config and the date alone: no provider, no state. The user's manual
 * `selector` is period -1's: it keeps signing until `start`, so moving to the calendar changes no key
 * under a live selector.
 *
 * Pure functions; components/settings.ts validates the settings and resolves each domain with `resolveRotation`.
 */

export const DAY_MS = 86_400_000;
export const MAX_DURATION_DAYS = 3650;

/** A domain's calendar, validated: `start` as a day number (days since 1970-01-01 UTC), durations in days. */
export interface Rotation {
    start: number;
    every: number;
    publishAhead: number;
    retire: number;
    revoke: number;
}

export const ROTATION_DEFAULTS = { every: "180d", publishAhead: "3d", retire: "7d", revoke: "30d" } as const;

/**
 * What a selector is doing at `now`:
 *   next      published, key on the host, not signing (from S_k - publishAhead)
 *   active    signing
 *   retiring  published, key on the host, not signing (until retire days after it stopped)
 *   revoked   published with an empty p= (RFC 6376 3.6.1), no key on the host (until revoke days after it stopped)
 */
export type Stage = "next" | "active" | "retiring" | "revoked";

export interface SelectorStage {
    selector: string;
    stage: Stage;
    /** The day (number) its current stage ends, if it ends. */
    until?: number;
    /** Set when revokeNow moved it here (revoked) or made it sign early (active). */
    emergency?: boolean;
}

export interface RotationPlan {
    /** Signs. */
    selector: string;
    /** Published with key, not signing (next, retiring), in that order. */
    previousSelectors: string[];
    /** Published with empty p=. */
    revokedSelectors: string[];
    /** Every selector of the calendar (and the manual one) still in the zone, and what it is doing. */
    stages: SelectorStage[];
    /** The day the active selector started signing (undefined for the manual selector before `start`, and for one signing early). */
    activeSince?: number;
    /**
     * The day (exclusive) by which the signing gate lets the active selector sign whatever the
     * resolvers answer (holdUntil of the period before it); undefined when it signs at once.
     */
    gateOpensBy?: number;
    /** The calendar's retire days: how long the selector before stays published with its key after the gate opens. */
    retire: number;
    /** The next day any stage changes, and what happens then. */
    nextChange?: { day: number; what: string };
    /** The next rotation: the day the next period starts, and its selector. */
    nextRotation: { day: number; selector: string };
}

/** Days since 1970-01-01 of a UTC date `YYYY-MM-DD`, or undefined if it is not a real date. */
export function parseDay(text: string): number | undefined {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
    if (!m) return undefined;
    const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
    const ms = Date.UTC(y, mo - 1, d);
    const back = new Date(ms);
    // Date.UTC rolls over (2027-02-29 is 2027-03-01): a date that does not come back as written is not one.
    if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return undefined;
    return ms / DAY_MS;
}

/**
 * `mailauth:now`: a UTC date (`2027-05-30`, midnight) or date-time (`2027-05-30T12:00`, `...:00Z`,
 * `...:00.000Z`) as milliseconds since the epoch; undefined if it is neither. No other time zone:
 * the calendar is in UTC.
 */
export function parseNow(text: string): number | undefined {
    const m = /^(\d{4}-\d{2}-\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,3})?)?Z?)?$/.exec(text);
    if (!m) return undefined;
    const day = parseDay(m[1]);
    if (day === undefined) return undefined;
    const [h, mi, s] = [Number(m[2] ?? 0), Number(m[3] ?? 0), Number(m[4] ?? 0)];
    if (h > 23 || mi > 59 || s > 59) return undefined;
    return day * DAY_MS + ((h * 60 + mi) * 60 + s) * 1000;
}

/** `<n>d`, n from 1 to 3650, as a number of days; undefined otherwise. */
export function parseDuration(text: string): number | undefined {
    const m = /^([1-9]\d{0,3})d$/.exec(text);
    if (!m) return undefined;
    const n = Number(m[1]);
    return n <= MAX_DURATION_DAYS ? n : undefined;
}

/** `YYYY-MM-DD` of a day number. */
export function dayText(day: number): string {
    return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

/** The selector of the period starting on `day`: `k` and its date, `k20261201` (a letter first: the CLI keeps it a string). */
export function calendarSelector(day: number): string {
    return `k${dayText(day).replace(/-/g, "")}`;
}

/** The period (k >= 0) of this calendar whose selector `selector` is, if any. */
export function periodOfSelector(r: Pick<Rotation, "start" | "every">, selector: string): number | undefined {
    const m = /^k(\d{4})(\d{2})(\d{2})$/i.exec(selector);
    const day = m ? parseDay(`${m[1]}-${m[2]}-${m[3]}`) : undefined;
    if (day === undefined || day < r.start || (day - r.start) % r.every !== 0) return undefined;
    return (day - r.start) / r.every;
}

/** S_k, the day period k starts. */
export function periodStart(r: Pick<Rotation, "start" | "every">, k: number): number {
    return r.start + k * r.every;
}

/** The period active on `day`: the k with S_k <= day < S_{k+1}; -1 (the manual selector's) before `start`. */
export function periodAt(r: Pick<Rotation, "start" | "every">, day: number): number {
    return day < r.start ? -1 : Math.floor((day - r.start) / r.every);
}

/** The day number of an instant (ms since the epoch), UTC. */
export function dayOf(ms: number): number {
    return Math.floor(ms / DAY_MS);
}

/** The natural stage of period j's selector on `day` (no revokeNow), or undefined (not yet, or gone). `j = -1`: the manual selector. */
export function stageOf(r: Rotation, j: number, day: number): { stage: Stage; until: number } | undefined {
    const s = j < 0 ? -Infinity : periodStart(r, j);
    const e = periodStart(r, j + 1);
    if (day < s - r.publishAhead) return undefined;
    if (day < s) return { stage: "next", until: s };
    if (day < e) return { stage: "active", until: e };
    // The gate may switch as late as holdUntil: the overlap and the revoked stage count from there.
    const stopped = holdUntil(r, e);
    if (day < stopped + r.retire) return { stage: "retiring", until: stopped + r.retire };
    if (day < stopped + r.revoke) return { stage: "revoked", until: stopped + r.revoke };
    return undefined;
}

/**
 * The last day (exclusive) on which the signing gate may still keep the selector of the period that
 * ended on `end` signing: `retire` days after. From then on the new selector signs if its record is
 * in the zone, seen by the resolvers or not (components/signingGate.ts), so the previous one stops
 * signing before this day and stays published with its key `retire` days after it.
 */
export function holdUntil(r: Pick<Rotation, "retire">, end: number): number {
    return end + r.retire;
}

const NEXT_STAGE: Record<Stage, string> = {
    next: "starts signing",
    active: "stops signing (kept published)",
    retiring: "is revoked (empty p=, key file removed)",
    revoked: "is removed from the zone",
};

/**
 * A domain's selectors on `day`. `manual`: the user's `selector` (period -1), if any. `revokeNow`:
 * selectors revoked at once whatever the calendar says; when the signing one is among them, the next
 * period's selector signs from now on (published in this same run: an emergency).
 */
export function resolveRotation(r: Rotation, day: number, manual: string | undefined, revokeNow: readonly string[] = []): RotationPlan {
    const k = periodAt(r, day);
    const selectorOf = (j: number) => (j < 0 ? manual : calendarSelector(periodStart(r, j)));
    const revoked = new Set(revokeNow);
    // Every period whose selector may still be in the zone: from the oldest one within `revoke` to the next.
    const oldest = Math.max(manual === undefined ? 0 : -1, k - Math.ceil((r.retire + r.revoke) / r.every) - 1);
    const stages: SelectorStage[] = [];
    let signer = k;
    while (selectorOf(signer) === undefined || revoked.has(selectorOf(signer)!)) signer++;
    for (let j = oldest; j <= Math.max(k + 1, signer); j++) {
        const selector = selectorOf(j);
        if (selector === undefined) continue;
        const natural = stageOf(r, j, day);
        if (j === signer) {
            stages.push({ selector, stage: "active", until: periodStart(r, j + 1), ...(j !== k ? { emergency: true } : {}) });
        } else if (natural === undefined) {
            continue;
        } else if (revoked.has(selector) && natural.stage !== "revoked") {
            // Kept revoked until its record would have gone anyway.
            stages.push({ selector, stage: "revoked", until: holdUntil(r, periodStart(r, j + 1)) + r.revoke, emergency: true });
        } else {
            stages.push({ selector, ...natural });
        }
    }
    const active = stages.find((s) => s.stage === "active")!;
    const changes = stages.filter((s) => s.until !== undefined && s.until > day).sort((a, b) => a.until! - b.until!);
    // The next period's selector is published publishAhead before it starts: a change too, if it is not yet.
    const nextJ = Math.max(k, signer) + 1;
    const upcoming = periodStart(r, nextJ) - r.publishAhead;
    const candidates: { day: number; what: string }[] = changes.map((s) => ({ day: s.until!, what: `${s.selector} ${NEXT_STAGE[s.stage]}` }));
    if (!stages.some((s) => s.selector === selectorOf(nextJ)) && upcoming > day) {
        candidates.push({ day: upcoming, what: `${selectorOf(nextJ)} is published (not signing yet)` });
    }
    const first = Math.min(...candidates.map((c) => c.day));
    const nextChange =
        candidates.length > 0
            ? {
                  day: first,
                  what: candidates
                      .filter((c) => c.day === first)
                      .map((c) => c.what)
                      .join("; "),
              }
            : undefined;
    return {
        selector: active.selector,
        previousSelectors: stages
            .filter((s) => s.stage === "next" || s.stage === "retiring")
            .sort(byStage)
            .map((s) => s.selector),
        revokedSelectors: stages.filter((s) => s.stage === "revoked").map((s) => s.selector),
        stages,
        // Early (revokeNow, or no manual selector before start): since a run this program cannot date.
        activeSince: signer >= 0 && signer === k ? periodStart(r, k) : undefined,
        gateOpensBy: signer >= 0 && signer === k ? holdUntil(r, periodStart(r, k)) : undefined,
        retire: r.retire,
        nextChange,
        nextRotation: { day: periodStart(r, nextJ), selector: selectorOf(nextJ)! },
    };
}

function byStage(a: SelectorStage, b: SelectorStage): number {
    return (a.stage === "next" ? 0 : 1) - (b.stage === "next" ? 0 : 1);
}

/** What preview and up say for one domain: the active selector, its age, the next rotation and the next change. */
export function rotationSummary(domain: string, plan: RotationPlan, day: number): string {
    const active = plan.stages.find((s) => s.stage === "active")!;
    const age =
        plan.activeSince !== undefined
            ? `signing for ${day - plan.activeSince} day(s)`
            : active.emergency
              ? "ahead of its period: the selector before it is in revokeNow, or there is no manual selector before the calendar starts"
              : "the manual selector, until the calendar starts";
    const parts = [
        `${domain}: DKIM rotation on ${dayText(day)}: ${plan.selector} signs (${age})`,
        `next rotation ${dayText(plan.nextRotation.day)} to ${plan.nextRotation.selector}`,
    ];
    const others = plan.stages.filter((s) => s.stage !== "active").map((s) => `${s.selector} ${s.stage}${s.emergency ? " (revokeNow)" : ""}`);
    if (others.length > 0) parts.push(`also in the zone: ${others.join(", ")}`);
    if (plan.nextChange) parts.push(`next change on ${dayText(plan.nextChange.day)} (the first pulumi up from then): ${plan.nextChange.what}`);
    return parts.join("; ");
}
