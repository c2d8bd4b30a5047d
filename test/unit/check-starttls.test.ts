/**
 * components/check/starttls.ts: STARTTLS on port 25 against a small SMTP server started here on
 * 127.0.0.1 (greeting, EHLO, STARTTLS, then TLS with a certificate made by openssl for the test: a
 * test CA's certificate for the MX host, one for another name, a self-signed one), and what the
 * check makes of each: pass, wrong name, no STARTTLS offered, connection refused, timeout, expired.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import * as tls from "tls";
import { checkPublished } from "../../components/check";
import { probeStarttls, starttlsItem } from "../../components/check/starttls";

const MX = "mail.example.com";
let dir: string;
const pem: Record<string, { key: string; cert: string }> = {};
let ca: string;

function openssl(...args: string[]) {
    execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}
const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mailauth-starttls-"));
    openssl("req", "-x509", ...EC, "-keyout", "ca.key", "-out", "ca.crt", "-days", "30", "-subj", "/CN=mailauth test CA");
    for (const [name, san] of [
        ["good", MX],
        ["other", "other.example.net"],
    ]) {
        openssl("req", ...EC, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${san}`);
        fs.writeFileSync(path.join(dir, `${name}.ext`), `subjectAltName=DNS:${san}\n`);
        openssl(
            "x509",
            "-req",
            "-in",
            `${name}.csr`,
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            `${name}.crt`,
            "-days",
            "30",
            "-extfile",
            `${name}.ext`,
        );
    }
    openssl("req", "-x509", ...EC, "-keyout", "self.key", "-out", "self.crt", "-days", "30", "-subj", `/CN=${MX}`, "-addext", `subjectAltName=DNS:${MX}`);
    for (const name of ["good", "other", "self"])
        pem[name] = { key: fs.readFileSync(path.join(dir, `${name}.key`), "utf8"), cert: fs.readFileSync(path.join(dir, `${name}.crt`), "utf8") };
    ca = fs.readFileSync(path.join(dir, "ca.crt"), "utf8");
});

const servers: net.Server[] = [];
afterAll(() => {
    for (const s of servers) s.close();
    fs.rmSync(dir, { recursive: true, force: true });
});

/** An SMTP server on 127.0.0.1: `cert` set, it offers STARTTLS with it; `silent`, it never greets. Returns its port. */
async function smtpServer(opts: { cert?: keyof typeof pem; silent?: boolean }): Promise<number> {
    const server = net.createServer((socket) => {
        socket.on("error", () => undefined);
        if (opts.silent) return;
        socket.write(`220 ${MX} ESMTP test\r\n`);
        let buffered = "";
        const onData = (d: Buffer) => {
            buffered += d.toString();
            let at: number;
            while ((at = buffered.indexOf("\r\n")) >= 0) {
                const line = buffered.slice(0, at);
                buffered = buffered.slice(at + 2);
                if (/^EHLO /i.test(line)) socket.write(`250-${MX}\r\n250-PIPELINING\r\n${opts.cert ? "250-STARTTLS\r\n" : ""}250 8BITMIME\r\n`);
                else if (/^STARTTLS$/i.test(line) && opts.cert) {
                    socket.write("220 2.0.0 Ready to start TLS\r\n");
                    socket.off("data", onData);
                    const secure = new tls.TLSSocket(socket, { isServer: true, ...pem[opts.cert] });
                    secure.on("error", () => undefined);
                    secure.on("data", (x) => /QUIT/.test(x.toString()) && secure.end("221 2.0.0 Bye\r\n"));
                    return;
                } else if (/^QUIT$/i.test(line)) return void socket.end("221 2.0.0 Bye\r\n");
                else socket.write("502 5.5.2 Error: command not recognized\r\n");
            }
        };
        socket.on("data", onData);
    });
    servers.push(server);
    await new Promise<void>((res) => server.listen(0, "127.0.0.1", () => res()));
    return (server.address() as net.AddressInfo).port;
}

async function item(port: number, timeoutMs = 2000) {
    return starttlsItem("127.0.0.1", MX, await probeStarttls("127.0.0.1", MX, { port, timeoutMs, ca: [ca] }), port);
}

