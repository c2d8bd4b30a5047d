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
import { canonicalIpv6 } from "../components/ipv6";

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
    /**
     * When Cloudflare made the record and last changed it, ISO 8601 in UTC: the API's `created_on` and
     * `modified_on` ("When the record was created.", "When the record was last modified.", Cloudflare
     * API reference, DNS Records, List DNS Records; e.g. "2014-01-01T05:20:00.12345Z"), the provider's
     * `createdOn`/`modifiedOn` (node_modules/@pulumi/cloudflare/types/output.d.ts GetDnsRecordsResult
     * ~10629, ~10645, 6.22.1). Named as the invoke returns them; the HTTP side answers snake_case.
     */
    createdOn: string;
    modifiedOn: string;
}

export interface FakeZone {
    id: string;
    name: string;
    account: { id: string; name: string };
    permissions: string[];
    records: FakeRecord[];
}

const API = "https://api.cloudflare.com/client/v4";
const STATUS: Record<number, string> = { 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 429: "Too Many Requests" };

/**
 * Cloudflare's global API limit: "1200 requests per five minutes per user ... If you exceed this limit, all
 * API calls for the next five minutes will be blocked, receiving a HTTP 429 response"
 * (developers.cloudflare.com/fundamentals/api/reference/limits, read 2026-12). The answer carries
 * `retry-after` (seconds, rounded up, same page). A 429 is not counted against the budget here.
 */
export class RateLimit {
    static readonly LIMIT = 1200;
    static readonly WINDOW_MS = 5 * 60_000;
    static readonly BLOCK_MS = 5 * 60_000;
    /** Times of the calls let through in the last window. */
    private times: number[] = [];
    private blockedUntil = 0;
    /** Every HTTP call made, refused ones included. */
    count = 0;
    refused = 0;
    constructor(public now: () => number = Date.now) {}
    /** One HTTP call: undefined when let through, else the seconds of retry-after. */
    take(): number | undefined {
        const t = this.now();
        this.count++;
        if (t < this.blockedUntil) {
            this.refused++;
            return Math.ceil((this.blockedUntil - t) / 1000);
        }
        this.times = this.times.filter((x) => x > t - RateLimit.WINDOW_MS);
        if (this.times.length >= RateLimit.LIMIT) {
            this.blockedUntil = t + RateLimit.BLOCK_MS;
            this.refused++;
            return Math.ceil(RateLimit.BLOCK_MS / 1000);
        }
        this.times.push(t);
        return undefined;
    }
}

/**
 * How the provider's list data sources read a listing (terraform-provider-cloudflare v5.22.0
 * internal/services/dns_record/list_data_source.go:65-94, zone/list_data_source.go, same code): maxItems
 * defaults to 1000; the first page, then `page.GetNextPage()` while the last page had results, stopping
 * once maxItems are read, and the result cut to maxItems (silently). GetNextPage asks for page+1 and
 * only stops on an empty page (cloudflare-go v6.6.0 packages/pagination/pagination.go,
 * V4PagePaginationArray.GetNextPage): a listing whose last page is short still costs one more, empty, call.
 * The data sources send no per_page, so the API's default page size applies: 100 for DNS records, 20 for
 * zones (Cloudflare API reference, List DNS Records / List Zones, `per_page`).
 */
export function providerPages<T>(items: T[], perPage: number, maxItems: number | undefined): { pages: number; result: T[] } {
    const max = maxItems && maxItems > 0 ? maxItems : 1000;
    let pages = 0;
    const acc: T[] = [];
    for (let page = 1; ; page++) {
        pages++;
        const got = items.slice((page - 1) * perPage, page * perPage);
        if (got.length === 0) break;
        acc.push(...got);
        if (acc.length >= max) break;
    }
    return { pages, result: acc.slice(0, max) };
}
/**
 * What Cloudflare refuses at one name for a CNAME: a CNAME where an A, AAAA or CNAME is (81053), an A or
 * AAAA where a CNAME is (81054) (developers.cloudflare.com/dns/manage-dns-records/troubleshooting/records-with-same-name;
 * codes and texts as Cloudflare answers them, quoted in cloudflare/terraform-provider-cloudflare#1247 and
 * favonia/cloudflare-ddns#990). Everything else beside a CNAME is taken: at the zone apex Cloudflare
 * flattens the CNAME and serves MX and TXT beside it (developers.cloudflare.com/dns/cname-flattening).
 */
