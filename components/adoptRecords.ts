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
 * A take-over that fails part way puts back what that run deleted before it exits; the give-back
 * skips records already back, so a destroy that failed part way finishes when run again. A CNAME
 * at the zone's apex (flattened by Cloudflare) and records the stack imports are left alone.
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
    /** For TXT: only SPF (`v=spf1`) or DMARC (`v=dmarc1`) records, as the zone check tells them. */
    prefix?: string;
    /** Record ids left alone: the stack's record imports them (mailauth:importRecords). */
    keep?: string[];
}

/** `imports`: mailauth:importRecords (resource name to `<zone id>/<record id>`). */
export function adoptTargets(targets: Target[], imports: Record<string, string> = {}): AdoptTarget[] {
    return targets
        .filter((t) => t.kind !== "dkim")
        .map((t) => ({
            name: t.name,
            types: [t.type, "CNAME"],
            ...(t.kind === "spf" ? { prefix: "v=spf1" } : t.kind === "dmarc" ? { prefix: "v=dmarc1" } : {}),
            ...(imports[t.resource] ? { keep: [imports[t.resource].split("/")[1]] } : {}),
        }));
}

/**
 * Shared by both scripts: Cloudflare API v4 calls (developers.cloudflare.com/api, DNS records).
 *
 * The address is fixed: no setting or environment variable sends the token anywhere else (tests
 * preload test/cloudflare-https.cjs, which points this one address at their fake on loopback).
 *
 * The token: pulumi-command runs a local command with the CLI's environment and then the step's
 * `environment` input appended, the input winning on a name in both
 * (pulumi/pulumi-command v1.2.1 provider/pkg/provider/local/commandOutputs.go:81-86), and a delete
 * with the inputs kept in state (local/commandController.go:93-98); provider plugins inherit the
 * CLI's environment (pulumi/pulumi v3.259.0 sdk/go/common/resource/plugin/plugin.go:500,602). So
 * the token the program passed is MAILAUTH_CLOUDFLARE_TOKEN, and CLOUDFLARE_API_TOKEN is the CLI's
 * own at the time the script runs. The take-over uses the program's token first (the provider's:
 * cloudflare:apiToken, else CLOUDFLARE_API_TOKEN); the give-back, run at destroy from state,
 * prefers the CLI's token of that moment, then the one kept in state. Refused (401/403), the next is tried.
 * A token set in the stack's config after the last `pulumi up` cannot reach the give-back: even
 * `pulumi destroy --run-program` deletes a custom resource with its old inputs (pulumi/pulumi
 * v3.259.0 pkg/resource/deploy/step_generator.go:1022-1068, destroy mode); `pulumi up` first
 * stores it (README, "Your zone already has records").
 *
 * Calls answered 429 wait as Retry-After says (Cloudflare blocks a user for 5 minutes once past
 * 1,200 calls in 5 minutes: developers.cloudflare.com/fundamentals/api/reference/limits), up to 6
 * minutes in all; a lost answer or a 5xx is tried twice more. A retried POST answered 81058 ("An
 * identical record already exists") or a retried DELETE answered 404 had gone through the first time.
 */
