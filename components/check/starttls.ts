/**
 * STARTTLS on port 25, as a sending server meets it (`mailauth:check.starttls`, off by default):
 * connect to a host address, read the greeting, EHLO, STARTTLS (RFC 3207 4-5), then the TLS
 * handshake with the MX host name as SNI, and look at the certificate offered.
 *
 * - The name: `tls.checkServerIdentity(mxHost, cert)` (Node's own RFC 6125 matching: subjectAltName
 *   DNS names, wildcards in the first label; the CN only without DNS names). A mismatch fails.
 * - The dates: `valid_from`/`valid_to` against the clock. Expired or not yet valid fails.
 * - The issuer: the chain against Node's CA bundle (the socket's `authorizationError`). Self-signed
 *   or an unknown issuer is a warning, not a fail: senders deliver over STARTTLS without checking
 *   the certificate unless the domain asks them to (opportunistic TLS, RFC 7435; Postfix's own
 *   default `smtp_tls_security_level` is `may`, which encrypts and does not verify), so such a
 *   certificate still carries the mail encrypted; but a sender that enforces MTA-STS (RFC 8461
 *   4.2: the certificate must chain to a trusted root and name the MX host) or a DANE TLSA record
 *   with PKIX usages refuses it, and such a domain would then receive no mail from them.
 *
 * It runs from the machine running the check, not from a receiver's network: where that machine's
 * network blocks outbound port 25 (many home and cloud networks do), the probe times out.
 */
import * as net from "net";
import * as tls from "tls";
import type { CheckItem } from "./index";

export interface StarttlsOptions {
    /** Default 25. */
    port?: number;
    /** For the whole exchange, in ms (default 10,000). */
    timeoutMs?: number;
    /** CAs to trust instead of Node's bundle (tests); unset: Node's bundle (tls.rootCertificates). */
    ca?: string[];
}

export type StarttlsResult =
    | { kind: "tls"; cert: tls.PeerCertificate; authorizationError?: string; protocol: string | null }
    | { kind: "no-starttls"; ehlo: string[] }
    | { kind: "refused" | "timeout" | "error"; message: string };

/** An SMTP reply: its lines (without CRLF) up to the one whose code is followed by a space (RFC 5321 4.2.1). */
function replyReader(socket: net.Socket) {
    let buffered = "";
    let pending: { resolve: (lines: string[]) => void; reject: (e: Error) => void } | undefined;
    let lines: string[] = [];
    let failed: Error | undefined;
    const feed = () => {
        for (;;) {
            const at = buffered.indexOf("\n");
            if (at < 0 || !pending) return;
            const line = buffered.slice(0, at).replace(/\r$/, "");
            buffered = buffered.slice(at + 1);
            lines.push(line);
            if (!/^\d{3}-/.test(line)) {
                const p = pending;
                const reply = lines;
                pending = undefined;
                lines = [];
                p.resolve(reply);
            }
        }
    };
    const onData = (d: Buffer) => {
        buffered += d.toString("latin1");
        // A reply line is at most 512 octets (RFC 5321 4.5.3.1.5): a server that sends far more without an end is not an SMTP server.
        if (buffered.length > 65_536) return fail(new Error("a reply line longer than 64 KiB"));
        feed();
    };
    socket.on("data", onData);
    const fail = (e: Error) => {
        failed = e;
        pending?.reject(e);
        pending = undefined;
    };
    socket.on("error", fail);
    socket.on("close", () => fail(new Error("the server closed the connection")));
    return {
        next: () =>
            new Promise<string[]>((resolve, reject) => {
                if (failed) return reject(failed);
                pending = { resolve, reject };
                feed();
            }),
        /** Stops reading: the TLS socket takes the connection over (no bytes may be left: RFC 3207 4.2). */
        detach: () => {
            socket.off("data", onData);
            socket.off("error", fail);
            socket.removeAllListeners("close");
        },
    };
}

const code = (reply: string[]) => Number(reply.at(-1)?.slice(0, 3));

/** The EHLO argument: this end's address as an address literal (RFC 5321 4.1.3), as it has no name a receiver could check. */
function addressLiteral(socket: net.Socket): string {
    const a = socket.localAddress ?? "127.0.0.1";
    return net.isIPv6(a) ? `[IPv6:${a}]` : `[${a}]`;
}