export function cnameRefusal(
    z: { records: { name: string; type: string }[] },
    r: { name: string; type: string },
): { code: number; message: string } | undefined {
    const same = z.records.filter((x) => x.name.toLowerCase() === r.name.toLowerCase());
    if (r.type === "CNAME" && same.some((x) => ["A", "AAAA", "CNAME"].includes(x.type)))
        return { code: 81053, message: "An A, AAAA, or CNAME record with that host already exists." };
    if ((r.type === "A" || r.type === "AAAA") && same.some((x) => x.type === "CNAME"))
        return {
            code: 81054,
            message:
                "A CNAME record with that host already exists. For more details, refer to <https://developers.cloudflare.com/dns/manage-dns-records/troubleshooting/records-with-same-name/>.",
        };
    return undefined;
}
export const PER_PAGE = { dnsRecords: 100, zones: 20 };

export class FakeCloudflare {
    zones: FakeZone[] = [];
    /** What the token may do: Zone > Zone > Read, Zone > DNS > Read. */
    token = { zoneRead: true, dnsRead: true, dnsEdit: true };
    private next = 1;
    /** Every invoke made, by token. */
    calls: string[] = [];
    /** Every HTTP call to the API the provider's invokes (and the adopt step's scripts) made, per user. */
    rate = new RateLimit();
    /** Cloudflare's clock: what a new record's createdOn says (ms since the epoch). */
    clock: () => number = Date.now;
    /** HTTP calls made so far, refused ones included. */
    get apiCalls(): number {
        return this.rate.count;
    }

    /**
     * `pages` HTTP calls through the rate limit; the first one refused fails the invoke as the provider
     * reports it. cloudflare-go retries a 429 10 times, at most 30 s apart (internal/requestconfig/
     * requestconfig.go, v6.6.0: MaxRetries 10, retry-after honoured), about 3.5 minutes: less than the
     * 5-minute block, so a blocked call ends as a 429 error. The retries are not counted.
     */
    private spend(token: string, path: string, pages: number): void {
        for (let i = 0; i < pages; i++) {
            if (this.rate.take() !== undefined) {
                this.refuse(token, "GET", path, 429, 971, "Please wait and consider throttling your request speed");
            }
        }
    }

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

    /**
     * A record as Cloudflare keeps it. An AAAA record's content is stored in RFC 5952 form ("an AAAA record
     * with content `fe80::0:0:1` is stored and returned as `fe80::1`"), and a TXT record's content is at
     * most 2,048 characters (cloudflare/cloudflare-docs src/content/docs/dns/manage-dns-records/reference/
     * dns-record-types.mdx @3e5c0a7, A and AAAA; TXT). A longer TXT is refused here as a test's mistake:
     * the API's error code for it is not documented, so no code is made up for the HTTP side.
     */
    addRecord(
        zoneName: string,
        r: Omit<FakeRecord, "id" | "ttl" | "proxied" | "comment" | "tags" | "createdOn" | "modifiedOn"> & Partial<FakeRecord>,
    ): FakeRecord {
        if (r.type === "TXT" && r.content.length > 2048) throw new Error(`a TXT record of ${r.content.length} characters: Cloudflare holds at most 2,048`);
        const content = r.type === "AAAA" ? canonicalIpv6(r.content) : r.content;
        const made = new Date(this.clock()).toISOString();
        const rec: FakeRecord = {
            ttl: 1,
            proxied: false,
            comment: null,
            tags: [],
            createdOn: made,
            modifiedOn: r.createdOn ?? made,
            ...r,
            content,
            id: r.id ?? this.newId(),
        };
        const refused = cnameRefusal(this.zone(zoneName), rec);
        if (refused) throw Object.assign(new Error(`${refused.code} ${refused.message}`), refused);
        this.zone(zoneName).records.push(rec);
        return rec;
    }

