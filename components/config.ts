/**
 * Reads the `mailauth:*` settings as the Pulumi CLI hands them to the program, without ever
 * throwing: a structured setting holds JSON (set in the stack file, or with `--path`), but a
 * user may have set it with a plain `pulumi config set mailauth:mx mail.example.com`, which
 * `Config.getObject` would answer with a bare JSON SyntaxError and a stack trace. Here such a
 * value is passed on as the string it is, and validation says what the setting must look like.
 * Which settings there are, and in which form each comes, is components/settingsTable.ts.
 */
import * as pulumi from "@pulumi/pulumi";
import { RawSettings } from "./settings";
import { SECTIONS } from "./settingsTable";
import { classifyPrivateKey } from "./validate/sshKeys";
import { readDkimKeys } from "./validate/dkimKeys";

/**
 * Whether the CLI handed `key` as a secret (PULUMI_CONFIG_SECRET_KEYS): the SDK's own test, not in
 * its typings (@pulumi/pulumi 3.276 runtime/config.js:72-83 isConfigSecret).
 */
function isSecretConfig(key: string): boolean {
    const { isConfigSecret } = require("@pulumi/pulumi/runtime/config") as { isConfigSecret?: (k: string) => boolean };
    return isConfigSecret ? isConfigSecret(key) : true;
}

function structured(config: pulumi.Config, key: string): unknown {
    const text = config.get(key);
    if (text === undefined) return undefined;
    try {
        return JSON.parse(text);
    } catch {
        return text;
    }
}

/** The token the provider uses: cloudflare:apiToken, or CLOUDFLARE_API_TOKEN as the provider reads it. */
export function cloudflareToken(): pulumi.Output<string> | undefined {
    const fromConfig = new pulumi.Config("cloudflare").getSecret("apiToken");
    if (fromConfig) return fromConfig;
    const env = process.env.CLOUDFLARE_API_TOKEN;
    return env ? pulumi.secret(env) : undefined;
}

export function readRawSettings(config: pulumi.Config): RawSettings {
    const raw: Record<string, unknown> = {};
    for (const s of SECTIONS) {
        if (s.raw === "json") raw[s.name] = structured(config, s.name);
        else if (s.raw === "text") raw[s.name] = config.get(s.name);
    }
    return {
        ...raw,
        // Read apart (its names are checked once the records are planned); its shape joins the other problems.
        importRecords: config.get("importRecords"),
        cloudflareToken: cloudflareToken() !== undefined,
        // Only its shape is checked; the value itself stays inside this expression.
        sshPrivateKey: classifyPrivateKey(config.get("sshPrivateKey")),
        // Each key checked here; what passes is kept only in a secret Output (components/validate/dkimKeys.ts).
        dkimKeys: readDkimKeys(config.get("dkimKeys"), isSecretConfig("mailauth:dkimKeys")),
    };
}
