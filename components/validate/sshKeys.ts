/**
 * SSH keys as pulumi-command's Go SSH client reads them (pulumi/pulumi-command
 * provider/pkg/provider/remote/connection.go, v1.2.1; golang.org/x/crypto/ssh):
 *
 * - The host key: `ssh.ParseAuthorizedKey(hostKey)` (connection.go ~89), then
 *   `HostKeyAlgorithms = []string{publicKey.Type()}` (~94): the client offers only the pinned
 *   key's algorithm. For an `ssh-rsa` pin that is SHA-1 "ssh-rsa", which OpenSSH 8.8+ and EL9's
 *   default crypto policy refuse, so the connection fails. With no hostKey at all the client
 *   uses `ssh.InsecureIgnoreHostKey()` (~95-97): any server is accepted.
 * - The private key: `ssh.ParsePrivateKey` without a passphrase (~112); an encrypted key fails
 *   there, at the first remote step, after DNS records may already have changed.
 *
 * So both are parsed here, before anything is touched, by their wire formats (RFC 4253 6.6,
 * RFC 5656 3.1, RFC 8709 4; OpenSSH's PROTOCOL.key), not matched by pattern.
 */
import * as crypto from "crypto";

/** Reads SSH wire-format strings (uint32 length, then bytes) from a buffer. */
class WireReader {
    private pos = 0;
    constructor(private readonly buf: Buffer) {}
    string(): Buffer | undefined {
        if (this.pos + 4 > this.buf.length) return undefined;
        const len = this.buf.readUInt32BE(this.pos);
        if (this.pos + 4 + len > this.buf.length) return undefined;
        const out = this.buf.subarray(this.pos + 4, this.pos + 4 + len);
        this.pos += 4 + len;
        return out;
    }
    uint32(): number | undefined {
        if (this.pos + 4 > this.buf.length) return undefined;
        const v = this.buf.readUInt32BE(this.pos);
        this.pos += 4;
        return v;
    }
    get done(): boolean {
        return this.pos === this.buf.length;
    }
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
/** Uncompressed EC point sizes (0x04 || X || Y) per curve. */
const EC_POINT_BYTES: Record<string, number> = { nistp256: 65, nistp384: 97, nistp521: 133 };

export type HostKeyCheck = { ok: true; type: string } | { ok: false; problem: string };

/**
 * Checks a pinned host key: one `authorized_keys`-style line, `TYPE BASE64 [comment]`, whose
 * blob parses as a key of TYPE. Refuses `ssh-rsa` (see above) and certificates.
 */
export function checkHostKey(line: string): HostKeyCheck {
    const fix = "pin the server's ed25519 (or ecdsa) key: ssh-keyscan -p PORT -t ed25519,ecdsa HOST, the part after the host name";
    if (/[\r\n]/.test(line.trim())) return { ok: false, problem: `must be one key line, got several; ${fix}` };
    const [type, blob] = line.trim().split(/\s+/);
    if (blob === undefined) {
        return { ok: false, problem: `must be a key type and its base64 data ("ssh-ed25519 AAAA..."), without the host name; ${fix}` };
    }
    if (type === "ssh-rsa" || type.startsWith("rsa-sha2-")) {
        return {
            ok: false,
            problem:
                "an ssh-rsa host key cannot be pinned: pulumi-command then offers only the SHA-1 ssh-rsa algorithm, " +
                `which OpenSSH 8.8+ and EL9 refuse, so every step would fail to connect; ${fix}`,
        };
    }
    if (type.includes("-cert-v01@openssh.com")) {
        return { ok: false, problem: `is a host certificate; pin the server's plain host key instead; ${fix}` };
    }
    if (type !== "ssh-ed25519" && !/^ecdsa-sha2-nistp(256|384|521)$/.test(type)) {
        return { ok: false, problem: `key type ${JSON.stringify(type)} is not supported here (ssh-ed25519, ecdsa-sha2-nistp256/384/521); ${fix}` };
    }
    if (!BASE64.test(blob)) return { ok: false, problem: `the key data is not base64; ${fix}` };
    const r = new WireReader(Buffer.from(blob, "base64"));
    const inner = r.string()?.toString("latin1");
    if (inner !== type) return { ok: false, problem: `the key data does not hold a ${type} key (truncated or mixed up?); ${fix}` };
    if (type === "ssh-ed25519") {
        const key = r.string();
        if (key?.length !== 32 || !r.done) return { ok: false, problem: `the ssh-ed25519 key data is truncated or malformed; ${fix}` };
        return { ok: true, type };
    }
    const curve = r.string()?.toString("latin1");
    const point = r.string();
    const want = curve !== undefined ? EC_POINT_BYTES[curve] : undefined;
    if (curve !== type.slice("ecdsa-sha2-".length) || !point || point.length !== want || point[0] !== 4 || !r.done) {
        return { ok: false, problem: `the ${type} key data is truncated or malformed; ${fix}` };
    }
    return { ok: true, type };
}

export type PrivateKeyClass = "missing" | "invalid" | "encrypted" | "ok";

/**
 * What the SSH private key looks like, without revealing it: unset, not a private key, a key
 * locked with a passphrase, or a key the client can use as is.
 */
export function classifyPrivateKey(key: string | undefined): PrivateKeyClass {
    if (key === undefined || key.trim() === "") return "missing";
    const text = key.trim();
    const m = text.match(/^-----BEGIN ([A-Z0-9 ]*PRIVATE KEY)-----\r?\n([\s\S]+?)\r?\n-----END \1-----$/);
    if (!m) return "invalid";
    const [, label, body] = m;
    if (label === "ENCRYPTED PRIVATE KEY" || /^Proc-Type: 4,ENCRYPTED/m.test(body)) return "encrypted";
    if (label === "OPENSSH PRIVATE KEY") return classifyOpenSshKey(body);
    try {
        crypto.createPrivateKey({ key: text, format: "pem" });
        return "ok";
    } catch {
        return "invalid";
    }
}

/** OpenSSH's own format (PROTOCOL.key): "openssh-key-v1\0", ciphername, kdfname, kdfoptions, ... */
function classifyOpenSshKey(body: string): PrivateKeyClass {
    const b64 = body.replace(/\s+/g, "");
    if (!BASE64.test(b64)) return "invalid";
    const buf = Buffer.from(b64, "base64");
    const magic = Buffer.from("openssh-key-v1\0", "latin1");
    if (buf.length < magic.length || !buf.subarray(0, magic.length).equals(magic)) return "invalid";
    const r = new WireReader(buf.subarray(magic.length));
    const cipher = r.string()?.toString("latin1");
    const kdf = r.string()?.toString("latin1");
    const kdfOptions = r.string();
    const count = r.uint32();
    if (cipher === undefined || kdf === undefined || kdfOptions === undefined || count === undefined) return "invalid";
    if (cipher !== "none" || kdf !== "none") return "encrypted";
    return count >= 1 && r.string() !== undefined ? "ok" : "invalid";
}