/** Connects to `ip` port 25 (or `port`), EHLO, STARTTLS, the handshake with `servername`; what it found. */
export function probeStarttls(ip: string, servername: string, opts: StarttlsOptions = {}): Promise<StarttlsResult> {
    const { port = 25, timeoutMs = 10_000, ca } = opts;
    return new Promise<StarttlsResult>((resolve) => {
        const socket = net.connect({ host: ip, port });
        let tlsSocket: tls.TLSSocket | undefined;
        let done = false;
        const finish = (r: StarttlsResult) => {
            if (done) return;
            done = true;
            clearTimeout(timer);
            tlsSocket?.destroy();
            socket.destroy();
            resolve(r);
        };
        const timer = setTimeout(() => finish({ kind: "timeout", message: `no answer within ${timeoutMs / 1000} s` }), timeoutMs);
        socket.once("error", (e: NodeJS.ErrnoException) =>
            finish(e.code === "ECONNREFUSED" ? { kind: "refused", message: e.message } : { kind: "error", message: e.message }),
        );
        socket.once("connect", async () => {
            const reader = replyReader(socket);
            try {
                const greeting = await reader.next();
                if (code(greeting) !== 220) return finish({ kind: "error", message: `greeting: ${greeting.join(" / ")}` });
                socket.write(`EHLO ${addressLiteral(socket)}\r\n`);
                const ehlo = await reader.next();
                if (code(ehlo) !== 250) return finish({ kind: "error", message: `EHLO: ${ehlo.join(" / ")}` });
                // Each extension a line after the first: "250-STARTTLS" or "250 STARTTLS" (RFC 5321 4.1.1.1, RFC 3207 4).
                if (!ehlo.slice(1).some((l) => /^250[- ]STARTTLS\s*$/i.test(l))) {
                    socket.write("QUIT\r\n");
                    return finish({ kind: "no-starttls", ehlo });
                }
                socket.write("STARTTLS\r\n");
                const ready = await reader.next();
                if (code(ready) !== 220) return finish({ kind: "error", message: `STARTTLS: ${ready.join(" / ")}` });
                reader.detach();
                // Not rejectUnauthorized: the certificate is looked at whatever its issuer, and the verdict is ours.
                tlsSocket = tls.connect({ socket, servername, rejectUnauthorized: false, ...(ca ? { ca } : {}) });
                tlsSocket.once("error", (e) => finish({ kind: "error", message: `TLS handshake: ${e.message}` }));
                tlsSocket.once("secureConnect", () => {
                    const cert = tlsSocket!.getPeerCertificate();
                    const err = tlsSocket!.authorizationError;
                    const protocol = tlsSocket!.getProtocol();
                    tlsSocket!.write("QUIT\r\n");
                    finish({ kind: "tls", cert, authorizationError: err ? String((err as any).code ?? err) : undefined, protocol });
                });
            } catch (e) {
                finish({ kind: "error", message: (e as Error).message });
            }
        });
    });
}

const itemOf = (check: string, status: CheckItem["status"], reason: string, fix = ""): CheckItem => ({ check, status, reason, fix });

/** The `starttls <ip>` item from what the probe found; `now` in ms. */
export function starttlsItem(ip: string, mxHost: string, r: StarttlsResult, port = 25, now = Date.now()): CheckItem {
    const check = `starttls ${ip}`;
    const at = `${net.isIPv6(ip) ? `[${ip}]` : ip}:${port}`;
    switch (r.kind) {
        case "refused":
            return itemOf(
                check,
                "fail",
                `${at} refused the connection: senders cannot deliver to this address`,
                `let Postfix listen on port 25 of ${ip} (inet_interfaces) and open it in the host's firewall`,
            );
        case "timeout":
            return itemOf(
                check,
                "fail",
                `${at}: ${r.message}. Either the host does not answer on port 25, or this machine's network blocks outbound port 25 (many do)`,
                `check from another network (e.g. swaks --server ${ip} --port ${port} --tls --quit-after EHLO); or turn mailauth:check.starttls off where this machine cannot reach port 25`,
            );
        case "error":
            return itemOf(check, "fail", `${at}: ${r.message}`, "check the host's Postfix on port 25 (journalctl -u postfix)");
        case "no-starttls":
            return itemOf(
                check,
                "fail",
                `${at} does not offer STARTTLS (EHLO: ${r.ehlo.map((l) => l.slice(4)).join(", ")}): senders deliver in plain text, or not at all if they require TLS`,
                "give Postfix a certificate for the MX host name: smtpd_tls_cert_file, smtpd_tls_key_file and smtpd_tls_security_level = may (e.g. from Let's Encrypt)",
            );
        case "tls": {
            const cert = r.cert;
            const names = (cert.subjectaltname ?? "")
                .split(/,\s*/)
                .filter((n) => n.startsWith("DNS:"))
                .map((n) => n.slice(4));
            const shown = names.length ? names.join(", ") : `CN=${cert.subject?.CN ?? "(none)"}`;
            const mismatch = tls.checkServerIdentity(mxHost, cert);
            if (mismatch)
                return itemOf(
                    check,
                    "fail",
                    `${at} offers a certificate for ${shown}, not ${mxHost}: senders that check the name (MTA-STS, DANE) refuse it`,
                    `give Postfix a certificate that names ${mxHost} (smtpd_tls_cert_file)`,
                );
            const from = Date.parse(cert.valid_from);
            const to = Date.parse(cert.valid_to);
            if (now > to || now < from)
                return itemOf(
                    check,
                    "fail",
                    `${at}: the certificate for ${mxHost} is ${now > to ? `expired (${cert.valid_to})` : `not valid before ${cert.valid_from}`}`,
                    "renew the certificate and reload Postfix (certbot renew, then systemctl reload postfix)",
                );
            const days = Math.floor((to - now) / 86_400_000);
            if (r.authorizationError)
                return itemOf(
                    check,
                    "warn",
                    `${at} offers a certificate for ${mxHost} (${r.protocol ?? "TLS"}, ${days} days left) that does not chain to a public CA (${r.authorizationError}): mail arrives encrypted from senders that do not check (most), but a sender enforcing MTA-STS or DANE refuses it`,
                    "use a certificate from a public CA (e.g. Let's Encrypt) before publishing an MTA-STS policy in enforce mode",
                );
            return itemOf(check, "pass", `${at} offers STARTTLS (${r.protocol ?? "TLS"}) with a certificate for ${mxHost}, ${days} days left`);
        }
    }
}
