/**
 * test/dns-server.ts in a process of its own, for the check's bench (test/bench/check.test.ts): in
 * the bench's own process the server's event loop is the check's, and a busy check would hold the
 * packets it sends in the socket buffer and count them later, in a bunch. The module is compiled
 * with the project's TypeScript (transpileModule, CommonJS), as it is: no copy.
 *
 * Messages (process.send, JSON): in {zone, latencyMs} (answers "ready"), "counts" (answers
 * {arrivals, peakInFlight, questions}), "close"; first out: {port}.
 */
const fs = require("fs");
const path = require("path");
const Module = require("module");
const ts = require("typescript");

const file = path.join(__dirname, "..", "dns-server.ts");
const js = ts.transpileModule(fs.readFileSync(file, "utf8"), {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2020 },
}).outputText;
const m = new Module(file, module);
m.filename = file;
m.paths = Module._nodeModulePaths(path.dirname(file));
m._compile(js, file);
const { startDnsServer, peakRate } = m.exports;

(async () => {
    const server = await startDnsServer();
    process.on("message", async (msg) => {
        if (msg === "counts") {
            process.send({
                queries: server.arrivals.length,
                peakPerSecond: peakRate(server.arrivals),
                peakInFlight: server.peakInFlight,
                questions: server.asked.size,
            });
        } else if (msg === "close") {
            await server.close();
            process.exit(0);
        } else {
            server.zone = msg.zone;
            server.latencyMs = msg.latencyMs;
            server.resetCounts();
            process.send("ready");
        }
    });
    process.send({ port: server.port });
})();
