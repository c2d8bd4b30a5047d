/**
 * Domain and host names as DNS, IDNA and the daemons that receive them take them, and why one is not.
 *
 * - Letters, digits and hyphens in labels of 1 to 63 characters, 253 in all (RFC 1035 2.3.1, 2.3.4),
 *   no hyphen first or last, a last label with a letter (RFC 3696 2).
 * - Hyphens in the 3rd and 4th characters mark an encoded label (RFC 5891 4.2.3.1): only `xn--`
 *   (an IDNA A-label) may have them, and it must be one: punycode that decodes (RFC 3492), to the
 *   same label when encoded again (RFC 5891 5.4), of letters, marks and digits only (IDNA2008
 *   leaves symbols such as emoji DISALLOWED, RFC 5892 2.3), in one script or one of the script
 *   mixes UTS #39 5.2 "Highly Restrictive" allows (Han with Hiragana and Katakana, with Bopomofo or
 *   with Hangul, each also with Latin). A label that mixes, say, Latin and Cyrillic is a look-alike
 *   of another name (`exаmple.com` with a Cyrillic `а`), refused by registries under ICANN's IDN
 *   guidelines: the stack would sign and publish for a name the user did not mean.
 * - A name in Unicode (a U-label) is refused with its A-label as the way out: Cloudflare keeps zone
 *   and record names in ASCII, and OpenDKIM compares the From domain byte by byte.
 *
 * Decoding is Node's own UTS #46 implementation (url.domainToUnicode / domainToASCII, WHATWG URL),
 * no vendored table. Whether a multi-label name is a public suffix (co.uk) is not decided here: a
 * Cloudflare zone is always one label below a public suffix ("Cloudflare requires your apex domain
 * to be one level below a valid TLD defined in the Public Suffix List",
 * developers.cloudflare.com/learning-paths/get-started/add-domain-to-cf/add-site; error 1099 "could
 * not be identified as a registered domain"), so the zone check (components/zone.ts) finds no zone
 * for such a domain and refuses it, using Cloudflare's complete list rather than a copy.
 */
import { domainToASCII, domainToUnicode } from "url";
import { show } from "./show";

const LDH = /^[A-Za-z0-9-]+$/;

/** UTS #39 5.2 Highly Restrictive: the script sets a label may use beyond a single script. */
const ALLOWED_MIXES = [
    ["Latin", "Han", "Hiragana", "Katakana"],
    ["Latin", "Han", "Bopomofo"],
    ["Latin", "Han", "Hangul"],
];

