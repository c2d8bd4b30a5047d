/**
 * A Cloudflare account as the provider's data sources see it, for Pulumi's mocks (`call`), and
 * as its HTTP API answers (for the adopt step's scripts, which call the API themselves).
 *
 * Shapes: the invoke results are the SDK's (node_modules/@pulumi/cloudflare/getZone.d.ts
 * GetZoneResult, getZones.d.ts GetZonesResult, getDnsRecords.d.ts GetDnsRecordsResult; result
 * items in types/output.d.ts). HTTP bodies are Cloudflare API v4's envelope
 * `{success, errors: [{code, message}], messages, result}`. A refused call fails as the provider
 * reports it: terraform-provider-cloudflare's "failed to make http request" with cloudflare-go's
 * `METHOD "url": status text {body}` (internal/apierror/apierror.go). Which code Cloudflare gives
 * for which refusal (10000 authentication error, 9109 unauthorized, 7003 no route) is from its
 * API documentation only: this machine cannot reach Cloudflare.
 */
import * as http from "http";
import type { AddressInfo } from "net";
import type * as pulumi from "@pulumi/pulumi";

export interface FakeRecord {
    id: string;
    name: string;
    type: string;
    content: string;
    priority?: number;
    ttl: number;
    proxied: boolean;
    comment: string | null;
    tags: string[];
}

export interface FakeZone {
    id: string;
    name: string;
    account: { id: string; name: string };
    permissions: string[];
    records: FakeRecord[];
}

const API = "https://api.cloudflare.com/client/v4";
const STATUS: Record<number, string> = { 400: "Bad Request", 403: "Forbidden", 404: "Not Found" };

export class FakeCloudflare {
    zones: FakeZone[] = [];
    /** What the token may do: Zone > Zone > Read, Zone > DNS > Read. */
    token = { zoneRead: true, dnsRead: true, dnsEdit: true };
    private next = 1;
    /** Every invoke made, by token. */
    calls: string[] = [];

    /** The zones the example config names, empty. */
    static forConfig(config: Record<string, unknown>): FakeCloudflare {
        const cf = new FakeCloudflare();
        const domains = (config["mailauth:domains"] ?? []) as { name?: string; zoneId?: string }[];
        if (Array.isArray(domains)) {
            for (const d of domains) if (typeof d?.name === "string") cf.addZone(d.name, typeof d.zoneId === "string" ? d.zoneId : undefined);
        }
        return cf;
    }

    addZone(name: string, id?: string): FakeZone {
        const zone: FakeZone = {
            id: id ?? require("crypto").createHash("md5").update(name).digest("hex"),
            name,
            account: { id: "a".repeat(32), name: "Example account" },
            permissions: ["#zone:read", "#dns_records:read", "#dns_records:edit"],
            records: [],
        };
        this.zones.push(zone);
        return zone;
    }

    zone(name: string): FakeZone {
        const z = this.zones.find((x) => x.name === name);
        if (!z) throw new Error(`no fake zone ${name}`);
        return z;
    }

    addRecord(zoneName: string, r: Omit<FakeRecord, "id" | "ttl" | "proxied" | "comment" | "tags"> & Partial<FakeRecord>): FakeRecord {
        const rec: FakeRecord = { ttl: 1, proxied: false, comment: null, tags: [], ...r, id: r.id ?? this.newId() };
        this.zone(zoneName).records.push(rec);
        return rec;
    }

    newId(): string {
        return (this.next++).toString(16).padStart(32, "0");
    }

    /**
     * An invoke the API refused, as it reaches the program: the engine's "invocation of <tok> returned an
     * error: <provider error>" (pulumi/pulumi pkg/resource/deploy/source_eval.go, ResourceMonitor.Invoke) in
     * the gRPC error's details, which the SDK turns into `new Error(details)` (@pulumi/pulumi runtime/invoke.js ~242).
     */
    private refuse(token: string, method: string, path: string, status: number, code: number, message: string): never {
        const body = JSON.stringify({ success: false, errors: [{ code, message }], messages: [], result: null });
        const details = `invocation of ${token} returned an error: failed to make http request: ${method} "${API}${path}": ${status} ${STATUS[status]} ${body}`;
        throw Object.assign(new Error(details), { details, code: 2 });
    }

    /** Pulumi mocks' `call`: the provider's invokes. */
    call = (args: pulumi.runtime.MockCallArgs): Record<string, any> => {
        this.calls.push(args.token);
        const i = args.inputs;
        switch (args.token) {
            case "cloudflare:index/getZone:getZone": {
                const z = this.zones.find((x) => x.id === i.zoneId);
                if (!this.token.zoneRead && !this.token.dnsRead) this.refuse(args.token, "GET", `/zones/${i.zoneId}`, 403, 9109, "Unauthorized to access requested resource");
                if (!z) this.refuse(args.token, "GET", `/zones/${i.zoneId}`, 404, 7003, `Could not route to /zones/${i.zoneId}, perhaps your object identifier is invalid?`);
                return { id: z.id, zoneId: z.id, name: z.name, status: "active", account: z.account, permissions: z.permissions, type: "full" };
            }
            case "cloudflare:index/getZones:getZones": {
                // A token without Zone Read on a zone does not see it in the list.
                const results = this.token.zoneRead ? this.zones.filter((z) => z.name === i.name) : [];
                return { name: i.name, match: "all", results: results.map((z) => ({ id: z.id, name: z.name, status: "active", account: z.account, type: "full" })) };
            }
            case "cloudflare:index/getDnsRecords:getDnsRecords": {
                const z = this.zones.find((x) => x.id === i.zoneId);
                const path = `/zones/${i.zoneId}/dns_records`;
                if (!this.token.dnsRead) this.refuse(args.token, "GET", path, 403, 10000, "Authentication error");
                if (!z) this.refuse(args.token, "GET", path, 404, 7003, `Could not route to ${path}, perhaps your object identifier is invalid?`);
                return { zoneId: z.id, results: this.list(z, { name: i.name, type: i.type }) };
            }
            default:
                throw new Error(`unexpected invoke ${args.token}`);
        }
    };

