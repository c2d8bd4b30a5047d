#!/usr/bin/env node
/** `npm run demo`: test/demo/demo.ts under plain Node (see register.js). */
"use strict";
require("./register");
require("./demo.ts")
    .main(process.argv.slice(2))
    .then((code) => process.exit(code));