/** The Unicode scripts (Script property values) this Node knows; Common and Inherited are script-neutral. */
const SCRIPTS: { name: string; re: RegExp }[] = [
    "Adlam",
    "Ahom",
    "Anatolian_Hieroglyphs",
    "Arabic",
    "Armenian",
    "Avestan",
    "Balinese",
    "Bamum",
    "Bassa_Vah",
    "Batak",
    "Bengali",
    "Bhaiksuki",
    "Bopomofo",
    "Brahmi",
    "Braille",
    "Buginese",
    "Buhid",
    "Canadian_Aboriginal",
    "Carian",
    "Caucasian_Albanian",
    "Chakma",
    "Cham",
    "Cherokee",
    "Chorasmian",
    "Coptic",
    "Cuneiform",
    "Cypriot",
    "Cypro_Minoan",
    "Cyrillic",
    "Deseret",
    "Devanagari",
    "Dives_Akuru",
    "Dogra",
    "Duployan",
    "Egyptian_Hieroglyphs",
    "Elbasan",
    "Elymaic",
    "Ethiopic",
    "Georgian",
    "Glagolitic",
    "Gothic",
    "Grantha",
    "Greek",
    "Gujarati",
    "Gunjala_Gondi",
    "Gurmukhi",
    "Han",
    "Hangul",
    "Hanifi_Rohingya",
    "Hanunoo",
    "Hatran",
    "Hebrew",
    "Hiragana",
    "Imperial_Aramaic",
    "Inscriptional_Pahlavi",
    "Inscriptional_Parthian",
    "Javanese",
    "Kaithi",
    "Kannada",
    "Katakana",
    "Kawi",
    "Kayah_Li",
    "Kharoshthi",
    "Khitan_Small_Script",
    "Khmer",
    "Khojki",
    "Khudawadi",
    "Lao",
    "Latin",
    "Lepcha",
    "Limbu",
    "Linear_A",
    "Linear_B",
    "Lisu",
    "Lycian",
    "Lydian",
    "Mahajani",
    "Makasar",
    "Malayalam",
    "Mandaic",
    "Manichaean",
    "Marchen",
    "Masaram_Gondi",
    "Medefaidrin",
    "Meetei_Mayek",
    "Mende_Kikakui",
    "Meroitic_Cursive",
    "Meroitic_Hieroglyphs",
    "Miao",
    "Modi",
    "Mongolian",
    "Mro",
    "Multani",
    "Myanmar",
    "Nabataean",
    "Nag_Mundari",
    "Nandinagari",
    "New_Tai_Lue",
    "Newa",
    "Nko",
    "Nushu",
    "Nyiakeng_Puachue_Hmong",
    "Ogham",
    "Ol_Chiki",
    "Old_Hungarian",
    "Old_Italic",
    "Old_North_Arabian",
    "Old_Permic",
    "Old_Persian",
    "Old_Sogdian",
    "Old_South_Arabian",
    "Old_Turkic",
    "Old_Uyghur",
    "Oriya",
    "Osage",
    "Osmanya",
    "Pahawh_Hmong",
    "Palmyrene",
    "Pau_Cin_Hau",
    "Phags_Pa",
    "Phoenician",
    "Psalter_Pahlavi",
    "Rejang",
    "Runic",
    "Samaritan",
    "Saurashtra",
    "Sharada",
    "Shavian",
    "Siddham",
    "SignWriting",
    "Sinhala",
    "Sogdian",
    "Sora_Sompeng",
    "Soyombo",
    "Sundanese",
    "Syloti_Nagri",
    "Syriac",
    "Tagalog",
    "Tagbanwa",
    "Tai_Le",
    "Tai_Tham",
    "Tai_Viet",
    "Takri",
    "Tamil",
    "Tangsa",
    "Tangut",
    "Telugu",
    "Thaana",
    "Thai",
    "Tibetan",
    "Tifinagh",
    "Tirhuta",
    "Toto",
    "Ugaritic",
    "Vai",
    "Vithkuqi",
    "Wancho",
    "Warang_Citi",
    "Yezidi",
    "Yi",
    "Zanabazar_Square",
    // Unicode 16 and 17 (Node 20.20 knows them; an older Node skips what it does not know).
    "Garay",
    "Gurung_Khema",
    "Kirat_Rai",
    "Ol_Onal",
    "Sunuwar",
    "Todhri",
    "Tulu_Tigalari",
    "Beria_Erfe",
    "Sidetic",
    "Tai_Yo",
    "Tolong_Siki",
].flatMap((name) => {
    try {
        return [{ name, re: new RegExp(`^\\p{Script=${name}}$`, "u") }];
    } catch {
        return []; // a script newer than this Node's Unicode data: none of its characters can match anyway
    }
});
const NEUTRAL = /^[\p{Script=Common}\p{Script=Inherited}]$/u;
/** The script names this Node knows from the list above (for the test that the list misses none). */
export const KNOWN_SCRIPTS: readonly string[] = SCRIPTS.map((s) => s.name);

/** The script of one character ("" for digits, hyphens and combining marks shared by all scripts). */
export function scriptOf(ch: string): string {
    if (NEUTRAL.test(ch)) return "";
    return SCRIPTS.find((s) => s.re.test(ch))?.name ?? `Unknown(U+${ch.codePointAt(0)!.toString(16).toUpperCase()})`;
}

/** A character as shown in a message: itself, its code point and its script. */
function described(ch: string): string {
    return `"${ch}" (U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}, ${scriptOf(ch) || "no script"})`;
}

/** Why a decoded label (Unicode) is not one a careful registry would hold, or undefined. */
function unicodeLabelProblem(u: string): string | undefined {
    const chars = [...u];
    const symbol = chars.find((c) => c !== "-" && !/^[\p{L}\p{M}\p{N}]$/u.test(c));
    if (symbol) return `holds ${described(symbol)}, a symbol IDNA2008 does not allow in names (RFC 5892)`;
    const scripts = [...new Set(chars.map(scriptOf).filter((s) => s !== ""))];
    if (scripts.length <= 1 || ALLOWED_MIXES.some((mix) => scripts.every((s) => mix.includes(s)))) return undefined;
    const examples = scripts.slice(0, 3).map((s) => described(chars.find((c) => scriptOf(c) === s)!));
    return `mixes ${scripts.join(" and ")} letters (${examples.join(", ")}): a look-alike of another name, which registries refuse (UTS #39 5.2)`;
}

/** Why one ASCII label is not a host-name label, or undefined. */
function labelProblem(label: string, reservedHyphens = true): string | undefined {
    if (label.length === 0) return "has an empty label (two dots in a row, or a dot first)";
    if (label.length > 63) return `has a label of ${label.length} characters, over DNS's 63`;
    if (!LDH.test(label)) {
        const bad = [...label].find((c) => !/[A-Za-z0-9-]/.test(c))!;
        return `has ${JSON.stringify(bad)} in the label ${JSON.stringify(label)}: only letters, digits and hyphens are allowed`;
    }
    if (label.startsWith("-") || label.endsWith("-")) return `has the label ${JSON.stringify(label)}, which starts or ends with a hyphen`;
    if (label.slice(2, 4) === "--") {
        if (label.slice(0, 2).toLowerCase() !== "xn") {
            if (!reservedHyphens) return undefined;
            return `has the label ${JSON.stringify(label)}, with hyphens in its 3rd and 4th characters: reserved for encoded names (RFC 5891 4.2.3.1)`;
        }
        const u = domainToUnicode(label.toLowerCase());
        if (u === "" || u === label.toLowerCase() || domainToASCII(u) !== label.toLowerCase()) {
            return `has the label ${JSON.stringify(label)}, which is not valid punycode (an xn-- label must decode to a name, RFC 5891 5.4)`;
        }
        const why = unicodeLabelProblem(u);
        if (why) return `has the label ${JSON.stringify(label)} ("${u}"), which ${why}`;
    }
    return undefined;
}

