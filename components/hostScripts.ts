/**
 * Builds the scripts run on the host: `templates/lib.sh`, the OS detection, the values for
 * this stack as shell variables, the staged files, then the step's own template.
 */
import { milterEndpoint, MILTER_ENDPOINTS, OS_FAMILIES, OS_FAMILY_FACTS, OsFamily } from "./osFamilies";
import { MilterTransport } from "./settings";
import { loadTemplate, shellQuote, TemplateConditions } from "./templates";

/** Per-family values a script may ask for. */
export type FamilyVar = "PACKAGES" | "POLICYD_SPF_BIN" | "POLICYD_SPF_CONF" | "MILTER" | "SOCKET_DIR" | "MAKE_SOCKET_DIR";

export interface ScriptSpec {
    /** Template name in templates/, without `.sh`. */
    template: string;
    /** Values this step needs, as shell variables. */
    vars?: Record<string, string>;
    /** Per-family values this step needs. */
    familyVars?: FamilyVar[];
    /** The milter transport setting, when MILTER or SOCKET_DIR is asked for. */
    milterTransport?: MilterTransport;
    /** Files staged into "$STAGE" before the body runs, by name; they travel on stdin (`stagedStdin`). */
    files?: Record<string, string>;
    /** Templates of shell functions the body uses, put before it. */
    includes?: string[];
    /**
     * Whether the host signs mail (MailHostArgs.sign; default true): a host that does not gets its
     * templates' `#@else` side of `#@if signing` (components/templates.ts selectBlocks), and
     * PACKAGES without OpenDKIM's.
     */
    signing?: boolean;
}

const conditionsOf = (spec: Pick<ScriptSpec, "signing">): TemplateConditions => ({ signing: spec.signing ?? true });

function familyValue(name: FamilyVar, family: OsFamily, transport: MilterTransport, signing: boolean): string {
    const facts = OS_FAMILY_FACTS[family];
    switch (name) {
        case "PACKAGES":
            return (signing ? facts.packages : facts.policydSpfPackages).join(" ");
        case "POLICYD_SPF_BIN":
            return facts.policydSpfBin;
        case "POLICYD_SPF_CONF":
            return facts.policydSpfConf;
        case "MILTER":
            return milterEndpoint(transport, family).postfixMilter;
        case "SOCKET_DIR":
            return milterEndpoint(transport, family).socketDir;
        case "MAKE_SOCKET_DIR":
            return milterEndpoint(transport, family).makeSocketDir ? "1" : "";
    }
}

function assignments(vars: Record<string, string>, indent = ""): string {
    return Object.entries(vars)
        .map(([k, v]) => `${indent}${k}=${shellQuote(v)}\n`)
        .join("");
}

/**
 * Staged files travel on the step's stdin, never inside its command: sshd runs the command as
 * one argument of `$SHELL -c` (openssh session.c, do_child), and Linux refuses any single
 * argument over 128 KiB (MAX_ARG_STRLEN, include/uapi/linux/binfmts.h), which the OpenDKIM
 * tables pass at about 420 domains. pulumi-command pipes `stdin` into the session whole
 * (pulumi/pulumi-command provider/pkg/provider/remote/commandOutputs.go ~73-75), with no limit.
 * Each file starts with a line `#mailauth-file <name>`; its lines follow.
 */
export const STAGED_FILE_HEADER = "#mailauth-file ";

/** The stdin of a step that stages these files. */
export function stagedStdin(files: Record<string, string>): string {
    return Object.entries(files)
        .map(([name, content]) => {
            if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new Error(`bad staged file name ${name}`);
            if (content.split("\n").some((l) => l.startsWith(STAGED_FILE_HEADER))) {
                throw new Error(`file ${name} contains the staging marker`);
            }
            return `${STAGED_FILE_HEADER}${name}\n${content.endsWith("\n") || content === "" ? content : `${content}\n`}`;
        })
        .join("");
}

/** The script lines that write the files arriving on stdin into "$STAGE", and check they all came. */
function stageFromStdin(names: string[]): string {
    const n = STAGED_FILE_HEADER.length;
    return (
        `awk -v stage="$STAGE" 'index($0, "${STAGED_FILE_HEADER}") == 1 { f = stage "/" substr($0, ${n + 1}); printf "" > f; next } { print > f }'\n` +
        `for f in ${names.join(" ")}; do [ -f "$STAGE/$f" ] || die "staged file $f did not arrive on stdin"; done\n`
    );
}

/**
 * The inputs a template declares on its `# inputs:` line: the variables it reads that neither
 * it, templates/lib.sh nor buildScript (STAGE) sets. test/unit/template-contract.test.ts checks
 * the declaration against what the template really reads.
 */
export function templateInputs(template: string, conditions?: TemplateConditions): string[] {
    const line = loadTemplate(`${template}.sh`, conditions)
        .split("\n")
        .find((l) => l.startsWith("# inputs:"));
    if (line === undefined) throw new Error(`templates/${template}.sh has no '# inputs:' line`);
    return line
        .slice("# inputs:".length)
        .split(/\s+/)
        .filter((w) => w !== "" && w !== "(none)");
}

