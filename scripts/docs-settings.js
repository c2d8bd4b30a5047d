/**
 * Writes what the settings table (components/settingsTable.ts) says into Pulumi.yaml's `config:`
 * block and the README's settings table (between <!-- settings:start --> and <!-- settings:end -->).
 * `npm run docs:settings`; test/unit/settings.test.ts fails until it has run after a change.
 */
"use strict";
const fs = require("fs");
const path = require("path");
// Plain Node runs the TypeScript through the project's compiler, as the demo does.
require("../test/demo/register.js");
const docs = require("../components/settingsDocs.ts");

const root = path.join(__dirname, "..");
for (const [file, write] of [
    ["Pulumi.yaml", docs.pulumiYaml],
    ["README.md", docs.readmeWithTable],
]) {
    const p = path.join(root, file);
    const before = fs.readFileSync(p, "utf8");
    const after = write(before);
    if (after !== before) fs.writeFileSync(p, after);
    console.log(`${file}: ${after === before ? "unchanged" : "written"}`);
}