/**
 * Why one DNS label that is not a host name (a DKIM selector) is not acceptable as an `xn--` label,
 * as a phrase, or undefined: the same A-label rule as for names, nothing else.
 */
export function aLabelProblem(label: string): string | undefined {
    return /^xn--/i.test(label) ? labelProblem(label)?.replace(/^has the label /, "is the label ") : undefined;
}

/**
 * Why `value` is not a host name (at least two labels unless `singleLabel`), as a phrase to follow the
 * shown value ("... is not a domain name: <why>"), or undefined when it is one. One trailing dot allowed.
 */
export function hostnameProblem(value: string, singleLabel = false, reservedHyphens = true): string | undefined {
    if (/[^\x00-\x7f]/.test(value)) {
        const ascii = domainToASCII(value);
        const asAscii = ascii && ascii !== value ? hostnameProblem(ascii, singleLabel, reservedHyphens) : "cannot be encoded";
        return asAscii === undefined
            ? `it is written in Unicode; Cloudflare, the DNS and OpenDKIM take its ASCII form: write "${ascii}"`
            : asAscii === "cannot be encoded"
              ? "it holds characters other than ASCII letters, digits and hyphens, and has no valid ASCII (IDNA) form"
              : `it holds characters other than ASCII letters, digits and hyphens; in ASCII it is ${ascii}, and ${asAscii}`;
    }
    const name = value.replace(/\.$/, "");
    if (name.length === 0) return "it is empty (the DNS root)";
    if (name.length > 253) return `it is ${name.length} characters, over DNS's 253`;
    const labels = name.split(".");
    if (labels.length < 2 && !singleLabel) return "it has a single label; give the full name (e.g. mail.example.com)";
    for (const l of labels) {
        const why = labelProblem(l, reservedHyphens);
        if (why) return `it ${why}`;
    }
    if (!/[a-z]/i.test(labels[labels.length - 1]))
        return `its last label ${JSON.stringify(labels[labels.length - 1])} has no letter (no top-level domain is all digits)`;
    return undefined;
}

/**
 * Why `ssh.host` is not a host to connect to (an IP address is checked before): a host name of one or
 * more labels. Only ssh reads it, never DNS registries: `db--1` is a fine name there, but an `xn--`
 * label must still be a valid A-label, and nothing may start with "-" (ssh would take it as an option).
 */
export function sshHostProblem(host: string): string | undefined {
    return hostnameProblem(host, true, false);
}

/**
 * Why an SPF target without macros (`_spf.example.net`; underscores allowed there) is not a name a
 * receiver can look up, as "it ...", or undefined: an `xn--` label that is not a valid A-label. A
 * receiver finds no record there: an include: of it fails every message (permerror, RFC 7208 5.2).
 */
export function spfTargetProblem(spec: string): string | undefined {
    if (spec.includes("%")) return undefined;
    for (const label of spec.replace(/\.$/, "").split(".")) {
        const why = /^xn--/i.test(label) ? labelProblem(label) : undefined;
        if (why) return `it ${why}`;
    }
    return undefined;
}

/**
 * A `*.suffix` trusted host: OpenDKIM reads the stack's TrustedHosts as InternalHosts `refile:`
 * (templates/opendkim.conf), whose `*` matches any text, against the client's verified host name
 * and each of its parent names (trusteddomainproject/OpenDKIM opendkim/util.c dkimf_checkhost).
 * Whoever registers a domain under the suffix and gives a server a matching name (its own PTR and
 * A records: Postfix's forward-confirmed name) is trusted, and OpenDKIM signs their mail with the
 * domains' keys. Allowed only at or below one of the configured domains, whose DNS the user holds.
 */
export function trustedWildcardProblem(entry: string, domains: readonly string[]): string | undefined {
    if (!entry.startsWith("*.")) return undefined;
    const suffix = entry.slice(2).toLowerCase().replace(/\.$/, "");
    if (domains.length === 0 || domains.some((d) => suffix === d || suffix.endsWith(`.${d}`))) return undefined;
    return (
        `${show(entry)} trusts every host whose verified name ends in .${suffix}: anyone who registers a name there and points a server's PTR at it ` +
        `would have OpenDKIM sign their mail with your domains' keys (InternalHosts is a refile: pattern, util.c dkimf_checkhost). ` +
        `A wildcard is allowed only within the configured domains (${domains.map((d) => `*.${d}`).join(", ")}); list your relays by address or full host name`
    );
}
