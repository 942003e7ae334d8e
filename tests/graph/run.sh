#!/usr/bin/env bash
# Tests of `dwf graph`, for every example (examples/*.dwf) and every file here
# (tests/graph/*.dwf: nested constructs, try/catch, sagas, hostile names):
#   - the DOT and Mermaid text equal tests/graph/expected/<name>.dot and .mmd byte for byte,
#     and a second run gives the same bytes (SVG too);
#   - Graphviz's `dot` accepts every DOT file without a warning, and the SVG `dwf graph` writes
#     is that layout; the SVG shows each node's and cluster's label as text (compare.py);
#   - Mermaid's own parser (the npm package, tests/node) reads every Mermaid file, and finds the
#     same nodes, labels, edges and clusters as Graphviz finds in the DOT (compare.py);
#   - node ids name the .dwf line the node comes from;
#   - the command: errors in the file print diagnostics and draw nothing (exit 1), a missing
#     `dot` is a clear error for SVG (exit 1), formats follow -o's extension, bad usage exits 2,
#     `dwf help graph` describes it, and the README's Mermaid block is today's approval graph.
#   tests/graph/run.sh            compare (PASS/FAIL lines)
#   tests/graph/run.sh --update   rewrite the expected files from the current dwf
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
DWF=${DWF:-$PWD/$BUILD/dwf}
update=0
[ "${1:-}" = "--update" ] && update=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
exp_dir=tests/graph/expected

pass() { echo "PASS graph/$1"; }
fail() { echo "FAIL graph/$1: $2"; }

if [ ! -x "$DWF" ]; then
  fail build "no $DWF (run make)"
  exit 1
fi
have_dot=1
command -v dot >/dev/null || { have_dot=0; fail graphviz "no 'dot' program (make deps installs graphviz)"; }
have_mermaid=1
[ -d tests/node/node_modules/mermaid ] && [ -d tests/node/node_modules/jsdom ] ||
  { have_mermaid=0; fail mermaid-parser "tests/node/node_modules lacks mermaid and jsdom (make deps)"; }

