import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { loadTemplate } from "../../components/templates";

/** Runs templates/lib.sh's detect_os (bash, as on the host) against an os-release file, or none. */
function detect(osRelease?: string): { ok: boolean; out: string } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mailauth-os-"));
    const file = osRelease === undefined ? "/nonexistent" : path.join(dir, "os-release");
    if (osRelease !== undefined) fs.writeFileSync(file, osRelease);
    fs.writeFileSync(path.join(dir, "lib.sh"), loadTemplate("lib.sh"));
    try {
        const out = execFileSync("bash", ["-c", `. ${dir}/lib.sh; OS_RELEASE_FILE=${file} detect_os; echo "$OS_FAMILY $OS_MAJOR"`], {
            encoding: "utf8",
            stdio: ["ignore", "pipe", "pipe"],
        });
        return { ok: true, out: out.trim() };
    } catch (e: any) {
        return { ok: false, out: String(e.stderr).trim() };
    }
}

const release = (id: string, version: string, like = "", pretty = `${id} ${version}`) =>
    `NAME="${id}"\nID="${id}"\nID_LIKE="${like}"\nVERSION_ID="${version}"\nPRETTY_NAME="${pretty}"\n`;

describe("OS detection on the host (templates/lib.sh)", () => {
    it.each([
        ["rocky", "9.4", "rhel centos fedora", "el 9"],
        ["almalinux", "8.10", "rhel centos fedora", "el 8"],
        ["rhel", "9.3", "fedora", "el 9"],
        ["centos", "9", "rhel fedora", "el 9"],
        ["rocky", "8.10", "rhel centos fedora", "el 8"],
        ["rhel", "8.10", "fedora", "el 8"],
        // EL 10 is detected; the package step then needs pypolicyd-spf, which EPEL 10 lacks (el-hosts.test.ts).
        ["almalinux", "10.0", "rhel centos fedora", "el 10"],
        ["rhel", "10.0", "fedora", "el 10"],
        ["centos", "10", "rhel fedora", "el 10"],
        ["debian", "12", "", "debian 12"],
        ["ubuntu", "24.04", "debian", "debian 24"],
    ])("accepts %s %s", (id, version, like, expected) => {
        expect(detect(release(id, version, like))).toEqual({ ok: true, out: expected });
    });

    it.each([
        [
            "centos",
            "7",
            "rhel fedora",
            /unsupported OS: centos 7 \(supported: RHEL, Rocky, AlmaLinux 8, 9 and 10; CentOS Stream 9 and 10; Debian 12\+; Ubuntu 22\.04\+\)/,
        ],
        ["rocky", "11.0", "rhel centos fedora", /unsupported OS: rocky 11\.0 \(supported: RHEL, Rocky, AlmaLinux 8, 9 and 10; CentOS Stream 9 and 10;/],
        ["debian", "11", "", /unsupported OS: debian 11 \(supported: Debian 12 or later\)/],
        ["ubuntu", "20.04", "debian", /unsupported OS: ubuntu 20\.04 \(supported: Ubuntu 22\.04 or later\)/],
        [
            "fedora",
            "40",
            "",
            /unsupported OS: fedora 40 \(supported: RHEL, Rocky, AlmaLinux 8, 9 and 10; CentOS Stream 9 and 10; Debian 12\+; Ubuntu 22\.04\+\)/,
        ],
        ["alpine", "3.20.0", "", /unsupported OS: alpine 3\.20\.0/],
    ])("refuses %s %s before any change, saying what is supported", (id, version, like, message) => {
        const r = detect(release(id, version, like));
        expect(r.ok).toBe(false);
        expect(r.out).toMatch(message);
    });

    // CentOS Linux 8 ended on 2021-12-31, CentOS Stream 8 on 2024-05-31: their repositories are gone.
    it.each([
        ["CentOS Linux 8", "CentOS Linux 8"],
        ["CentOS Stream", "CentOS Stream 8"],
    ])("refuses %s (end-of-life), saying so and where to go", (name, pretty) => {
        const r = detect(`NAME="${name}"\nID="centos"\nID_LIKE="rhel fedora"\nVERSION_ID="8"\nPRETTY_NAME="${pretty}"\n`);
        expect(r.ok).toBe(false);
        expect(r.out).toBe(
            `mailauth: unsupported OS: ${pretty} is end-of-life and its repositories are gone; move to Rocky Linux, AlmaLinux, RHEL or CentOS Stream 9 (supported: RHEL, Rocky, AlmaLinux 8, 9 and 10; CentOS Stream 9 and 10; Debian 12+; Ubuntu 22.04+)`,
        );
    });

    it("refuses a host without /etc/os-release", () => {
        expect(detect()).toEqual({ ok: false, out: expect.stringMatching(/cannot read \/nonexistent: unsupported host/) });
    });
});
