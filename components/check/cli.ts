/**
 * `npm run check`: the check of the `check` stack output (components/check), alone, for the
 * current stack, without `pulumi up`: a table, and exit status 0 (nothing fails), 1 (something
 * fails) or 2 (the check could not run: no config, bad settings, no stack outputs).
 *
 * What it reads: the stack's config as `pulumi config --json` prints it (the Pulumi CLI's
 * configValueJSON: per key `value`, a string, left out for a secret without --show-secrets, and
 * `secret`), read by the program's own reader and validation (components/config.ts,
 * components/settings.ts); the DKIM keys the stack published from `pulumi stack output --json`
 * (its `records`: what was published, as the stack output shows it, not the key state holds). Both
 * come from the Pulumi CLI by default, or from files saved from those commands (`--config FILE`,
 * `--outputs FILE`), e.g. for monitoring from a machine without the stack.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import { checkPublished, CheckResult, Status, worst } from "./index";
import { checkInput } from "./output";
import { readRawSettings } from "../config";
import { hostOwnSelectors, SettingsError, validateSettings } from "../settings";
import { installedSelectors } from "../hostFiles";
import { dkimRecordName, dkimPublicKey } from "../records/dkim";
import type { PublishedRecord } from "../mailDns";

export interface Io {
    out: (line: string) => void;
    err: (line: string) => void;
    /** Runs the Pulumi CLI with these arguments and returns its standard output. */
    pulumi: (args: string[]) => string;
}

const USAGE = "usage: npm run check [-- [--stack NAME] [--config FILE] [--outputs FILE]]";

export const defaultIo: Io = {
    out: (l) => process.stdout.write(`${l}\n`),
    err: (l) => process.stderr.write(`${l}\n`),
    pulumi: (args) => execFileSync("pulumi", args, { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 64 << 20 }),
};

/** `pulumi config --json` as the program sees it: `namespace:key` -> its text (secrets without a value left out). */
export function configValues(json: unknown): Record<string, string> {
    if (typeof json !== "object" || json === null || Array.isArray(json)) throw new Error("not the JSON object pulumi config --json prints");
    const values: Record<string, string> = {};
    for (const [key, v] of Object.entries(json as Record<string, { value?: unknown }>)) {
        if (typeof v?.value === "string") values[key] = v.value;
    }
    return values;
}

const MARK: Record<Status, string> = { pass: "ok  ", warn: "WARN", fail: "FAIL" };

/** The check as a table: one row per item (domain, check, status, reason), its fix below a row that does not pass. */
export function formatTable(result: CheckResult): string[] {
    const rows = Object.entries(result).flatMap(([domain, items]) => items.map((i) => ({ domain, ...i })));
    const w = {
        domain: Math.max(6, ...rows.map((r) => r.domain.length)),
        check: Math.max(5, ...rows.map((r) => r.check.length)),
    };
    const line = (d: string, c: string, s: string, r: string) => `${d.padEnd(w.domain)}  ${c.padEnd(w.check)}  ${s.padEnd(8)}${r}`;
    const lines = [line("DOMAIN", "CHECK", "STATUS", "REASON")];
    for (const r of rows) {
        lines.push(line(r.domain, r.check, MARK[r.status], r.reason));
        if (r.status !== "pass" && r.fix) lines.push(line("", "", "", `fix: ${r.fix}`));
    }
    const count = (s: Status) => rows.filter((r) => r.status === s).length;
    const domains = Object.values(result);
    lines.push(
        "",
        `${domains.length} domain(s): ${domains.filter((d) => worst(d) === "fail").length} failing; ${count("pass")} pass, ${count("warn")} warn, ${count("fail")} fail`,
    );
    return lines;
}

function option(argv: string[], name: string): string | undefined {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
}

/** Runs the check; the exit status. */
export async function main(argv: string[], io: Io = defaultIo): Promise<number> {
    const known = new Set(["--stack", "--config", "--outputs"]);
    for (let i = 0; i < argv.length; i += 2) {
        if (!known.has(argv[i]) || argv[i + 1] === undefined) {
            io.err(USAGE);
            return 2;
        }
    }
    const stack = option(argv, "--stack");
    const stackArgs = stack ? ["--stack", stack] : [];
    const read = (file: string | undefined, args: string[]) => JSON.parse(file ? fs.readFileSync(file, "utf8") : io.pulumi([...args, ...stackArgs]));
    let values: Record<string, string>;
    let outputs: { records?: PublishedRecord[]; selectors?: Record<string, { signing?: string }> };
    try {
        values = configValues(read(option(argv, "--config"), ["config", "--json"]));
        outputs = read(option(argv, "--outputs"), ["stack", "output", "--json"]);
    } catch (e) {
        io.err(`mailauth check: cannot read the stack's config and outputs: ${(e as Error).message}`);
        return 2;
    }
    // The program's own reader and validation, on the values the CLI would hand it (its runtime config store).
    pulumi.runtime.setAllConfig(values);
    const raw = readRawSettings(new pulumi.Config("mailauth"));
    // Neither is used by the check: the SSH key is a secret `pulumi config --json` leaves out, the token only adoptRecords needs.
    let settings;
    try {
        settings = validateSettings({ ...raw, sshPrivateKey: "ok", cloudflareToken: true });
    } catch (e) {
        if (!(e instanceof SettingsError)) throw e;
        io.err(e.message);
        return 2;
    }
    if (!Array.isArray(outputs.records)) {
        io.err("mailauth check: the stack has no records output (pulumi stack output --json): run pulumi up first");
        return 2;
    }
    // Each installed selector's key as the stack published it (its records output).
    const dkim = Object.fromEntries(
        settings.domains.map((d) => [
            d.name,
            // The hosts' own selectors too (mailauth:hosts[i].selector): the domain publishes them as well.
            [...installedSelectors(d), ...hostOwnSelectors(settings.hosts)].map((selector) => {
                const r = outputs.records!.find((x) => x.type === "TXT" && x.name === dkimRecordName(selector, d.name));
                return { selector, publicKey: r ? dkimPublicKey(r.value) : "" };
            }),
        ]),
    );
    // The selector that signs: on a calendar the `selectors` output's `signing` (what the SigningTable named at the last up), else the domain's selector.
    const signing = Object.fromEntries(
        settings.domains.flatMap((d) => {
            const s = outputs.selectors?.[d.name]?.signing;
            return typeof s === "string" ? [[d.name, s]] : [];
        }),
    );
    const result = await checkPublished(checkInput(settings, dkim, signing));
    for (const l of formatTable(result)) io.out(l);
    return Object.values(result).some((items) => worst(items) === "fail") ? 1 : 0;
}
