#!/usr/bin/env bash
# Validate CITATION.cff with cffconvert. cffconvert pins an old jsonschema that clashes with the project's
# virtualenv, so it lives in its own (.venv-tools, git-ignored), made on first use. Exit 0 valid, else cffconvert's.
set -euo pipefail
cd "$(dirname "$0")/.."
tools=.venv-tools
if [ ! -x "$tools/bin/cffconvert" ]; then
    "${PYTHON:-python3}" -m venv "$tools"
    "$tools/bin/pip" install --quiet --disable-pip-version-check "cffconvert==2.0.0"
fi
exec "$tools/bin/cffconvert" --validate -i CITATION.cff
