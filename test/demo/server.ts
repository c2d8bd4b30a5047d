/**
 * What the demo shows about the server, read from the server itself: its files (straight from
 * the container's filesystem on this machine, so reading them changes nothing on it) and its
 * Postfix settings (`postconf -n`, `postconf -M`).
 */
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/** Where the stack writes: OpenDKIM's and Postfix's files, users and groups, its own state. */
export const WATCHED = ["/etc", "/var/lib/mailauth", "/var/spool/postfix/opendkim"];
/** Never printed, only named: secrets or password hashes. */
const SECRET = [/\.private$/, /^\/etc\/g?shadow-?$/, /\/ssh_host_.*_key$/];
/** Shown as Postfix settings instead (postconf -n / -M). */
const AS_SETTINGS = ["/etc/postfix/main.cf", "/etc/postfix/master.cf"];

export interface Entry {
    kind: "file" | "dir" | "link";
    mode: string;
    owner: string;
    sha?: string;
    text?: string;
}
export type FileSnapshot = Map<string, Entry>;

function names(root: string, file: string): Map<number, string> {
    const m = new Map<number, string>();
    for (const line of fs.readFileSync(path.join(root, file), "utf8").split("\n")) {
        const f = line.split(":");
        if (f.length > 2) m.set(Number(f[2]), f[0]);
    }
    return m;
}

/** Every file, directory and link under WATCHED, with mode, owner and content hash. */
export function snapshotFiles(root: string): FileSnapshot {
    const users = names(root, "etc/passwd");
    const groups = names(root, "etc/group");
    const snap: FileSnapshot = new Map();
    const walk = (rel: string) => {
        const abs = path.join(root, rel);
        let st: fs.Stats;
        try {
            st = fs.lstatSync(abs);
        } catch {
            return;
        }
        const owner = `${users.get(st.uid) ?? st.uid}:${groups.get(st.gid) ?? st.gid}`;
        const mode = (st.mode & 0o7777).toString(8).padStart(4, "0");
        if (st.isDirectory()) {
            snap.set(rel, { kind: "dir", mode, owner });
            for (const child of fs.readdirSync(abs).sort()) walk(path.posix.join(rel, child));
        } else if (st.isSymbolicLink()) {
            snap.set(rel, { kind: "link", mode, owner, sha: fs.readlinkSync(abs) });
        } else if (st.isFile()) {
            const content = fs.readFileSync(abs);
            const entry: Entry = { kind: "file", mode, owner, sha: crypto.createHash("sha256").update(content).digest("hex") };
            if (content.length < 256 * 1024 && !content.includes(0)) entry.text = content.toString("utf8");
            snap.set(rel, entry);
        }
    };
    for (const dir of WATCHED) walk(dir);
    return snap;
}

/** `diff -u` of two texts, headers dropped, at most `max` lines. */
export function diffText(before: string, after: string, context = 1, max = 30): string[] {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mailauth-demo-diff-"));
    try {
        fs.writeFileSync(path.join(dir, "a"), before);
        fs.writeFileSync(path.join(dir, "b"), after);
        let out = "";
        try {
            out = execFileSync("diff", [`-U${context}`, path.join(dir, "a"), path.join(dir, "b")], { encoding: "utf8" });
        } catch (e: any) {
            if (e.status !== 1) throw e;
            out = e.stdout;
        }
        const lines = out
            .split("\n")
            .slice(2)
            .filter((l) => l !== "" && !l.startsWith("\\"));
        return lines.length > max ? [...lines.slice(0, max), `… ${lines.length - max} more lines`] : lines;
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

export interface FileChange {
    path: string;
    what: "added" | "removed" | "changed";
    lines: string[];
}

function describe(p: string, e: Entry): string {
    return `${e.kind === "dir" ? "directory, " : e.kind === "link" ? `link to ${e.sha}, ` : ""}${e.mode} ${e.owner}`;
}

/** What changed between two snapshots, each with what a person wants to see of it. */
export function fileChanges(before: FileSnapshot, after: FileSnapshot, opts: { maxNewLines?: number } = {}): FileChange[] {
    const maxNew = opts.maxNewLines ?? 12;
    const changes: FileChange[] = [];
    const all = [...new Set([...before.keys(), ...after.keys()])].sort();
    for (const p of all) {
        const [b, a] = [before.get(p), after.get(p)];
        const secret = SECRET.some((r) => r.test(p));
        if (!b && a) {
            const lines: string[] = [describe(p, a)];
            if (a.kind === "file") {
                if (secret) lines[0] += ", secret: content not shown";
                else if (a.text !== undefined) {
                    const text = a.text.replace(/\n$/, "").split("\n");
                    lines[0] += `, ${text.length} line${text.length === 1 ? "" : "s"}`;
                    if (text.length <= maxNew) lines.push(...text.map((l) => `  ${l}`));
                }
            }
            changes.push({ path: p, what: "added", lines });
        } else if (b && !a) {
            changes.push({ path: p, what: "removed", lines: [describe(p, b)] });
        } else if (b && a && (b.sha !== a.sha || b.mode !== a.mode || b.owner !== a.owner || b.kind !== a.kind)) {
            const lines: string[] = [];
            if (b.mode !== a.mode || b.owner !== a.owner) lines.push(`${describe(p, b)} -> ${a.mode} ${a.owner}`);
            if (b.sha !== a.sha) {
                if (AS_SETTINGS.includes(p)) lines.push("(see the Postfix settings)");
                else if (/^\/etc\/[a-z]+-$/.test(p)) lines.push("the backup copy the system's user tools keep");
                else if (secret || b.text === undefined || a.text === undefined) lines.push("content changed (not shown)");
                else {
                    const diff = diffText(b.text, a.text, 1, 1000);
                    const settings = a.text.split("\n").filter((l) => l.trim() && !l.trimStart().startsWith("#"));
                    if (diff.length <= 16) lines.push(...diff);
                    else lines.push(`rewritten (${diff.length} diff lines); now, comments left out:`, ...settings.map((l) => `  ${l}`));
                }
            }
            changes.push({ path: p, what: "changed", lines });
        }
    }
    return changes;
}

/** Postfix's settings that differ from its defaults, and its services (master.cf). */
export interface PostfixSnapshot {
    main: string;
    master: string;
}
