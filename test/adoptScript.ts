/**
 * Runs the adopt step's scripts (components/adoptRecords.ts) as pulumi-command's local.Command does,
 * against the fake Cloudflare API (test/cloudflare.ts) on loopback.
 *
 * The environment is built as the provider builds it: the CLI's own environment first, then the
 * step's `environment` input appended, so that a name in both takes the input's value
 * (pulumi/pulumi-command v1.2.1 provider/pkg/provider/local/commandOutputs.go:81-86; os/exec keeps
 * the last of duplicate keys). The scripts know only https://api.cloudflare.com; the preload
 * test/cloudflare-https.cjs sends those calls to the fake instead, and refuses any other address.
 */
import { execFile } from "child_process";
import * as http from "http";
import * as path from "path";
import type { AddressInfo } from "net";
import { ADOPT_SCRIPT } from "../components/adoptRecords";

const PRELOAD = path.join(__dirname, "cloudflare-https.cjs");

export interface ScriptRun {
    code: number;
    stdout: string;
    stderr: string;
}

/**
 * The step's command `which` as the provider runs it (its interpreter, then the command), with the CLI's environment `cli` (default: none of the Cloudflare variables) and
 * the step's environment `step` on top; `api` is the fake's URL.
 */
export function runStep(
    inputs: Record<string, any>,
    which: "create" | "update" | "delete",
    step: Record<string, string>,
    api: string,
    cli: Record<string, string> = {},
): Promise<ScriptRun> {
    // commandOutputs.go:41-51: the interpreter's words, then the command.
    return run(inputs.interpreter[0], [...inputs.interpreter.slice(1), inputs[which]!], step, api, cli);
}

function run(file: string, args: string[], step: Record<string, string>, api: string, cli: Record<string, string>): Promise<ScriptRun> {
    const base: Record<string, string | undefined> = { ...process.env };
    delete base.CLOUDFLARE_API_TOKEN;
    const env = { ...base, ...cli, NODE_OPTIONS: `--require ${PRELOAD}`, MAILAUTH_TEST_CLOUDFLARE_URL: api, ...step };
    return new Promise((resolve) => {
        execFile(file, args, { env }, (err, stdout, stderr) =>
            // commandOutputs.go:142-143: stdout kept without its last newline.
            resolve({ code: err ? ((err as any).code ?? 1) : 0, stdout: stdout.replace(/\n$/, ""), stderr }),
        );
    });
}

/**
 * A loopback proxy in front of the fake API that lets a test make a call fail as a network or
 * Cloudflare fault would: `fault` sees each call (method, path, count of such calls so far) and may
 * answer it itself (status and Cloudflare's error body) or drop the connection ("drop").
 */
export async function faultyApi(
    upstream: string,
    fault: (
        method: string,
        path: string,
        n: number,
    ) => { status: number; code: number; message: string; headers?: Record<string, string> } | "drop" | undefined,
): Promise<{ url: string; calls: string[]; close: () => Promise<void> }> {
    const calls: string[] = [];
    const counts = new Map<string, number>();
    const server = http.createServer((req, res) => {
        const key = `${req.method} ${req.url!.replace(/\?.*/, "").replace(/\/[0-9a-f]{32}$/, "/ID")}`;
        const n = (counts.get(key) ?? 0) + 1;
        counts.set(key, n);
        calls.push(`${req.method} ${req.url}`);
        const f = fault(req.method!, req.url!, n);
        if (f === "drop") {
            req.socket.destroy();
            return;
        }
        if (f) {
            res.writeHead(f.status, { "Content-Type": "application/json", ...(f.headers ?? {}) });
            res.end(JSON.stringify({ success: false, errors: [{ code: f.code, message: f.message }], messages: [], result: null }));
            return;
        }
        const url = new URL(req.url!, "http://x");
        const listing = req.method === "GET" && /\/dns_records$/.test(url.pathname);
        const up = http.request(upstream + req.url, { method: req.method, headers: req.headers }, (r) => {
            if (!listing || r.statusCode !== 200) {
                res.writeHead(r.statusCode!, r.headers);
                r.pipe(res);
                return;
            }
            // Cloudflare pages a listing: at most per_page records (default 100) of page `page`
            // (default 1), with result_info {page, per_page, count, total_count, total_pages}
            // (developers.cloudflare.com/api, DNS Records for a Zone: List DNS Records).
            let text = "";
            r.setEncoding("utf8");
            r.on("data", (c) => (text += c));
            r.on("end", () => {
                const json = JSON.parse(text);
                const perPage = Number(url.searchParams.get("per_page") ?? 100);
                const page = Number(url.searchParams.get("page") ?? 1);
                const all = json.result as unknown[];
                json.result = all.slice((page - 1) * perPage, page * perPage);
                json.result_info = {
                    page,
                    per_page: perPage,
                    count: json.result.length,
                    total_count: all.length,
                    total_pages: Math.ceil(all.length / perPage),
                };
                res.writeHead(200, { "Content-Type": "application/json" });
                res.end(JSON.stringify(json));
            });
        });
        up.on("error", () => res.destroy());
        req.pipe(up);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    return {
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        calls,
        close: () =>
            new Promise((r) => {
                server.close(() => r());
                server.closeAllConnections();
            }),
    };
}

/**
 * One function of the adopt script (components/adopt.js), by name, evaluated on its own: the script
 * runs its part when loaded, so a test takes the function's text (a one-line top-level function).
 */
export function scriptFunction(name: string): (...args: any[]) => any {
    const line = ADOPT_SCRIPT.split("\n").find((l) => l.startsWith(`function ${name}(`));
    if (!line || !line.endsWith("}")) throw new Error(`components/adopt.js has no one-line function ${name}`);
    return new Function(`${line}\nreturn ${name};`)();
}
