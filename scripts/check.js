/**
 * `npm run check [-- --stack NAME] [-- --config FILE --outputs FILE]`: what receivers conclude from
 * the published DNS for the current stack, as a table; exit status 0 (no fail), 1 (a fail) or 2
 * (could not check). components/check/cli.ts says what it reads.
 */
"use strict";
// Plain Node runs the TypeScript through the project's compiler, as the demo does.
require("../test/demo/register.js");
const { main } = require("../components/check/cli.ts");

main(process.argv.slice(2)).then(
    (code) => {
        process.exitCode = code;
    },
    (e) => {
        console.error(e);
        process.exitCode = 2;
    },
);
