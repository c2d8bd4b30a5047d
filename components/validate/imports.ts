/**
 * `mailauth:importRecords` as the CLI hands it to the program: a JSON map of the stack's record
 * resource name to "<zone id>/<record id>" (set with `pulumi config set --path`), or nothing. Its
 * shape is checked with the other settings, so that a bad entry is reported with every other problem
 * at once; which names are the stack's importable records is known only once the records are planned
 * (components/zoneGate.ts readImportRecords, which reads the map through this too).
 */
import { show } from "./show";

const IMPORT_ID = /^[0-9a-f]{32}\/[0-9a-f]{32}$/;

export interface ImportRecordsRead {
    /** The entries, once the map is well-formed; undefined when there is none or it is malformed. */
    entries?: Record<string, unknown>;
    /** Every problem: the map's own, or one per entry whose value is not an import id. */
    problems: string[];
    /** The problem of each entry with a bad value, by its key. */
    byKey: Map<string, string>;
}

export function readImportRecordsShape(raw: unknown, example = "example.com-spf"): ImportRecordsRead {
    let value = raw;
    if (typeof raw === "string") {
        try {
            value = raw.trim() === "" ? {} : JSON.parse(raw);
        } catch {
            value = raw;
        }
    }
    if (value === undefined || value === null) return { problems: [], byKey: new Map() };
    if (typeof value !== "object" || Array.isArray(value)) {
        return {
            byKey: new Map(),
            problems: [
                `mailauth:importRecords: must be a map of record resource name to "<zone id>/<record id>", e.g. {"${example}": "<zone id>/<record id>"}, got ${show(value)}`,
            ],
        };
    }
    const byKey = new Map<string, string>();
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== "string" || !IMPORT_ID.test(v)) {
            byKey.set(k, `mailauth:importRecords[${show(k)}]: must be "<zone id>/<record id>" (32 hex digits each, as the preview prints it), got ${show(v)}`);
        }
    }
    return { entries: value as Record<string, unknown>, problems: [...byKey.values()], byKey };
}