    private list(z: FakeZone, f: { name?: { exact?: string; endswith?: string }; type?: string }): FakeRecord[] {
        return z.records
            .filter((r) => !f.type || r.type === f.type)
            .filter((r) => !f.name?.exact || r.name.toLowerCase() === f.name.exact.toLowerCase())
            .filter((r) => !f.name?.endswith || r.name.toLowerCase().endsWith(f.name.endswith.toLowerCase()))
            .map((r) => ({ ...r }));
    }

    /**
     * The record of the zone a POST would duplicate: Cloudflare refuses to create a record of the same
     * type, name and content as one the zone has (and for MX the same priority), answering 400 with
     * `{"code":81058,"message":"An identical record already exists."}` (as reported from the API in
     * jeessy2/ddns-go#1378; domain-facts.md). TXT content compared as its value (quoted chunks joined),
     * as Cloudflare stores TXT in quoted chunks whatever form it was sent in. TTL, proxied, comment and
     * tags do not make a record different.
     */
    identicalRecord(z: FakeZone, r: { name: string; type: string; content: string; priority?: number }): FakeRecord | undefined {
        const value = (c: string) => {
            const chunks = [...c.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((x) => x[1]);
            return chunks.length > 0 && /^\s*"/.test(c) ? chunks.join("") : c;
        };
        return z.records.find(
            (x) =>
                x.type === r.type &&
                x.name.toLowerCase() === String(r.name).toLowerCase() &&
                (r.type === "TXT" ? value(x.content) === value(r.content) : x.content.toLowerCase() === String(r.content).toLowerCase()) &&
                (r.type !== "MX" || x.priority === r.priority),
        );
    }

    /** A POST that fails part way: the next `n` record POSTs are carried out, then the connection closes before the answer. */
    losePostAnswers(n: number): void {
        this.postAnswersToLose = n;
    }
    private postAnswersToLose = 0;

    /** Cloudflare's HTTP API v4 for the DNS record calls the adopt step makes, on 127.0.0.1. */
    async serve(): Promise<{ url: string; close: () => Promise<void> }> {
        const server = http.createServer((req, res) => {
            let body = "";
            req.on("data", (c) => (body += c));
            req.on("end", () => {
                const send = (status: number, json: unknown) => {
                    res.writeHead(status, { "Content-Type": "application/json" });
                    res.end(JSON.stringify(json));
                };
                const fail = (status: number, code: number, message: string) => send(status, { success: false, errors: [{ code, message }], messages: [], result: null });
                if (req.headers.authorization !== "Bearer test-token") return fail(403, 10000, "Authentication error");
                const url = new URL(req.url!, "http://x");
                const m = url.pathname.match(/^\/zones\/([^/]+)\/dns_records(?:\/([^/]+))?$/);
                const z = m && this.zones.find((x) => x.id === m[1]);
                if (!z) return fail(404, 7003, `Could not route to ${url.pathname}, perhaps your object identifier is invalid?`);
                if (req.method === "GET" && !m![2]) {
                    const name = url.searchParams.get("name") ?? undefined;
                    return send(200, { success: true, errors: [], messages: [], result: this.list(z, { name: name ? { exact: name } : undefined, type: url.searchParams.get("type") ?? undefined }) });
                }
                if (!this.token.dnsEdit) return fail(403, 10000, "Authentication error");
                if (req.method === "DELETE" && m![2]) {
                    const at = z.records.findIndex((r) => r.id === m![2]);
                    if (at < 0) return fail(404, 81044, "Record does not exist.");
                    z.records.splice(at, 1);
                    return send(200, { success: true, errors: [], messages: [], result: { id: m![2] } });
                }
                if (req.method === "POST" && !m![2]) {
                    const r = JSON.parse(body);
                    if (this.identicalRecord(z, r)) return fail(400, 81058, "An identical record already exists.");
                    const rec = this.addRecord(z.name, { ...r, comment: r.comment ?? null, tags: r.tags ?? [] });
                    if (this.postAnswersToLose > 0) {
                        this.postAnswersToLose--;
                        return res.destroy();
                    }
                    return send(200, { success: true, errors: [], messages: [], result: rec });
                }
                return fail(400, 7000, "No route for that URI");
            });
        });
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        const port = (server.address() as AddressInfo).port;
        return {
            url: `http://127.0.0.1:${port}`,
            close: () =>
                new Promise((r) => {
                    server.close(() => r());
                    server.closeAllConnections();
                }),
        };
    }
}
