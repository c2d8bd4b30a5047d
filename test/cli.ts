/**
 * What the Pulumi CLI does with configuration before the program sees it, modelled from its
 * source (pulumi/pulumi at v3.276-era HEAD, fetched here), so that the tests hand the program
 * what a user's `pulumi config set` and `pulumi up` really hand it:
 *
 * - `pulumi config set [--path] [--type T] KEY VALUE` (pkg/cmd/pulumi/config/config.go ~715-790):
 *   without --path, or with a path of one segment, the value is stored as the string typed
 *   (sdk/go/common/resource/config/map.go Set, ~225-247). With a longer path the value is
 *   coerced (map.go ~239-244 -> value.go coerceObject ~143-166 -> object.go coerce ~560-591): "true"/"false" become
 *   booleans, base-10 integers without a leading zero become numbers, all else stays a string;
 *   `--type string` keeps it a string.
 * - Before the program runs (pkg/workspace/config.go mergeConfig ~255-355): every project key
 *   without a default, missing from the stack, is reported at once ("Stack 'S' is missing
 *   configuration value(s) ..."); defaults are added, primitives as their string, objects as
 *   JSON (createConfigValue ~179-194); a key with a declared `type` is checked against it
 *   (ValidateConfigValue, sdk/go/common/workspace/project.go ~771-830) and, when also
 *   `secret: true`, must be encrypted (validateStackConfigValues/validateStackConfigValue ~66-135). Untyped keys are not
 *   checked at all, `secret` included.
 */
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";

export const PROJECT = "mailauth";
const ROOT = path.join(__dirname, "..");

export interface ProjectConfigType {
    type?: string;
    items?: { type: string };
    default?: unknown;
    secret?: boolean;
    description?: string;
}

