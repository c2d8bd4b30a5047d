/**
 * A tiny authoritative DNS server for tests: UDP and TCP on 127.0.0.1, one ephemeral port for
 * both, answering A, AAAA, TXT, MX and PTR from a zone map (changed in place between queries:
 * every answer reads it anew). No dependency: the wire format is RFC 1035 4.1 (header, question,
 * resource records; 4.2.2: over TCP each message is preceded by its 2-byte length).
 *
 * - A name in the map, or with a name under it (an empty non-terminal, RFC 8020), exists: a type
 *   it lacks gets NOERROR with no answer (NODATA, Node's ENODATA); any other name NXDOMAIN (ENOTFOUND).
 * - A UDP answer longer than 512 bytes (RFC 1035 4.2.1; the server does not do EDNS) is cut to the
 *   header and question with TC set, so the resolver asks again over TCP (RFC 7766 5).
 * - Other types and classes: NODATA. Names are compared without case (RFC 4343).
 * - `latencyMs` holds every answer that long (a resolver's round trip, for the bench and the
 *   concurrency tests); while held a query is in flight, and the server counts the most at once
 *   (`peakInFlight`), each question answered in full (`asked`), and when each query arrived.
 */
import * as dgram from "dgram";
import * as net from "net";

export interface ZoneEntry {
    A?: string[];
    AAAA?: string[];
    /** Each record: its text (cut into 255-byte strings) or its strings. */
    TXT?: (string | string[])[];
    MX?: { priority: number; exchange: string }[];
    PTR?: string[];
}
/** Names (no trailing dot) to their records. */
export type Zone = Record<string, ZoneEntry>;

export interface DnsServer {
    /** `127.0.0.1:<port>`, for dns.Resolver.setServers. */
    address: string;
    port: number;
    zone: Zone;
    /** Queries answered, by transport (tests see that a long answer went over TCP). */
    queries: { udp: number; tcp: number; truncated: number };
    /** Per question (`TXT example.com`: type and name, lowercased), the answers given in full (a truncated UDP answer is not one). */
    asked: Map<string, number>;
    /** Queries received and not yet answered, now and at most (reset it to measure a run). */
    inFlight: number;
    peakInFlight: number;
    /** When each query arrived (ms, performance.now()), in order. */
    arrivals: number[];
    /** Each answer waits this long (ms) before it is sent. */
    latencyMs: number;
    /** Clears the counters above (not `queries`). */
    resetCounts(): void;
    close(): Promise<void>;
}

const TYPE_NAMES: Record<number, string> = { 1: "A", 28: "AAAA", 16: "TXT", 15: "MX", 12: "PTR", 5: "CNAME" };

/** The question of a query as `asked` keys it: `TXT example.com`. */
function questionKey(query: Buffer): string {
    const { name, end } = readName(query, 12);
    const qtype = query.readUInt16BE(end);
    return `${TYPE_NAMES[qtype] ?? `TYPE${qtype}`} ${name.toLowerCase()}`;
}

/** The most `arrivals` in any window of `windowMs` (a rate limiter's view: queries per second). */
export function peakRate(arrivals: readonly number[], windowMs = 1000): number {
    let peak = 0;
    for (let i = 0, j = 0; j < arrivals.length; j++) {
        while (arrivals[j] - arrivals[i] >= windowMs) i++;
        peak = Math.max(peak, j - i + 1);
    }
    return peak;
}

const TYPES: Record<number, keyof ZoneEntry> = { 1: "A", 28: "AAAA", 16: "TXT", 15: "MX", 12: "PTR" };

function encodeName(name: string): Buffer {
    const parts = name.replace(/\.$/, "").split(".").filter(Boolean);
    return Buffer.concat([...parts.map((l) => Buffer.concat([Buffer.from([Buffer.byteLength(l)]), Buffer.from(l)])), Buffer.from([0])]);
}

function readName(msg: Buffer, offset: number): { name: string; end: number } {
    const labels: string[] = [];
    let at = offset;
    for (;;) {
        const len = msg[at];
        if (len === undefined) throw new Error("short message");
        if (len === 0) return { name: labels.join("."), end: at + 1 };
        if ((len & 0xc0) !== 0) throw new Error("compressed question name");
        labels.push(msg.subarray(at + 1, at + 1 + len).toString("latin1"));
        at += 1 + len;
    }
}