    /** A new record's createdOn and modifiedOn by this account's clock, for a record a test puts in a zone itself. */
    times(): { createdOn: string; modifiedOn: string } {
        const made = new Date(this.clock()).toISOString();
        return { createdOn: made, modifiedOn: made };
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
                this.spend(args.token, `/zones/${i.zoneId}`, 1);
                if (!this.token.zoneRead && !this.token.dnsRead)
                    this.refuse(args.token, "GET", `/zones/${i.zoneId}`, 403, 9109, "Unauthorized to access requested resource");
                if (!z)
                    this.refuse(
                        args.token,
                        "GET",
                        `/zones/${i.zoneId}`,
                        404,
                        7003,
                        `Could not route to /zones/${i.zoneId}, perhaps your object identifier is invalid?`,
                    );
                return { id: z.id, zoneId: z.id, name: z.name, status: "active", account: z.account, permissions: z.permissions, type: "full" };
            }
            case "cloudflare:index/getZones:getZones": {
                // A token without Zone Read on a zone does not see it in the list.
                const seen = this.token.zoneRead ? this.zones.filter((z) => i.name === undefined || z.name === i.name) : [];
                const { pages, result: results } = providerPages(seen, PER_PAGE.zones, i.maxItems);
                this.spend(args.token, `/zones`, pages);
                return {
                    name: i.name,
                    match: "all",
                    maxItems: i.maxItems,
                    results: results.map((z) => ({ id: z.id, name: z.name, status: "active", account: z.account, type: "full" })),
                };
            }
            case "cloudflare:index/getDnsRecords:getDnsRecords": {
                const z = this.zones.find((x) => x.id === i.zoneId);
                const path = `/zones/${i.zoneId}/dns_records`;
                if (!this.token.dnsRead) this.refuse(args.token, "GET", path, 403, 10000, "Authentication error");
                if (!z) this.refuse(args.token, "GET", path, 404, 7003, `Could not route to ${path}, perhaps your object identifier is invalid?`);
                const { pages, result } = providerPages(this.list(z, { name: i.name, type: i.type }), PER_PAGE.dnsRecords, i.maxItems);
                this.spend(args.token, path, pages);
                return { zoneId: z.id, maxItems: i.maxItems, results: result };
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
                // The API's own names for the record's times (the invoke's are the provider's camelCase).
                const wire = ({ createdOn, modifiedOn, ...rest }: FakeRecord) => ({ ...rest, created_on: createdOn, modified_on: modifiedOn });
                const send = (status: number, json: unknown) => {
                    res.writeHead(status, { "Content-Type": "application/json" });
                    res.end(JSON.stringify(json));
                };
                const fail = (status: number, code: number, message: string) =>
                    send(status, { success: false, errors: [{ code, message }], messages: [], result: null });
                const wait = this.rate.take();
                if (wait !== undefined) {
                    res.writeHead(429, { "Content-Type": "application/json", "retry-after": String(wait) });
                    return res.end(
                        JSON.stringify({
                            success: false,
                            errors: [{ code: 971, message: "Please wait and consider throttling your request speed" }],
                            messages: [],
                            result: null,
                        }),
                    );
                }
                if (req.headers.authorization !== "Bearer test-token") return fail(403, 10000, "Authentication error");
                const url = new URL(req.url!, "http://x");
                const m = url.pathname.match(/^\/zones\/([^/]+)\/dns_records(?:\/([^/]+))?$/);
                const z = m && this.zones.find((x) => x.id === m[1]);
                if (!z) return fail(404, 7003, `Could not route to ${url.pathname}, perhaps your object identifier is invalid?`);
                if (req.method === "GET" && !m![2]) {
                    const name = url.searchParams.get("name") ?? undefined;
                    return send(200, {
                        success: true,
                        errors: [],
                        messages: [],
                        result: this.list(z, { name: name ? { exact: name } : undefined, type: url.searchParams.get("type") ?? undefined }).map(wire),
                    });
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
                    const refused = cnameRefusal(z, { ...r, name: r.name ?? "" });
                    if (refused) return fail(400, refused.code, refused.message);
                    if (this.identicalRecord(z, r)) return fail(400, 81058, "An identical record already exists.");
                    const rec = this.addRecord(z.name, { ...r, comment: r.comment ?? null, tags: r.tags ?? [] });
                    if (this.postAnswersToLose > 0) {
                        this.postAnswersToLose--;
                        return res.destroy();
                    }
                    return send(200, { success: true, errors: [], messages: [], result: wire(rec) });
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

/**
 * The zone check's reader over this fake, without the program around it: each method is the invoke
 * providerReader makes (components/zone.ts), answered by `call` as under Pulumi's mocks. For measuring
 * the check at sizes where running the whole program (a key per domain) would take minutes.
 */
export function zoneReaderOf(cf: FakeCloudflare): import("../components/zone").ZoneReader {
    const invoke = async (token: string, inputs: Record<string, unknown>) => cf.call({ token, inputs, provider: "" } as pulumi.runtime.MockCallArgs);
    return {
        async zoneById(zoneId) {
            const z = await invoke("cloudflare:index/getZone:getZone", { zoneId });
            return { id: z.id, name: z.name, permissions: z.permissions };
        },
        async allZones(maxItems) {
            const z = await invoke("cloudflare:index/getZones:getZones", { maxItems });
            return z.results.map((r: any) => ({ id: r.id, name: r.name, account: r.account }));
        },
        async recordsUnder(zoneId, suffix, maxItems) {
            return (await invoke("cloudflare:index/getDnsRecords:getDnsRecords", { zoneId, name: { endswith: suffix }, maxItems })).results;
        },
    };
}