const API = `
const https = require("https");
const zone = process.env.MAILAUTH_ZONE_ID;
const zoneName = (process.env.MAILAUTH_ZONE_NAME || "").toLowerCase().replace(/\\.$/, "");
const marker = process.env.MAILAUTH_MARKER;
const legacyMarker = process.env.MAILAUTH_LEGACY_MARKER;
const markerId = process.env.MAILAUTH_MARKER_ID;
// The stack's own records: its comment, its comment from before it had an identity, or any comment
// that leads with its identity (a renamed stack's, or one cut by Cloudflare): components/stackMarker.ts isOwn.
function own(c) { return typeof c === "string" && c !== "" && (c === marker || c === legacyMarker || (!!markerId && (c === "mailauth:" + markerId || c.startsWith("mailauth:" + markerId + " ")))); }
const targets = JSON.parse(process.env.MAILAUTH_TARGETS);
const kept = process.env.PULUMI_COMMAND_STDOUT ? JSON.parse(process.env.PULUMI_COMMAND_STDOUT) : [];
const log = (m) => process.stderr.write(m + "\\n");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let tokens = [];
function useTokens(list) { tokens = [...new Set(list.filter(Boolean))]; }
// node's own https rather than fetch: it starts in a fraction of the time and holds no idle sockets.
function request(method, path, body, token) {
  const data = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = https.request(new URL("https://api.cloudflare.com/client/v4" + path), { method, headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (text += c));
      res.on("end", () => {
        let json = {};
        try { json = JSON.parse(text); } catch {}
        resolve({ status: res.statusCode, headers: res.headers, json, text });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(data);
  });
}
async function cf(method, path, body) {
  let tries = 0, waited = 0, retried = false;
  for (;;) {
    let res;
    try {
      res = await request(method, path, body, tokens[0]);
    } catch (e) {
      if (++tries < 3) { retried = true; await sleep(1000 * tries); continue; }
      throw Object.assign(new Error(method + " " + path + ": " + (e && e.message || e)), { codes: [] });
    }
    const codes = (res.json.errors || []).map((x) => x.code);
    if (res.status === 429) {
      const s = Math.min(Math.max(Number(res.headers["retry-after"]) || 60, 1), 360);
      if (waited + s <= 360) { waited += s; retried = true; log("Cloudflare: too many requests (429); waiting " + s + " s as it asks"); await sleep(s * 1000); continue; }
    }
    if (res.status >= 500 && ++tries < 3) { retried = true; await sleep(1000 * tries); continue; }
    if ((res.status === 401 || res.status === 403) && tokens.length > 1) { tokens.shift(); log("Cloudflare refused the token (" + res.status + "); trying the other one (" + (tokens.length === 1 && process.env.MAILAUTH_CLOUDFLARE_TOKEN === tokens[0] ? "kept in the stack's state" : "CLOUDFLARE_API_TOKEN of this shell") + ")"); continue; }
    if (retried && method === "DELETE" && res.status === 404) return { result: null };
    if (res.status >= 300 || res.json.success === false) {
      throw Object.assign(new Error(method + " " + path + ": " + res.status + " " + JSON.stringify(res.json.errors || res.text)), { status: res.status, codes });
    }
    return res.json;
  }
}
function txt(c) { const m = [...c.matchAll(/"((?:[^"\\\\]|\\\\.)*)"/g)].map((x) => x[1].replace(/\\\\(.)/g, "$1")); return m.length && /^\\s*"/.test(c) ? m.join("") : c; }
const fqdn = (n) => String(n).toLowerCase().replace(/\\.$/, "");
// Which records at a target's name the stack's record replaces: the zone check's rule
// (components/zone.ts conflictsWith, isSpfValue, isDmarcValue; test/unit/adopt.test.ts checks they agree), and never a CNAME at the zone's apex, which Cloudflare flattens
// and allows MX and TXT beside (developers.cloudflare.com/dns/cname-flattening).
function replaced(t, r) {
  if (fqdn(r.name) !== t.name) return false;
  if (r.type === "CNAME") return t.name !== zoneName;
  if (r.type !== "TXT" || !t.prefix) return true;
  const v = txt(r.content).trim();
  return t.prefix === "v=spf1" ? /^v=spf1(\\s|$)/i.test(v) : t.prefix === "v=dmarc1" ? /^v=DMARC1\\s*(;|$)/i.test(v) : v.toLowerCase().startsWith(t.prefix);
}
async function list(name, type) {
  const out = [];
  for (let page = 1; ; page++) {
    const json = await cf("GET", "/zones/" + zone + "/dns_records?per_page=100&page=" + page + "&type=" + type + "&name=" + encodeURIComponent(name));
    out.push(...(json.result || []));
    const info = json.result_info;
    if (!info || !info.total_pages || page >= info.total_pages || !(json.result || []).length) return out;
  }
}
async function at(t, type) { return (await list(t.name, type)).filter((r) => r.type === type && replaced(t, r)); }
// What a record reaches the terminal as: anything but printable ASCII escaped (\\uXXXX), so that zone
// data cannot send escape codes, bidi or zero-width marks to the user's terminal; still valid JSON.
function esc(v) { return String(v).replace(/[^\\x20-\\x7e]/g, (c) => "\\\\u" + c.charCodeAt(0).toString(16).padStart(4, "0")); }
function describe(k) { return esc(k.type + " " + k.name + " " + JSON.stringify(k.content) + (k.priority !== undefined && k.priority !== null ? " priority " + k.priority : "")); }
function identical(r, k) {
  return r.type === k.type && fqdn(r.name) === fqdn(k.name) && (k.type === "TXT" ? txt(r.content) === txt(k.content) : fqdn(r.content) === fqdn(k.content)) && (k.type !== "MX" || r.priority === k.priority);
}
// Creates a kept record again, unless an identical one is there already (put back by an earlier
// run whose answer was lost, or by hand): Cloudflare would refuse it with 81058.
async function give(k) {
  if ((await list(k.name, k.type)).some((r) => identical(r, k))) return "was already back";
  const body = { name: k.name, type: k.type, content: k.content, ttl: k.ttl, proxied: k.proxied };
  if (k.priority !== undefined && k.priority !== null) body.priority = k.priority;
  if (k.comment) body.comment = k.comment;
  if (k.tags && k.tags.length) body.tags = k.tags;
  try {
    await cf("POST", "/zones/" + zone + "/dns_records", body);
  } catch (e) {
    if ((e.codes || []).includes(81058)) return "was already back";
    throw e;
  }
  return "put back";
}
function fail(e) { log(String(e && e.message || e)); process.exit(1); }
`;

/**
 * Removes the foreign records, keeping each in stdout (JSON list). A local command that fails
 * leaves nothing in state (the provider returns no outputs with the error: pulumi-go-provider
 * v1.3.0 infer/resource.go:1271-1292 for a create, :1463 for an update; the command's error is a
 * plain one, pulumi-command v1.2.1 local/commandOutputs.go:112-113), so a failure part way puts
 * back every record this run deleted before it exits, and names in full any it could not.
 */