function ipv4(a: string): Buffer {
    return Buffer.from(a.split(".").map(Number));
}

function ipv6(a: string): Buffer {
    const [head, tail] = a.includes("::") ? a.split("::") : [a, undefined];
    const left = head ? head.split(":") : [];
    const right = tail ? tail.split(":") : [];
    const groups = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill("0"), ...right];
    const out = Buffer.alloc(16);
    groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
    return out;
}

function txtStrings(record: string | string[]): Buffer {
    const strings: Buffer[] = [];
    for (const s of Array.isArray(record) ? record : [record]) {
        const bytes = Buffer.from(s);
        if (bytes.length === 0) strings.push(Buffer.from([0]));
        for (let i = 0; i < bytes.length; i += 255) {
            const chunk = bytes.subarray(i, i + 255);
            strings.push(Buffer.from([chunk.length]), chunk);
        }
    }
    return Buffer.concat(strings);
}

function rdata(type: keyof ZoneEntry, value: any): Buffer {
    switch (type) {
        case "A":
            return ipv4(value);
        case "AAAA":
            return ipv6(value);
        case "TXT":
            return txtStrings(value);
        case "MX": {
            const pref = Buffer.alloc(2);
            pref.writeUInt16BE(value.priority);
            return Buffer.concat([pref, encodeName(value.exchange)]);
        }
        case "PTR":
            return encodeName(value);
    }
}

/**
 * Per zone object, its names lowercased (to their keys) and every name above them: built again
 * whenever the zone's names change (tests change the map in place), so that a zone of thousands of
 * names answers in microseconds, not the milliseconds a scan takes (which, at hundreds of queries a
 * second, bunched the server's answers in the check's bench).
 */
const indexes = new WeakMap<Zone, { names: string; keys: Map<string, string>; above: Set<string> }>();

function lookup(zone: Zone, name: string): ZoneEntry | undefined {
    const n = name.toLowerCase().replace(/\.$/, "");
    const names = Object.keys(zone).join("\n");
    let index = indexes.get(zone);
    if (index?.names !== names) {
        index = { names, keys: new Map(), above: new Set() };
        for (const k of Object.keys(zone)) {
            const lk = k.toLowerCase();
            if (!index.keys.has(lk)) index.keys.set(lk, k);
            for (let i = lk.indexOf("."); i >= 0; i = lk.indexOf(".", i + 1)) index.above.add(lk.slice(i + 1));
        }
        indexes.set(zone, index);
    }
    const key = index.keys.get(n);
    if (key !== undefined) return zone[key];
    return index.above.has(n) ? {} : undefined;
}

