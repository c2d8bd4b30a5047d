import { describe, expect, it } from "vitest";
import { DOMAINS, useLab } from "./fixture";
import { FORBIDDEN_ADDR, PERMITTED_ADDR } from "./lab";

const lab = useLab({ fresh: true });

describe("scenario 1: fresh provision of two domains", () => {
    let report: Awaited<ReturnType<typeof lab.runner.up>>;
    it("runs every step over SSH in dependency order", async () => {
        report = await lab.runner.up(lab.config());
        const order = report.commandsRun;
        expect([...order].sort()).toEqual(["packages", "keys", "opendkim", "keys-retire", "postfix", "testkey"].map((s) => `mailhost-${s}`).sort());
        expect(order[0]).toBe("mailhost-packages");
        expect(order.indexOf("mailhost-opendkim")).toBeGreaterThan(order.indexOf("mailhost-keys"));
        expect(order.indexOf("mailhost-keys-retire")).toBeGreaterThan(order.indexOf("mailhost-opendkim"));
        expect(order.indexOf("mailhost-postfix")).toBeGreaterThan(order.indexOf("mailhost-opendkim"));
    });

    it("leaves postfix check and opendkim -n clean", () => {
        expect(lab.host!.ssh("postfix check 2>&1; echo rc=$?").trim()).toBe("rc=0");
        expect(lab.host!.ssh("opendkim -n 2>&1; echo rc=$?").trim()).toBe("rc=0");
    });

    it("has OpenDKIM listening on its socket, Postfix pointed at it", () => {
        expect(lab.host!.ssh("test -S /var/spool/postfix/opendkim/opendkim.sock && echo socket").trim()).toBe("socket");
        expect(lab.host!.ssh("postconf -h smtpd_milters non_smtpd_milters milter_default_action milter_protocol").trim().split("\n")).toEqual([
            "unix:opendkim/opendkim.sock",
            "$smtpd_milters",
            "accept",
            "6",
        ]);
    });

    it("has the policy agent in master.cf and the check right after reject_unauth_destination", () => {
        expect(lab.host!.ssh("postconf -M policyd-spf/unix").trim().split(/\s+/)).toEqual(
            "policyd-spf unix - n n - 0 spawn user=policyd-spf argv=/usr/bin/policyd-spf".split(" "),
        );
        expect(lab.host!.ssh("postconf -h smtpd_recipient_restrictions policyd-spf_time_limit").trim()).toBe(
            "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination, check_policy_service unix:private/policyd-spf\n3600",
        );
    });

    it("reports key OK for each domain from the stack's own test-key step", () => {
        expect(report.outputs.testKey).toEqual(Object.fromEntries(DOMAINS.map((d) => [d, "key OK"])));
    });
});

function dkimTag(message: string, tag: string): string | undefined {
    const header = message.match(/^DKIM-Signature:[^\n]*(?:\n[ \t][^\n]*)*/m)?.[0].replace(/\s+/g, "");
    return header?.match(new RegExp(`[;:]${tag}=([^;]+)`))?.[1];
}

describe("scenario 2: outbound mail is signed and verifies", () => {
    it.each(DOMAINS)("mail from %s carries a DKIM-Signature that dkimverify accepts; a tampered copy fails", async (domain) => {
        const message = await lab.sendLocal(`alice@${domain}`, `out-${domain}`);
        expect(dkimTag(message, "d")).toBe(domain);
        expect(dkimTag(message, "s")).toBe("s1");
        expect(lab.dkimverify(message)).toBe("signature ok");
        const tampered = message.replace("This line is signed.", "This line was changed.");
        expect(lab.dkimverify(tampered)).toMatch(/body hash mismatch/);
    });
});

describe("scenario 3: inbound SPF", () => {
    it("a permitted sender gets Received-SPF: Pass", async () => {
        const out = lab.swaks("bob@soft.example.net", PERMITTED_ADDR, "spf-pass");
        expect(out).toMatch(/250 2\.0\.0 Ok: queued/);
        expect(await lab.delivered("spf-pass")).toMatch(/^Received-SPF: Pass \(mailfrom\) identity=mailfrom/m);
    });

    it("a forbidden sender under ~all gets Received-SPF: Softfail", async () => {
        const out = lab.swaks("bob@soft.example.net", FORBIDDEN_ADDR, "spf-soft");
        expect(out).toMatch(/250 2\.0\.0 Ok: queued/);
        expect(await lab.delivered("spf-soft")).toMatch(/^Received-SPF: Softfail/m);
    });

    it("a forbidden sender under -all is rejected", () => {
        const out = lab.swaks("bob@hard.example.net", FORBIDDEN_ADDR, "spf-fail");
        expect(out).toMatch(/^<\*\* 550 5\.7\.23 .*SPF fail/m);
    });
});

