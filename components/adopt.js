
const https = require("https");
const zone = process.env.MAILAUTH_ZONE_ID;
const zoneName = (process.env.MAILAUTH_ZONE_NAME || "").toLowerCase().replace(/\.$/, "");
const marker = process.env.MAILAUTH_MARKER;
const legacyMarker = process.env.MAILAUTH_LEGACY_MARKER;
const markerId = process.env.MAILAUTH_MARKER_ID;
// The stack's own records: its comment, its comment from before it had an identity, or any comment
// that leads with its identity (a renamed stack's, or one cut by Cloudflare): components/stackMarker.ts isOwn.
function own(c) { return typeof c === "string" && c !== "" && (c === marker || c === legacyMarker || (!!markerId && (c === "mailauth:" + markerId || c.startsWith("mailauth:" + markerId + " ")))); }
const targets = JSON.parse(process.env.MAILAUTH_TARGETS);
const kept = process.env.PULUMI_COMMAND_STDOUT ? JSON.parse(process.env.PULUMI_COMMAND_STDOUT) : [];
const log = (m) => process.stderr.write(m + "\n");
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
function txt(c) { const m = [...c.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((x) => x[1].replace(/\\(.)/g, "$1")); return m.length && /^\s*"/.test(c) ? m.join("") : c; }
const fqdn = (n) => String(n).toLowerCase().replace(/\.$/, "");
// Which records at a target's name the stack's record replaces: the zone check's rule
// (components/zone.ts conflictsWith, isSpfValue, isDmarcValue; test/unit/adopt.test.ts checks they agree), and never a CNAME at the zone's apex, which Cloudflare flattens
// and allows MX and TXT beside (developers.cloudflare.com/dns/cname-flattening).
function replaced(t, r) {
  if (fqdn(r.name) !== t.name) return false;
  if (r.type === "CNAME") return t.name !== zoneName;
  if (r.type !== "TXT" || !t.prefix) return true;
  const v = txt(r.content).trim();
  return t.prefix === "v=spf1" ? /^v=spf1(\s|$)/i.test(v) : t.prefix === "v=dmarc1" ? /^v=DMARC1\s*(;|$)/i.test(v) : v.toLowerCase().startsWith(t.prefix);
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
// What a record reaches the terminal as: anything but printable ASCII escaped (\uXXXX), so that zone
// data cannot send escape codes, bidi or zero-width marks to the user's terminal; still valid JSON.
function esc(v) { return String(v).replace(/[^\x20-\x7e]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0")); }
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

const part = process.argv[1];
if (part === "take") {
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
} else if (part === "give-back") {
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
} else fail("mailauth: adopt step: unknown part " + JSON.stringify(part) + " (take or give-back)");