/** Every declared input provided, nothing undeclared passed: a broken contract fails the program. */
function checkInputs(spec: ScriptSpec): void {
    const declared = templateInputs(spec.template, conditionsOf(spec));
    const provided = [...Object.keys(spec.vars ?? {}), ...(spec.familyVars ?? [])];
    const missing = declared.filter((v) => !provided.includes(v));
    const extra = provided.filter((v) => !declared.includes(v));
    if (missing.length > 0 || extra.length > 0) {
        throw new Error(
            `templates/${spec.template}.sh: ` +
                [missing.length > 0 ? `needs ${missing.join(", ")}, not provided` : "", extra.length > 0 ? `does not declare ${extra.join(", ")}` : ""]
                    .filter(Boolean)
                    .join("; "),
        );
    }
}

/** The whole script for one step, as run on the host. */
export function buildScript(spec: ScriptSpec): string {
    checkInputs(spec);
    const parts = [
        "#!/bin/bash\n",
        `# mailauth step: ${spec.template} (generated from templates/${spec.template}.sh by the mailauth Pulumi stack)\n`,
        loadTemplate("lib.sh"),
        "detect_os\n",
    ];
    const familyVars = spec.familyVars ?? [];
    if (familyVars.length > 0) {
        const transport = spec.milterTransport ?? "auto";
        parts.push('case "$OS_FAMILY" in\n');
        for (const family of OS_FAMILIES) {
            const values = Object.fromEntries(familyVars.map((v) => [v, familyValue(v, family, transport, spec.signing ?? true)]));
            parts.push(`    ${family})\n${assignments(values, "        ")}        ;;\n`);
        }
        parts.push("esac\n");
    }
    parts.push(assignments(spec.vars ?? {}));
    parts.push(`STAGE=$(mktemp -d /tmp/mailauth.XXXXXX)\ntrap 'rm -rf "$STAGE"' EXIT\n`);
    const staged = Object.keys(spec.files ?? {});
    if (staged.length > 0) parts.push(stageFromStdin(staged));
    for (const include of spec.includes ?? []) parts.push(loadTemplate(`include/${include}.sh`, conditionsOf(spec)));
    parts.push(loadTemplate(`${spec.template}.sh`, conditionsOf(spec)));
    return parts.join("");
}

/** The command line that runs a script over SSH: as root, or through passwordless sudo. */
export function commandLine(script: string, user: string): string {
    const sudo = user === "root" ? "" : "sudo -n ";
    return `${sudo}bash -c ${shellQuote(script)}`;
}

/**
 * A step whose script travels on stdin, ahead of the step's own stdin: the command stays a short
 * line. pulumi-command puts the command text into a failed step's error before the script's own
 * output (pulumi/pulumi-command v1.2.1 provider/pkg/provider/remote/commandOutputs.go ~100-101:
 * `fmt.Errorf("%w: running %q:\n%s", err, cmd, output)`), so a whole script there buries the
 * reason under tens of kilobytes. The command reads exactly the script's bytes (GNU coreutils
 * `head -c N` reads at most N bytes: src/head.c head_bytes, each read MIN(bufsize, bytes left)),
 * refuses a script that did not arrive whole, and runs it with the rest of stdin as its stdin.
 * No secret is in either: a key travels only on a key step's secret stdin (MailHost).
 * `name` ($0 of the command) tells in the error which step it was.
 */
export function stdinCommandLine(script: string, user: string, name: string): string {
    if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new Error(`bad step name ${name}`);
    const n = Buffer.byteLength(script);
    const runner =
        `f=$(mktemp /tmp/mailauth-step.XXXXXX) || exit 70; trap 'rm -f "$f"' EXIT; head -c ${n} >"$f"; ` +
        `[ "$(wc -c <"$f")" -eq ${n} ] || { echo "mailauth: the step's script did not arrive whole on stdin" >&2; exit 70; }; bash "$f"`;
    const sudo = user === "root" ? "" : "sudo -n ";
    return `${sudo}bash -c ${shellQuote(runner)} ${name}`;
}

/** The stdin of such a step: the script, then what the script itself reads on stdin. */
export function stdinWithScript(script: string, stdin: string): string {
    return `${script}${stdin}`;
}

/** A step command made by stdinCommandLine, split back into its script and the script's own stdin; undefined for another command. */
export function splitStdinStep(commandLine: string, stdin: string): { script: string; stdin: string } | undefined {
    const m = commandLine.match(/^(?:sudo -n )?bash -c 'f=\$\(mktemp \/tmp\/mailauth-step\.XXXXXX\).* head -c (\d+) >/);
    if (!m) return undefined;
    const bytes = Buffer.from(stdin);
    const n = Number(m[1]);
    if (bytes.length < n) throw new Error(`stdin holds ${bytes.length} bytes, the command reads a script of ${n}`);
    return { script: bytes.subarray(0, n).toString(), stdin: bytes.subarray(n).toString() };
}

/** Every Postfix milter value this stack may have set, so a transport change drops the old one. */
export const KNOWN_MILTERS = [...new Set(Object.values(MILTER_ENDPOINTS).flatMap((byTransport) => Object.values(byTransport).map((e) => e.postfixMilter)))];
