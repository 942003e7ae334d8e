#!/usr/bin/env bash
# What the README and examples/README.md show must be what dwf does today:
# - the README's `dwf iam examples/orders_aws.dwf --explain` excerpt: every line of it (the "..."
#   elisions aside) is a line of today's output, in the same order;
# - examples/README.md names every example workflow in examples/ (a new example without a row
#   fails here).
# Prints "PASS name" / "FAIL name: why" lines (tests/run.sh counts them).
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
DWF=${DWF:-$ROOT/build/dwf}
T=$(mktemp -d /tmp/dwf-cli-docs.XXXXXX)
trap 'rm -rf "$T"' EXIT

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }

if [ ! -x "$DWF" ]; then fail cli_docs_dwf "no $DWF (build first)"; exit 0; fi

# The excerpt: the indented lines after "$ build/dwf iam examples/orders_aws.dwf --explain" up to
# the first line that is not indented by four spaces, without the indent.
awk '/^    \$ build\/dwf iam examples\/orders_aws.dwf --explain$/ {on=1; next}
     on && !/^    / {exit}
     on {print substr($0, 5)}' README.md >"$T/excerpt"
grep -v '^\.\.\.$' "$T/excerpt" >"$T/want"
if [ ! -s "$T/want" ]; then
  fail cli_docs_readme_iam_explain "README.md has no 'dwf iam examples/orders_aws.dwf --explain' excerpt"
elif ! "$DWF" iam examples/orders_aws.dwf --explain >"$T/got" 2>"$T/err"; then
  fail cli_docs_readme_iam_explain "dwf iam --explain failed: $(head -c 300 "$T/err")"
else
  # every wanted line, in order, among the output's lines
  missing=$(awk 'NR == FNR {got[++n] = $0; next}
                 { while (i < n && got[++i] != $0) ; if (got[i] != $0) { print; exit } }' "$T/got" "$T/want")
  if [ -z "$missing" ]; then pass cli_docs_readme_iam_explain
  else fail cli_docs_readme_iam_explain "README.md's excerpt line '$missing' is not in today's output (in order); update the README"
  fi
fi

# Every example workflow has a row in examples/README.md.
unlisted=""
for f in examples/*.dwf; do
  case $f in *.test.dwf) continue;; esac
  grep -q "\`$(basename "$f")\`" examples/README.md || unlisted="$unlisted $(basename "$f")"
done
if [ -z "$unlisted" ]; then pass cli_docs_examples_listed
else fail cli_docs_examples_listed "examples/README.md does not name:$unlisted"
fi
exit 0
