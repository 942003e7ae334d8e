#!/usr/bin/env bash
# Editors suite: the TextMate grammar editors/dwf.tmLanguage.json, run by VS Code's tokenizer
# (tests/editors/node: vscode-textmate + vscode-oniguruma, installed by `make deps`), gives the
# scopes tests/editors/scopes.dwf asserts, and tokenizes every example, golden input and
# diagnostics test the way the compiler's scanner reads them (grammar_test.mjs).
set -u
cd "$(dirname "$0")/../.."
if [ ! -d tests/editors/node/node_modules/vscode-textmate ]; then
  echo "FAIL editors_setup: tests/editors/node/node_modules lacks vscode-textmate (make deps)"
  exit 0
fi
examples=()
for f in examples/*.dwf; do [[ $f == *.test.dwf ]] || examples+=("$f"); done  # test files (dwf test) are not workflows
node tests/editors/grammar_test.mjs "${examples[@]}" tests/golden/*.dwf tests/editors/scopes.dwf --broken tests/diag/*.dwf
