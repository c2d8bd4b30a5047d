/**
 * The program imports single modules of @pulumi/cloudflare, never its index: the index declares
 * every Cloudflare resource, and `pulumi preview` type-checks the program (ts-node, unless
 * PULUMI_NODEJS_TRANSPILE_ONLY or noCheck: pulumi/pulumi sdk/nodejs/cmd/run/run.ts ~315-337), so
 * importing it roughly doubles the checking every preview pays (tsc on this project: 1,256 files,
 * 20.9 s, with it; 479 files, 10.7 s, without; measured 2026-11-28 with --extendedDiagnostics).
 */
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";

const ROOT = path.join(__dirname, "..", "..");

function programFiles(): string[] {
    const files = ["index.ts"];
    const walk = (dir: string) => {
        for (const e of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
            const rel = path.join(dir, e.name);
            if (e.isDirectory()) walk(rel);
            else if (e.name.endsWith(".ts")) files.push(rel);
        }
    };
    walk("components");
    return files;
}

/** Every module specifier a file imports or requires. */
function specifiers(file: string): string[] {
    const text = fs.readFileSync(path.join(ROOT, file), "utf8");
    return [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)["']([^"']+)["']/gm)].map((m) => m[1]);
}

describe("the program's imports", () => {
    const files = programFiles();

    it("finds the program's files and their imports", () => {
        expect(files).toEqual(expect.arrayContaining(["index.ts", "components/mailDns.ts", "components/zone.ts"]));
        expect(specifiers("components/mailDns.ts")).toContain("@pulumi/pulumi");
    });

    it("takes single modules of @pulumi/cloudflare, never the index, and each resolves", () => {
        const cloudflare = files.flatMap((f) => specifiers(f).filter((s) => s.startsWith("@pulumi/cloudflare")).map((s) => ({ f, s })));
        expect(cloudflare.length).toBeGreaterThan(0);
        for (const { f, s } of cloudflare) {
            expect(s, `${f} imports ${s}`).toMatch(/^@pulumi\/cloudflare\/[A-Za-z]+$/);
            expect(() => require.resolve(s, { paths: [ROOT] }), s).not.toThrow();
        }
    });
});