names=()
for src in examples/*.dwf tests/graph/*.dwf; do
  [ -f "$src" ] || continue
  case "$src" in *.test.dwf) continue ;; esac  # test files (dwf test), not workflows
  name=$(basename "$src" .dwf)
  names+=("$name")
  out=$tmp/$name
  for fmt in dot mermaid; do
    ext=$fmt; [ $fmt = mermaid ] && ext=mmd
    if ! "$DWF" graph "$src" --format $fmt >"$out.$ext" 2>"$out.$ext.err" || [ -s "$out.$ext.err" ]; then
      fail "$name/$ext" "dwf graph --format $fmt failed: $(head -c 400 "$out.$ext.err")"
      continue
    fi
    if [ $update -eq 1 ]; then
      mkdir -p "$exp_dir" && cp "$out.$ext" "$exp_dir/$name.$ext"
      continue
    fi
    if [ ! -f "$exp_dir/$name.$ext" ]; then fail "$name/$ext" "no $exp_dir/$name.$ext (run make golden-update and review it)"
    elif cmp -s "$exp_dir/$name.$ext" "$out.$ext"; then pass "$name/$ext"
    else fail "$name/$ext" "differs: $(diff "$exp_dir/$name.$ext" "$out.$ext" | head -6 | tr '\n' ' ')"
    fi
    "$DWF" graph "$src" --format $fmt >"$out.again.$ext" 2>/dev/null
    if cmp -s "$out.$ext" "$out.again.$ext"; then pass "$name/$ext-deterministic"
    else fail "$name/$ext-deterministic" "two runs differ"
    fi
  done
  [ $update -eq 1 ] && continue
  [ $have_dot -eq 1 ] || continue

  # Graphviz accepts the DOT as it is, silently; the SVG dwf writes is its layout.
  if dot -Tsvg "$out.dot" >"$out.dot.svg" 2>"$out.dot.err" && [ ! -s "$out.dot.err" ]; then
    pass "$name/dot-accepts"
  else
    fail "$name/dot-accepts" "dot -Tsvg: $(head -c 400 "$out.dot.err")"
  fi
  dot -Tjson "$out.dot" >"$out.json" 2>/dev/null
  if "$DWF" graph "$src" -o "$out.svg" 2>"$out.svg.err" && cmp -s "$out.svg" "$out.dot.svg"; then
    pass "$name/svg"
  else
    fail "$name/svg" "dwf graph -o $name.svg is not dot -Tsvg of its DOT: $(head -c 300 "$out.svg.err")"
  fi
  "$DWF" graph "$src" --format svg >"$out.again.svg" 2>/dev/null
  if cmp -s "$out.svg" "$out.again.svg"; then pass "$name/svg-deterministic"
  else fail "$name/svg-deterministic" "two runs differ"
  fi
done

if [ $update -eq 1 ]; then
  for f in "$exp_dir"/*; do
    n=$(basename "$f"); n=${n%.*}
    [ -f "examples/$n.dwf" ] || [ -f "tests/graph/$n.dwf" ] || { rm -f "$f"; echo "removed $f"; }
  done
  echo "updated $exp_dir"
  exit 0
fi
for f in "$exp_dir"/*; do
  [ -f "$f" ] || continue
  n=$(basename "$f"); n=${n%.*}
  [ -f "examples/$n.dwf" ] || [ -f "tests/graph/$n.dwf" ] ||
    fail "$n/stale" "$f has no examples/$n.dwf or tests/graph/$n.dwf (make golden-update drops it)"
done

# Mermaid's parser and Graphviz agree on every graph, the SVG shows the labels, ids name lines.
if [ $have_mermaid -eq 1 ] && [ $have_dot -eq 1 ]; then
  mmds=()
  for name in "${names[@]}"; do [ -f "$tmp/$name.mmd" ] && mmds+=("$tmp/$name.mmd"); done
  if node --import ./tests/node/register.mjs tests/graph/mermaid_parse.mjs "${mmds[@]}" \
       >"$tmp/mermaid.jsonl" 2>"$tmp/mermaid.err"; then
    while IFS= read -r line; do
      f=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["file"])' "$line")
      printf '%s\n' "$line" >"${f%.mmd}.mm.json"
    done <"$tmp/mermaid.jsonl"
    for src in examples/*.dwf tests/graph/*.dwf; do
      case "$src" in *.test.dwf) continue ;; esac
      name=$(basename "$src" .dwf)
      if [ ! -f "$tmp/$name.mm.json" ] || [ ! -f "$tmp/$name.json" ]; then
        fail "$name/mermaid" "no parse result"
        continue
      fi
      python3 tests/graph/compare.py "$src" "$tmp/$name.json" "$tmp/$name.svg" "$tmp/$name.mm.json"
    done
  else
    fail mermaid-parser "node failed: $(tail -c 600 "$tmp/mermaid.err")"
  fi
fi

# The hostile names come out as the very characters written in the .dwf, in the SVG (as XML
# text) and in what Mermaid shows.
if [ -f "$tmp/hostile.svg" ] && msg=$(python3 - "$tmp/hostile.svg" "$tmp/hostile.mm.json" <<'EOF' 2>&1
import json, sys, xml.etree.ElementTree as ET
want = ['step "<script>\\"x\\"</script>"', 'step "a#quot;b &lt;c&gt; &amp; d"',
        'step "back\\\\slash \\\\N \\\\l \\\\G"', 'step "%% not a comment ; end"',
        'step "`markdown` [box] {diamond} (round) |pipe| -->"', 'step "end #br# icon fa:fa-car"',
        'if input.s == "café\\tline\\nbreak \\"quoted\\" <b>bold</b>"',
        'wait "]]> <!-- -->" 1s',
        'if input.t == "\\u{202e}txt.exe \\xff\\xfe\\xc3 \\u{200b}\\x7f"']
svg = [t.text for t in ET.parse(sys.argv[1]).getroot().iter("{http://www.w3.org/2000/svg}text")]
mm = [line for v in json.load(open(sys.argv[2]))["vertices"] for line in v["text"].split("\n")]
bad = [w for w in want if w not in svg] + [w for w in want if w not in mm]
print("missing: " + " | ".join(bad) if bad else "")
sys.exit(1 if bad else 0)
EOF
); then pass hostile/text; else fail hostile/text "${msg:-no hostile.svg}"; fi

# The command line.
printf 'workflow broken {\n  step s { return missing }\n  return s\n}\n' >"$tmp/broken.dwf"
"$DWF" graph "$tmp/broken.dwf" -o "$tmp/broken.svg" >"$tmp/broken.out" 2>"$tmp/broken.err"
rc=$?
if [ $rc -eq 1 ] && grep -q "broken.dwf:2:.*error: unknown name 'missing'" "$tmp/broken.err" &&
   [ ! -e "$tmp/broken.svg" ] && [ ! -s "$tmp/broken.out" ]; then pass cli/errors-draw-nothing
else fail cli/errors-draw-nothing "exit $rc, stderr $(head -c 300 "$tmp/broken.err")"
fi
mkdir -p "$tmp/nopath"
PATH="$tmp/nopath" "$DWF" graph examples/order.dwf -o "$tmp/nodot.svg" 2>"$tmp/nodot.err"
rc=$?
if [ $rc -eq 1 ] && grep -q "'dot'" "$tmp/nodot.err" && grep -q "graphviz" "$tmp/nodot.err" &&
   [ ! -e "$tmp/nodot.svg" ]; then pass cli/no-dot
else fail cli/no-dot "exit $rc, stderr $(head -c 300 "$tmp/nodot.err")"
fi
mkdir -p "$tmp/baddot" && printf '#!/bin/sh\necho "dot: broken" >&2\nexit 3\n' >"$tmp/baddot/dot" &&
  chmod +x "$tmp/baddot/dot"
PATH="$tmp/baddot:$PATH" "$DWF" graph examples/order.dwf -o "$tmp/baddot.svg" 2>"$tmp/baddot.err"
rc=$?
if [ $rc -eq 1 ] && grep -q "dot -Tsvg failed (exit status 3)" "$tmp/baddot.err" &&
   [ ! -e "$tmp/baddot.svg" ]; then pass cli/dot-fails
else fail cli/dot-fails "exit $rc, stderr $(head -c 300 "$tmp/baddot.err")"
fi
PATH="$tmp/nopath" "$DWF" graph examples/order.dwf -o "$tmp/nodot.mmd" 2>/dev/null
if [ $? -eq 0 ] && cmp -s "$tmp/nodot.mmd" "$exp_dir/order.mmd"; then pass cli/mermaid-without-dot
else fail cli/mermaid-without-dot "mermaid output needs no dot"
fi
"$DWF" graph examples/order.dwf -o "$tmp/o.gv" && "$DWF" graph examples/order.dwf --format=mermaid -o "$tmp/o.txt" &&
  "$DWF" graph examples/order.dwf -o - >"$tmp/o.stdout"
if cmp -s "$tmp/o.gv" "$exp_dir/order.dot" && cmp -s "$tmp/o.txt" "$exp_dir/order.mmd" &&
   cmp -s "$tmp/o.stdout" "$exp_dir/order.dot"; then pass cli/formats
else fail cli/formats ".gv is dot, --format=mermaid wins over the extension, -o - is stdout (dot)"
fi
usage_ok=1
for args in "examples/order.dwf -o $tmp/x.png" "examples/order.dwf --format png" \
            "examples/order.dwf --bogus" "" "examples/order.dwf examples/retry.dwf" \
            "examples/order.dwf --format"; do
  # shellcheck disable=SC2086
  "$DWF" graph $args >/dev/null 2>"$tmp/usage.err"
  rc=$?
  if [ $rc -ne 2 ] || ! grep -q "dwf help graph" "$tmp/usage.err"; then
    usage_ok=0
    fail cli/usage "'dwf graph $args' exited $rc: $(head -c 200 "$tmp/usage.err")"
  fi
done
"$DWF" graph examples/order.dwf --fromat svg >/dev/null 2>"$tmp/usage.err"
if [ $? -ne 2 ] || ! grep -q "did you mean '--format'?" "$tmp/usage.err"; then
  usage_ok=0
  fail cli/usage "--fromat: $(head -c 200 "$tmp/usage.err")"
fi
[ $usage_ok -eq 1 ] && [ ! -e "$tmp/x.png" ] && pass cli/usage
if "$DWF" help graph | grep -q "usage: dwf graph FILE.dwf" && "$DWF" --help | grep -q "^  graph "; then
  pass cli/help
else fail cli/help "dwf help graph / dwf --help"
fi

# The README shows the approval workflow's graph: it must be what dwf draws today.
awk '/^```mermaid$/{on=1; next} /^```$/{if (on) exit} on' README.md >"$tmp/readme.mmd"
if [ -s "$tmp/readme.mmd" ] && cmp -s "$tmp/readme.mmd" "$exp_dir/approval.mmd"; then pass readme-mermaid
else fail readme-mermaid "README.md's mermaid block is not 'dwf graph examples/approval.dwf --format mermaid'"
fi
exit 0
