import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DOMAINS, Lab } from "./fixture";

const lab = new Lab();
beforeAll(async () => {
    await lab.start();
    await lab.fresh();
});
afterAll(async () => {
    await lab.stop();
});

describe("scenario 1: fresh provision of two domains", () => {
    let report: Awaited<ReturnType<typeof lab.runner.up>>;
    it("runs every step over SSH in dependency order", async () => {
        report = await lab.runner.up(lab.config());
        const order = report.commandsRun;
        expect(order[0]).toBe("mailhost-packages");
        expect(order.indexOf("mailhost-opendkim")).toBeGreaterThan(order.indexOf("mailhost-key-example.com-s1"));
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