describe("STARTTLS on port 25", () => {
    it("a certificate for the MX host from a trusted CA: pass", async () => {
        const i = await item(await smtpServer({ cert: "good" }));
        expect(i.status, i.reason).toBe("pass");
        expect(i.reason).toMatch(/^127\.0\.0\.1:\d+ offers STARTTLS \(TLSv1\.[23]\) with a certificate for mail\.example\.com, (29|30) days left$/);
    });

    it("a certificate for another name: fail, naming both", async () => {
        const i = await item(await smtpServer({ cert: "other" }));
        expect(i.status).toBe("fail");
        expect(i.reason).toMatch(/offers a certificate for other\.example\.net, not mail\.example\.com/);
        expect(i.fix).toBe("give Postfix a certificate that names mail.example.com (smtpd_tls_cert_file)");
    });

    it("self-signed, the right name: warn (opportunistic senders deliver, MTA-STS and DANE senders refuse)", async () => {
        const i = await item(await smtpServer({ cert: "self" }));
        expect(i.status).toBe("warn");
        expect(i.reason).toMatch(/does not chain to a public CA \(DEPTH_ZERO_SELF_SIGNED_CERT\)/);
    });

    it("no STARTTLS in the EHLO reply: fail", async () => {
        const i = await item(await smtpServer({}));
        expect(i.status).toBe("fail");
        expect(i.reason).toMatch(/does not offer STARTTLS \(EHLO: mail\.example\.com, PIPELINING, 8BITMIME\)/);
    });

    it("connection refused: fail", async () => {
        const closed = net.createServer();
        await new Promise<void>((res) => closed.listen(0, "127.0.0.1", () => res()));
        const port = (closed.address() as net.AddressInfo).port;
        await new Promise((res) => closed.close(res));
        const i = await item(port);
        expect(i.status).toBe("fail");
        expect(i.reason).toBe(`127.0.0.1:${port} refused the connection: senders cannot deliver to this address`);
    });

    it("a server that never greets: fail after the timeout, naming a blocked port 25 as a cause", async () => {
        const port = await smtpServer({ silent: true });
        const t0 = Date.now();
        const i = await item(port, 300);
        expect(Date.now() - t0).toBeLessThan(2000);
        expect(i.status).toBe("fail");
        expect(i.reason).toMatch(/no answer within 0\.3 s\. Either the host does not answer on port 25, or this machine's network blocks outbound port 25/);
    });

    it("a server that sends an endless line: fail at once, not a buffer growing until the timeout", async () => {
        const server = net.createServer((socket) => {
            socket.on("error", () => undefined);
            socket.write("220-" + "x".repeat(100_000));
        });
        servers.push(server);
        await new Promise<void>((res) => server.listen(0, "127.0.0.1", () => res()));
        const i = await item((server.address() as net.AddressInfo).port, 5000);
        expect(i.status).toBe("fail");
        expect(i.reason).toMatch(/a reply line longer than 64 KiB$/);
    });

    it("expired: fail (the same certificate, a clock past its end)", async () => {
        const port = await smtpServer({ cert: "good" });
        const r = await probeStarttls("127.0.0.1", MX, { port, ca: [ca] });
        expect(r.kind).toBe("tls");
        const end = r.kind === "tls" ? Date.parse(r.cert.valid_to) : 0;
        const i = starttlsItem("127.0.0.1", MX, r, port, end + 86_400_000);
        expect(i.status).toBe("fail");
        expect(i.reason).toMatch(/the certificate for mail\.example\.com is expired/);
    });

    it("in the check: off by default; on, one item per address, the address probed once for all domains", async () => {
        let connections = 0;
        const port = await smtpServer({ cert: "good" });
        servers.at(-1)!.on("connection", () => connections++);
        const domain = (name: string) => ({ name, dkim: [], mxHost: MX, addresses: ["127.0.0.1"] });
        // No resolver answers here (a closed port, 1 ms): only the STARTTLS items matter.
        const input = { domains: [domain("example.com"), domain("example.org")], resolvers: ["127.0.0.1:9"], timeoutMs: 1 };
        const off = await checkPublished(input);
        expect(off["example.com"].some((i) => i.check.startsWith("starttls"))).toBe(false);
        const on = await checkPublished({ ...input, starttls: { port, ca: [ca] } });
        for (const d of ["example.com", "example.org"]) expect(on[d].filter((i) => i.check === "starttls 127.0.0.1").map((i) => i.status)).toEqual(["pass"]);
        expect(connections).toBe(1);
    });
});
