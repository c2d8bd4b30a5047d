/**
 * adoptRecords: the stack takes over the records already at the names it publishes, in the same
 * `pulumi up`. One local command per domain, run by the Pulumi CLI on the machine running it
 * (pulumi-command local.Command, `node -e`): on create it removes, through the Cloudflare API,
 * every record at those names that is not the stack's own (marked by its comment) and keeps
 * each one's content in its stdout; the stack's records are created after it. On delete
 * (`pulumi destroy`, after the stack's records are gone) it creates those records again as they
 * were. Update runs the create script again, starting from what it already kept
 * (PULUMI_COMMAND_STDOUT: node_modules/@pulumi/command/local/command.d.ts ~208, ~264).
 *
 * DKIM names are never adopted (a new key under a live selector breaks mail in transit).
 */
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { Target } from "./zone";

/** A name and the record types there that the stack's record replaces. */
export interface AdoptTarget {
    name: string;
    types: string[];
    /** For TXT: only records whose value starts so (case-insensitive), e.g. `v=spf1`. */
    prefix?: string;
}

export function adoptTargets(targets: Target[]): AdoptTarget[] {
    return targets
        .filter((t) => t.kind !== "dkim")
        .map((t) => ({
            name: t.name,
            types: [t.type, "CNAME"],
            ...(t.kind === "spf" ? { prefix: "v=spf1" } : t.kind === "dmarc" ? { prefix: "v=dmarc1" } : {}),
        }));
}

/** Shared by both scripts: Cloudflare API v4 calls (developers.cloudflare.com/api, DNS records). */
const API = `
const api = process.env.MAILAUTH_CLOUDFLARE_API || "https://api.cloudflare.com/client/v4";
const zone = process.env.MAILAUTH_ZONE_ID;
const marker = process.env.MAILAUTH_MARKER;
const targets = JSON.parse(process.env.MAILAUTH_TARGETS);
const kept = process.env.PULUMI_COMMAND_STDOUT ? JSON.parse(process.env.PULUMI_COMMAND_STDOUT) : [];
// node's own http(s) rather than fetch: it starts in a fraction of the time and holds no idle sockets.
function cf(method, path, body) {
  const url = new URL(api + path);
  const data = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = require(url.protocol === "http:" ? "http" : "https").request(url, { method, headers: { Authorization: "Bearer " + process.env.CLOUDFLARE_API_TOKEN, "Content-Type": "application/json" } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (text += c));
      res.on("end", () => {
        let json = {};
        try { json = JSON.parse(text); } catch {}
        if (res.statusCode >= 300 || json.success === false) reject(new Error(method + " " + url.pathname + ": " + res.statusCode + " " + JSON.stringify(json.errors || text)));
        else resolve(json.result);
      });
    });
    req.on("error", reject);
    req.end(data);
  });
}
function txt(c) { const m = [...c.matchAll(/"((?:[^"\\\\]|\\\\.)*)"/g)].map((x) => x[1]); return m.length && /^\\s*"/.test(c) ? m.join("") : c; }
async function at(t, type) {
  const list = await cf("GET", "/zones/" + zone + "/dns_records?per_page=100&type=" + type + "&name=" + encodeURIComponent(t.name));
  return list.filter((r) => r.name.toLowerCase() === t.name && (type !== "TXT" || !t.prefix || txt(r.content).trim().toLowerCase().startsWith(t.prefix)));
}
function fail(e) { process.stderr.write(String(e && e.message || e) + "\\n"); process.exit(1); }
`;

/** Removes the foreign records, keeping each in stdout (JSON list). */
export const TAKE_SCRIPT = `${API}
(async () => {
  for (const t of targets) for (const type of t.types) for (const r of await at(t, type)) {
    if (r.comment === marker) continue;
    await cf("DELETE", "/zones/" + zone + "/dns_records/" + r.id);
    kept.push({ name: r.name, type: r.type, content: r.content, ttl: r.ttl, proxied: r.proxied, priority: r.priority, comment: r.comment, tags: r.tags });
    process.stderr.write("adopted " + r.type + " " + r.name + " " + r.content + "\\n");
  }
  // Exit once written: fetch's idle keep-alive connections would hold the process for seconds.
  process.stdout.write(JSON.stringify(kept), () => process.exit(0));
})().catch(fail);
`;

/** Puts the kept records back; refuses while the stack's own records are still there. */
export const GIVE_BACK_SCRIPT = `${API}
(async () => {
  for (const t of targets) for (const type of t.types) {
    const own = (await at(t, type)).filter((r) => r.comment === marker);
    const back = kept.filter((k) => k.name.toLowerCase() === t.name && k.type === type);
    if (own.length > 0 && back.length > 0) throw new Error("mailauth: the stack still publishes " + type + " " + t.name + ": putting the record it adopted back would make two. Set mailauth:adoptRecords back to true; pulumi destroy gives adopted records back after removing the stack's own.");
  }
  for (const k of kept) {
    const body = { name: k.name, type: k.type, content: k.content, ttl: k.ttl, proxied: k.proxied };
    if (k.priority !== undefined && k.priority !== null) body.priority = k.priority;
    if (k.comment) body.comment = k.comment;
    if (k.tags && k.tags.length) body.tags = k.tags;
    await cf("POST", "/zones/" + zone + "/dns_records", body);
    process.stderr.write("gave back " + k.type + " " + k.name + " " + k.content + "\\n");
  }
  process.exit(0);
})().catch(fail);
`;

export interface AdoptArgs {
    zoneId: pulumi.Input<string>;
    targets: AdoptTarget[];
    marker: string;
    /** The Cloudflare API token (secret), as the provider gets it. */
    apiToken: pulumi.Input<string>;
}

export function adoptStep(name: string, args: AdoptArgs, opts: pulumi.CustomResourceOptions): command.local.Command {
    return new command.local.Command(
        name,
        {
            interpreter: ["node", "-e"],
            create: TAKE_SCRIPT,
            update: TAKE_SCRIPT,
            delete: GIVE_BACK_SCRIPT,
            environment: {
                CLOUDFLARE_API_TOKEN: pulumi.secret(args.apiToken),
                MAILAUTH_ZONE_ID: args.zoneId,
                MAILAUTH_MARKER: args.marker,
                MAILAUTH_TARGETS: JSON.stringify(args.targets),
            },
            addPreviousOutputInEnv: true,
        },
        opts,
    );
}