/** The answer to one query message; with `udp`, cut to header and question with TC past 512 bytes. */
export function answer(zone: Zone, query: Buffer, udp: boolean): { message: Buffer; truncated: boolean } {
    const id = query.readUInt16BE(0);
    const flags = query.readUInt16BE(2);
    const { name, end } = readName(query, 12);
    const qtype = query.readUInt16BE(end);
    const qclass = query.readUInt16BE(end + 2);
    const question = query.subarray(12, end + 4);
    const entry = lookup(zone, name);
    const type = qclass === 1 ? TYPES[qtype] : undefined;
    const values: unknown[] = entry && type ? (entry[type] ?? []) : [];
    const records = values.map((v) => {
        const data = rdata(type!, v);
        const head = Buffer.alloc(12);
        head.writeUInt16BE(0xc00c, 0); // the question's name (RFC 1035 4.1.4)
        head.writeUInt16BE(qtype, 2);
        head.writeUInt16BE(1, 4);
        head.writeUInt32BE(60, 6);
        head.writeUInt16BE(data.length, 10);
        return Buffer.concat([head, data]);
    });
    // QR, the query's opcode and RD, AA; RCODE 3 (NXDOMAIN) for a name that does not exist.
    const outFlags = 0x8000 | (flags & 0x7900) | 0x0400 | (entry === undefined ? 3 : 0);
    const header = Buffer.alloc(12);
    header.writeUInt16BE(id, 0);
    header.writeUInt16BE(outFlags, 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(records.length, 6);
    const full = Buffer.concat([header, question, ...records]);
    if (!udp || full.length <= 512) return { message: full, truncated: false };
    header.writeUInt16BE(outFlags | 0x0200, 2);
    header.writeUInt16BE(0, 6);
    return { message: Buffer.concat([header, question]), truncated: true };
}

/** A zone holding records as the program's `records` output lists them (name, type, value; an MX at priority 10), and `extra`. */
export function zoneOf(records: readonly { name: string; type: string; value: string }[], extra: Zone = {}): Zone {
    const zone: Zone = structuredClone(extra);
    for (const r of records) {
        const entry = (zone[r.name] ??= {});
        if (r.type === "MX") (entry.MX ??= []).push({ priority: 10, exchange: r.value });
        else if (r.type === "A" || r.type === "AAAA" || r.type === "TXT") (entry[r.type] ??= []).push(r.value);
    }
    return zone;
}

/** Starts the server on 127.0.0.1 (one port, UDP and TCP). */
export async function startDnsServer(zone: Zone = {}, options: { latencyMs?: number } = {}): Promise<DnsServer> {
    const tcp = net.createServer();
    await new Promise<void>((res, rej) => {
        tcp.once("error", rej);
        tcp.listen(0, "127.0.0.1", () => res());
    });
    const port = (tcp.address() as net.AddressInfo).port;
    const udp = dgram.createSocket("udp4");
    await new Promise<void>((res, rej) => {
        udp.once("error", rej);
        udp.bind(port, "127.0.0.1", () => res());
    });
    const server: DnsServer = {
        address: `127.0.0.1:${port}`,
        port,
        zone,
        queries: { udp: 0, tcp: 0, truncated: 0 },
        asked: new Map(),
        inFlight: 0,
        peakInFlight: 0,
        arrivals: [],
        latencyMs: options.latencyMs ?? 0,
        resetCounts() {
            server.asked = new Map();
            server.peakInFlight = server.inFlight;
            server.arrivals = [];
        },
        close: () =>
            new Promise<void>((res) => {
                for (const t of timers) clearTimeout(t);
                for (const s of sockets) s.destroy();
                udp.close();
                tcp.close(() => res());
            }),
    };
    const timers = new Set<NodeJS.Timeout>();
    /** Answers `msg` after the latency, counting it in flight meanwhile; `send` gets the answer (the zone as it is then). */
    const hold = (msg: Buffer, udpTransport: boolean, send: (message: Buffer) => void, bad: () => void) => {
        server.arrivals.push(performance.now());
        server.inFlight++;
        server.peakInFlight = Math.max(server.peakInFlight, server.inFlight);
        const reply = () => {
            server.inFlight--;
            try {
                const { message, truncated } = answer(server.zone, msg, udpTransport);
                if (udpTransport) server.queries.udp++;
                else server.queries.tcp++;
                if (truncated) server.queries.truncated++;
                else {
                    const key = questionKey(msg);
                    server.asked.set(key, (server.asked.get(key) ?? 0) + 1);
                }
                send(message);
            } catch {
                bad();
            }
        };
        if (server.latencyMs <= 0) return reply();
        const t = setTimeout(() => {
            timers.delete(t);
            reply();
        }, server.latencyMs);
        timers.add(t);
    };
    udp.on("message", (msg, rinfo) => {
        // Not a query this server reads: no answer, as for any malformed packet.
        hold(
            msg,
            true,
            (message) => udp.send(message, rinfo.port, rinfo.address),
            () => undefined,
        );
    });
    const sockets = new Set<net.Socket>();
    tcp.on("connection", (socket) => {
        sockets.add(socket);
        socket.on("close", () => sockets.delete(socket));
        socket.on("error", () => socket.destroy());
        let buffered = Buffer.alloc(0);
        socket.on("data", (data) => {
            buffered = Buffer.concat([buffered, data]);
            while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
                const msg = buffered.subarray(2, 2 + buffered.readUInt16BE(0));
                buffered = buffered.subarray(2 + msg.length);
                hold(
                    msg,
                    false,
                    (message) => {
                        const len = Buffer.alloc(2);
                        len.writeUInt16BE(message.length);
                        if (!socket.destroyed) socket.write(Buffer.concat([len, message]));
                    },
                    () => socket.destroy(),
                );
            }
        });
    });
    return server;
}