/** Checksums of every file the stack writes, and the start time of each service. */
function snapshot(): string {
    return lab.host!.ssh(
        "md5sum /etc/opendkim.conf /etc/opendkim/KeyTable /etc/opendkim/SigningTable /etc/opendkim/TrustedHosts " +
            "/etc/opendkim/keys/*/*.private /etc/postfix/main.cf /etc/postfix/master.cf; " +
            "systemctl show -p MainPID -p ExecMainStartTimestampMonotonic opendkim postfix@-",
    );
}

describe("scenario 4: repeat", () => {
    it("a second run with the same config runs nothing", async () => {
        const report = await lab.runner.up(lab.config());
        expect(report.commandsRun).toEqual([]);
    });

    it("re-running every script by hand changes no file and restarts or reloads no service", () => {
        const before = snapshot();
        const journalMark = lab.host!.ssh("date +%s.%N").trim();
        for (const [name, entry] of Object.entries(lab.runner.resources)) {
            if (entry.type !== "command:remote:Command" || name.includes("testkey")) continue;
            const out = lab.host!.ssh(entry.inputs.create, { input: entry.inputs.stdin ?? "" });
            expect(out, name).not.toMatch(/^(changed|installed|reloaded|restarted|master\.cf|main\.cf):/m);
        }
        expect(snapshot()).toBe(before);
        const reloads = lab.host!.ssh(`journalctl -q --since @${journalMark} -u opendkim -u 'postfix*' | grep -ci 'reload\\|stopp\\|start' || true`);
        expect(reloads.trim()).toBe("0");
    });
});

describe("scenario 5: rotation", () => {
    it("a new selector signs once published; the old record stays while listed as previous", async () => {
        const rotated = lab.config({
            "mailauth:domains": DOMAINS.map((name, i) => ({ name, zoneId: `${i}`.repeat(32), selector: "s2", previousSelectors: ["s1"] })),
        });
        const report = await lab.runner.up(rotated);
        expect(report.operations.filter((o) => o.name === "mailhost-opendkim").map((o) => o.op)).toEqual(["update"]);
        for (const domain of DOMAINS) {
            const message = await lab.sendLocal(`alice@${domain}`, `rotated-${domain}`);
            expect(dkimTag(message, "s")).toBe("s2");
            expect(lab.dkimverify(message)).toBe("signature ok");
            expect(lab.dns.query(`s1._domainkey.${domain}`, "TXT")).toMatch(/^"v=DKIM1; k=rsa; p=/);
        }
        expect(report.outputs.testKey).toEqual(Object.fromEntries(DOMAINS.map((d) => [d, "key OK"])));
    });

    it("dropping the previous selector removes its record and its key", async () => {
        const done = lab.config({
            "mailauth:domains": DOMAINS.map((name, i) => ({ name, zoneId: `${i}`.repeat(32), selector: "s2" })),
        });
        await lab.runner.up(done);
        for (const domain of DOMAINS) {
            expect(lab.dns.query(`s1._domainkey.${domain}`, "TXT")).toBe("");
            expect(lab.dns.query(`s2._domainkey.${domain}`, "TXT")).toMatch(/^"v=DKIM1/);
            expect(lab.host!.ssh(`ls /etc/opendkim/keys/${domain}`).trim()).toBe("s2.private");
        }
        const message = await lab.sendLocal("alice@example.com", "after-drop");
        expect(lab.dkimverify(message)).toBe("signature ok");
    });
});

describe("removing a domain", () => {
    it("takes its records and key away and stops signing its mail; the other domain still signs", async () => {
        await lab.runner.up(lab.config({ "mailauth:domains": [{ name: "example.com", zoneId: "0".repeat(32), selector: "s2" }] }));
        expect(lab.dns.query("s2._domainkey.example.org", "TXT")).toBe("");
        expect(lab.dns.query("_dmarc.example.org", "TXT")).toBe("");
        expect(lab.host!.ssh("ls /etc/opendkim/keys").trim()).toBe("example.com");
        expect(lab.host!.ssh("grep -v '^#' /etc/opendkim/SigningTable").trim()).toBe("*@example.com s2._domainkey.example.com");
        expect(await lab.sendLocal("alice@example.org", "removed-domain")).not.toMatch(/^DKIM-Signature:/m);
        expect(lab.dkimverify(await lab.sendLocal("alice@example.com", "kept-domain"))).toBe("signature ok");
    });
});