const TAKE = `
useTokens([process.env.MAILAUTH_CLOUDFLARE_TOKEN, process.env.CLOUDFLARE_API_TOKEN]);
(async () => {
  const taken = [];
  try {
    for (const t of targets) for (const type of t.types) for (const r of await at(t, type)) {
      if (own(r.comment) || (t.keep || []).includes(r.id)) continue;
      const k = { name: r.name, type: r.type, content: r.content, ttl: r.ttl, proxied: r.proxied, priority: r.priority, comment: r.comment, tags: r.tags };
      await cf("DELETE", "/zones/" + zone + "/dns_records/" + r.id);
      taken.push(k);
      log("adopted " + describe(k));
    }
  } catch (e) {
    log("mailauth: adoptRecords: the take-over stopped: " + (e && e.message || e));
    const lost = [];
    for (const k of taken.reverse()) {
      try { log(describe(k) + ": " + (await give(k))); }
      catch (e2) { lost.push(k); log(describe(k) + ": could not be put back: " + (e2 && e2.message || e2)); }
    }
    if (lost.length) {
      log("mailauth: adoptRecords: " + lost.length + " record(s) deleted by this run could NOT be put back; create them again in Cloudflare (dashboard: DNS → Records) as they were:");
      for (const k of lost) log("  " + esc(JSON.stringify(k)));
    } else {
      log("mailauth: adoptRecords: every record this run deleted was put back; nothing was taken over. Run pulumi up again once the cause above is gone.");
    }
    process.exit(1);
  }
  kept.push(...taken);
  // Exit once written: nothing else may hold the process.
  process.stdout.write(JSON.stringify(kept), () => process.exit(0));
})().catch(fail);
`;

/**
 * Puts the kept records back; refuses while the stack's own records are still there. Records
 * already back are skipped, so a give-back that failed part way finishes when run again
 * (`pulumi destroy` again: a delete that failed keeps the step in state).
 */
const GIVE_BACK = `
useTokens([process.env.CLOUDFLARE_API_TOKEN, process.env.MAILAUTH_CLOUDFLARE_TOKEN]);
(async () => {
  for (const t of targets) for (const type of t.types) {
    const ours = (await at(t, type)).filter((r) => own(r.comment));
    const back = kept.filter((k) => fqdn(k.name) === t.name && k.type === type);
    if (ours.length > 0 && back.length > 0) throw new Error("mailauth: the stack still publishes " + type + " " + t.name + ": putting the record it adopted back would make two. Set mailauth:adoptRecords back to true; pulumi destroy gives adopted records back after removing the stack's own.");
  }
  const failed = [];
  for (const k of kept) {
    try { log(describe(k) + ": " + (await give(k))); }
    catch (e) { failed.push(k); log(describe(k) + ": could not be given back: " + (e && e.message || e)); }
  }
  if (failed.length) throw new Error("mailauth: adoptRecords: " + failed.length + " adopted record(s) not given back yet (listed above); run pulumi destroy again once the cause is gone: records already back are skipped");
  process.exit(0);
})().catch(fail);
`;

/**
 * One script, its part chosen by the command: `node -e SCRIPT take` (create, update) or
 * `node -e SCRIPT give-back` (delete). The script sits in the interpreter, the command is one word:
 * a failed local command's error quotes the command, then its output (pulumi-command v1.2.1
 * local/commandOutputs.go:113, `running %q:`), so the reason comes first, not 10 kB of script.
 * The interpreter is kept in state with the other inputs, so a delete runs this script too.
 */
export const ADOPT_SCRIPT = `${API}
const part = process.argv[1];
if (part === "take") {${TAKE}} else if (part === "give-back") {${GIVE_BACK}} else fail("mailauth: adopt step: unknown part " + JSON.stringify(part) + " (take or give-back)");
`;

export interface AdoptArgs {
    zoneId: pulumi.Input<string>;
    /** The zone's name: a CNAME at its apex is never taken over. */
    zoneName: pulumi.Input<string>;
    targets: AdoptTarget[];
    marker: pulumi.Input<string>;
    legacyMarker: string;
    markerId: pulumi.Input<string>;
    /** The Cloudflare API token (secret), as the provider gets it. */
    apiToken: pulumi.Input<string>;
}

export function adoptStep(name: string, args: AdoptArgs, opts: pulumi.CustomResourceOptions): command.local.Command {
    return new command.local.Command(
        name,
        {
            interpreter: ["node", "-e", ADOPT_SCRIPT],
            create: "take",
            update: "take",
            delete: "give-back",
            environment: {
                MAILAUTH_CLOUDFLARE_TOKEN: pulumi.secret(args.apiToken),
                MAILAUTH_ZONE_ID: args.zoneId,
                MAILAUTH_ZONE_NAME: args.zoneName,
                MAILAUTH_MARKER: args.marker,
                MAILAUTH_LEGACY_MARKER: args.legacyMarker,
                MAILAUTH_MARKER_ID: args.markerId,
                MAILAUTH_TARGETS: JSON.stringify(args.targets),
            },
            addPreviousOutputInEnv: true,
        },
        opts,
    );
}
