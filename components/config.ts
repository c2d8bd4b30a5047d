/**
 * Reads the `mailauth:*` settings as the Pulumi CLI hands them to the program, without ever
 * throwing: a structured setting holds JSON (set in the stack file, or with `--path`), but a
 * user may have set it with a plain `pulumi config set mailauth:mx mail.example.com`, which
 * `Config.getObject` would answer with a bare JSON SyntaxError and a stack trace. Here such a
 * value is passed on as the string it is, and validation says what the setting must look like.
 */
import * as pulumi from "@pulumi/pulumi";
import { RawSettings } from "./settings";
import { classifyPrivateKey } from "./validate/sshKeys";

function structured(config: pulumi.Config, key: string): unknown {
    const text = config.get(key);
    if (text === undefined) return undefined;
    try {
        return JSON.parse(text);
    } catch {
        return text;
    }
}

export function readRawSettings(config: pulumi.Config): RawSettings {
    return {
        domains: structured(config, "domains"),
        mx: structured(config, "mx"),
        spf: structured(config, "spf"),
        dmarc: structured(config, "dmarc"),
        opendkim: structured(config, "opendkim"),
        ssh: structured(config, "ssh"),
        ttl: config.get("ttl"),
        testKey: structured(config, "testKey"),
        importRecords: config.get("importRecords"),
        // Only its shape is checked; the value itself stays inside this expression.
        sshPrivateKey: classifyPrivateKey(config.get("sshPrivateKey")),
    };
}