export function projectConfig(): Record<string, ProjectConfigType> {
    const project = yaml.load(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")) as { config: Record<string, ProjectConfigType> };
    return project.config;
}

/** A stack's configuration as the CLI keeps it: values by key, and which of them are encrypted. */
export interface StackConfig {
    values: Record<string, unknown>;
    secret: Set<string>;
}

export class CliError extends Error {}

/** pulumi/pulumi object.go coerce: the typed value a --path segment gets. */
export function coerce(value: string): unknown {
    if (value === "true") return true;
    if (value === "false") return false;
    if (value.length > 1 && value[0] === "0") return value;
    // strconv.ParseInt(v, 10, 64), then ParseUint: an optional sign, then base-10 digits.
    if (/^[+-]?\d+$/.test(value)) {
        const n = BigInt(value);
        if (n >= -(2n ** 63n) && n < 2n ** 64n) return Number(value);
    }
    return value;
}

/** resource.ParsePropertyPath, for the forms users type: a.b, a[0], a["b.c"]. */
export function parsePath(key: string): (string | number)[] {
    const out: (string | number)[] = [];
    const re = /([^.[\]"]+)|\[(\d+)\]|\["([^"]*)"\]|(\.)/gy;
    let m: RegExpExecArray | null;
    let last = 0;
    while ((m = re.exec(key)) !== null) {
        if (m[1] !== undefined) out.push(m[1]);
        else if (m[2] !== undefined) out.push(Number(m[2]));
        else if (m[3] !== undefined) out.push(m[3]);
        last = re.lastIndex;
    }
    if (last !== key.length) throw new CliError(`invalid config key path: ${key}`);
    return out;
}

export interface SetOptions {
    path?: boolean;
    secret?: boolean;
    type?: "string" | "int" | "bool" | "float";
}

/** `pulumi config set [--path] [--secret] [--type T] KEY VALUE` on a stack's configuration. */
export function configSet(stack: StackConfig, key: string, value: string, opts: SetOptions = {}): void {
    const colon = key.indexOf(":");
    const namespace = colon >= 0 ? key.slice(0, colon) : PROJECT;
    const name = colon >= 0 ? key.slice(colon + 1) : key;
    const segments = opts.path ? parsePath(name) : [name];
    const configKey = `${namespace}:${segments[0]}`;
    if (segments.length === 1) {
        stack.values[configKey] = typed(value, opts.type);
        if (opts.secret) stack.secret.add(configKey);
        return;
    }
    if (opts.secret) stack.secret.add(configKey);
    let root = stack.values[configKey];
    if (typeof root === "string") root = undefined;
    const holder: Record<string, unknown> = { root: structuredClone(root) };
    let cursor: any = holder;
    let cursorKey: string | number = "root";
    for (const seg of segments.slice(1)) {
        let next = cursor[cursorKey];
        if (next === undefined || next === null) {
            next = typeof seg === "number" ? [] : {};
            cursor[cursorKey] = next;
        } else if (typeof seg === "number" && !Array.isArray(next)) {
            throw new CliError(`an array was expected for index ${seg}`);
        } else if (typeof seg === "string" && (typeof next !== "object" || Array.isArray(next))) {
            throw new CliError(`a map was expected for key "${seg}"`);
        }
        if (typeof seg === "number" && seg > next.length) throw new CliError("array index out of range");
        cursor = next;
        cursorKey = seg;
    }
    cursor[cursorKey] = opts.type ? typed(value, opts.type) : coerce(value);
    stack.values[configKey] = holder.root;
}

function typed(value: string, type: SetOptions["type"]): unknown {
    switch (type) {
        case "int":
            return Number.parseInt(value, 10);
        case "bool":
            return value === "true";
        case "float":
            return Number.parseFloat(value);
        default:
            return value;
    }
}

/** sdk/go/common/workspace/project.go ValidateConfigValue. */
function validType(type: string, items: ProjectConfigType["items"], value: unknown): boolean {
    switch (type) {
        case "string":
            return typeof value === "string";
        case "integer":
            return (typeof value === "number" && Number.isInteger(value)) || (typeof value === "string" && /^[+-]?\d+$/.test(value));
        case "boolean":
            return value === true || value === false || value === "true" || value === "false";
        case "object":
            return typeof value === "object" && value !== null && !Array.isArray(value);
        default:
            return Array.isArray(value) && items !== undefined && value.every((v) => validType(items.type, undefined, v));
    }
}

/**
 * The configuration the program receives for `pulumi up` on this stack, as strings by key,
 * or the error the CLI stops with before the program starts.
 */
export function effectiveConfig(stack: StackConfig, stackName = "test"): { config: Record<string, string>; secretKeys: string[] } {
    const project = projectConfig();
    const values = { ...stack.values };
    const missing: string[] = [];
    for (const key of Object.keys(project).sort()) {
        const decl = project[key];
        const fullKey = key.includes(":") ? key : `${PROJECT}:${key}`;
        const found = values[fullKey] !== undefined;
        if (!found && decl.default === undefined) {
            missing.push(key);
            continue;
        }
        if (!found) {
            values[fullKey] = decl.default;
            continue;
        }
        if (decl.type !== undefined) {
            if (decl.secret && !stack.secret.has(fullKey)) {
                throw new CliError(`Stack '${stackName}' with configuration key '${key}' must be encrypted as it's secret`);
            }
            if (!validType(decl.type, decl.items, values[fullKey])) {
                throw new CliError(`Stack '${stackName}' with configuration key '${key}' must be of type '${decl.type}'`);
            }
        }
    }
    if (missing.length > 0) {
        const list =
            missing.length === 1
                ? `'${missing[0]}'`
                : `${missing
                      .slice(0, -1)
                      .map((k) => `'${k}'`)
                      .join(", ")} and '${missing[missing.length - 1]}'`;
        throw new CliError(`Stack '${stackName}' is missing configuration value${missing.length > 1 ? "s" : ""} ${list}`);
    }
    const config: Record<string, string> = {};
    for (const [k, v] of Object.entries(values)) config[k] = typeof v === "string" ? v : JSON.stringify(v);
    return { config, secretKeys: [...stack.secret].filter((k) => values[k] !== undefined) };
}

/**
 * The shell words of one command line as bash would split them, for the README's commands:
 * quotes removed, `$(...)` and `< file` handed to the given resolvers.
 */
export function shellWords(line: string, substitute: (command: string) => string): { words: string[]; stdinFrom?: string } {
    const words: string[] = [];
    let stdinFrom: string | undefined;
    let i = 0;
    let word: string | undefined;
    const push = () => {
        if (word !== undefined) words.push(word);
        word = undefined;
    };
    while (i < line.length) {
        const c = line[i];
        if (c === "#" && word === undefined) break;
        if (c === " " || c === "\t") {
            push();
            i++;
        } else if (c === "<" && word === undefined) {
            const m = line.slice(i + 1).match(/^\s*(\S+)/)!;
            stdinFrom = m[1];
            i += 1 + m[0].length;
        } else if (c === "'") {
            const end = line.indexOf("'", i + 1);
            word = (word ?? "") + line.slice(i + 1, end);
            i = end + 1;
        } else if (c === '"') {
            let j = i + 1;
            let text = "";
            while (line[j] !== '"') {
                if (line.startsWith("$(", j)) {
                    let depth = 1;
                    let k = j + 2;
                    while (depth > 0) {
                        if (line[k] === "(") depth++;
                        if (line[k] === ")") depth--;
                        k++;
                    }
                    text += substitute(line.slice(j + 2, k - 1));
                    j = k;
                } else {
                    text += line[j++];
                }
            }
            word = (word ?? "") + text;
            i = j + 1;
        } else {
            word = (word ?? "") + c;
            i++;
        }
    }
    push();
    return { words, stdinFrom };
}

/** Runs one `pulumi config set ...` command line (as split by shellWords) on a stack. */
export function runConfigSet(stack: StackConfig, words: string[], stdin: string | undefined): void {
    if (words[0] !== "pulumi" || words[1] !== "config" || words[2] !== "set") throw new CliError(`not a config set: ${words.join(" ")}`);
    const opts: SetOptions = {};
    const args: string[] = [];
    for (let i = 3; i < words.length; i++) {
        const w = words[i];
        if (w === "--path") opts.path = true;
        else if (w === "--secret") opts.secret = true;
        else if (w === "--plaintext") opts.secret = false;
        else if (w === "--type") opts.type = words[++i] as SetOptions["type"];
        else if (w.startsWith("--type=")) opts.type = w.slice(7) as SetOptions["type"];
        else args.push(w);
    }
    // "Multi-line values may be set by piping a file to standard in ... trailing newlines are stripped" (config.go ~716).
    const value = args[1] ?? stdin?.replace(/\n+$/, "");
    if (value === undefined) throw new CliError(`no value for ${args[0]}`);
    configSet(stack, args[0], value, opts);
}
