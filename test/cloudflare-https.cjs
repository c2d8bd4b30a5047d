/**
 * Preloaded (`node --require`) into the adopt step's scripts under test only: their calls to
 * Cloudflare's API (https://api.cloudflare.com/client/v4, the one address the shipped scripts
 * know) are sent instead to the fake API on loopback named by MAILAUTH_TEST_CLOUDFLARE_URL
 * (test/cloudflare.ts serve()). Any other https address is refused: a test never leaves the machine.
 */
"use strict";
const http = require("http");
const https = require("https");

const target = new URL(process.env.MAILAUTH_TEST_CLOUDFLARE_URL || "http://127.0.0.1:1");
if (target.protocol !== "http:" || !["127.0.0.1", "[::1]", "localhost"].includes(target.hostname)) {
    throw new Error(`MAILAUTH_TEST_CLOUDFLARE_URL must be http on loopback, got ${target.href}`);
}

https.request = function request(url, options, callback) {
    const u = url instanceof URL ? url : new URL(String(url));
    if (u.host !== "api.cloudflare.com" || !u.pathname.startsWith("/client/v4/")) {
        throw new Error(`test: no request to ${u.href} (only Cloudflare's API, sent to the fake)`);
    }
    const to = new URL(u.pathname.slice("/client/v4".length) + u.search, target);
    return http.request(to, options, callback);
};
