#!/usr/bin/env bash
# Golden tests of `dwf compile`: for every example (examples/*.dwf) and every file here
# (tests/golden/*.dwf), every emitted file must equal tests/golden/expected/<name>/ byte for
# byte, and the output must also hold up on its own:
#   - compiling twice gives identical files (no timestamps, no addresses);
#   - handler.c (and the `use`d C files) compile with gcc and clang -std=c11 -Wall -Wextra
#     -Werror, and link against libdwf.a and the Lambda main;
#   - every `#line N "handler.c"` (after generated glue) sits at line N - 1, so a C error in
#     the glue is reported where it really is;
#   - JSON files parse; IAM policies use the singular action names, never a "*" resource, and
#     the callback-sender policy exists exactly when the workflow has callbacks; the workflow
#     policy (iam/workflow-policy.json) has no "*" action or resource and Sids unique with the
#     durable ones; `dwf iam --explain` prints expected/<name>/dwf-iam.txt (the role's whole
#     policy and the .dwf lines behind each statement of the workflow's own);
#   - deploy.sh passes bash -n (and shellcheck when installed), template.yaml parses as YAML,
#     main.tf is in `terraform fmt` form when terraform is installed.
# <name>.args beside a tests/golden/<name>.dwf holds extra `dwf compile` arguments, and
# <name>.stderr what `dwf compile` must print (its warnings).
#   tests/golden/run.sh            compare (PASS/FAIL lines)
#   tests/golden/run.sh --update   rewrite the expected files from the current compiler
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
DWF=${DWF:-$PWD/$BUILD/dwf}
update=0
[ "${1:-}" = "--update" ] && update=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

pass() { echo "PASS golden/$1"; }
fail() { echo "FAIL golden/$1: $2"; }

if [ ! -x "$DWF" ]; then
  fail build "no $DWF (run make)"
  exit 1
fi

CFLAGS="-std=c11 -Wall -Wextra -Werror -Iinclude"
SANFLAGS=
[ -n "${SANITIZE:-}" ] && SANFLAGS="-fsanitize=$SANITIZE"
LIBS="-lcjson -lsqlite3 -lexpat -lcrypto -lcurl -lpthread -ldl -lm"

check_one() { # name src args...
  local name=$1 src=$2
  shift 2
  local out=$tmp/$name exp=tests/golden/expected/$name
  if ! "$DWF" compile "$src" -o "$out" "$@" >"$tmp/$name.log" 2>&1; then
    fail "$name/compile" "dwf compile exited $?: $(head -c 600 "$tmp/$name.log")"
    return
  fi
  # What dwf compile says (warnings), when the test pins it down.
  if [ -f "${src%.dwf}.stderr" ] && [ $update -eq 0 ]; then
    if cmp -s "${src%.dwf}.stderr" "$tmp/$name.log"; then pass "$name/stderr"
    else fail "$name/stderr" "expected $(head -c 300 "${src%.dwf}.stderr"), got $(head -c 300 "$tmp/$name.log")"
    fi
  fi
  # `dwf iam --explain`, with the same options (.args files hold only --region / --account,
  # which dwf iam takes too)
  "$DWF" iam "$src" --explain "$@" >"$tmp/$name.iam" 2>"$tmp/$name.iam.err"
  local iam_rc=$?
  if [ $update -eq 1 ]; then
    rm -rf "$exp" && mkdir -p "$exp" && cp -R "$out/." "$exp/" && rm -f "$exp/.dwf-generated"
    cp "$tmp/$name.iam" "$exp/dwf-iam.txt"
    echo "updated $exp"
    return
  fi
  if [ $iam_rc -ne 0 ]; then fail "$name/dwf-iam" "dwf iam exited $iam_rc: $(head -c 300 "$tmp/$name.iam.err")"
  elif cmp -s "$exp/dwf-iam.txt" "$tmp/$name.iam"; then pass "$name/dwf-iam"
  else fail "$name/dwf-iam" "differs: $(diff "$exp/dwf-iam.txt" "$tmp/$name.iam" 2>&1 | head -8 | tr '\n' ' ')"
  fi

  # Byte-for-byte against the expected files, both ways (no file missing, none extra).
  if [ ! -d "$exp" ]; then
    fail "$name/expected" "no $exp (run make golden-update and review the diff)"
  else
    local f rel
    while IFS= read -r f; do
      rel=${f#"$exp"/}
      if [ ! -f "$out/$rel" ]; then fail "$name/$rel" "not emitted any more"
      elif cmp -s "$f" "$out/$rel"; then pass "$name/$rel"
      else fail "$name/$rel" "differs: $(diff "$f" "$out/$rel" | head -8 | tr '\n' ' ')"
      fi
    done < <(find "$exp" -type f ! -name dwf-iam.txt | sort)
    while IFS= read -r f; do
      rel=${f#"$out"/}
      [ -f "$exp/$rel" ] || fail "$name/$rel" "emitted but not in $exp"
    done < <(find "$out" -type f ! -name .dwf-generated | sort)
  fi
  # The list of generated files (cli/output.c) names every file written, with its hash.
  local listed
  listed=$(cd "$out" && sha256sum --quiet --strict -c .dwf-generated 2>&1 && cut -c67- .dwf-generated | sort)
  if [ "$listed" = "$(cd "$out" && find . -type f ! -name .dwf-generated | cut -c3- | sort)" ]; then
    pass "$name/manifest"
  else fail "$name/manifest" "$(printf '%s' "$listed" | head -c 300)"
  fi

  # Same input, same output.
  "$DWF" compile "$src" -o "$out.again" "$@" >/dev/null 2>&1
  if diff -r "$out" "$out.again" >/dev/null; then pass "$name/deterministic"
  else fail "$name/deterministic" "two compiles differ: $(diff -r "$out" "$out.again" | head -4 | tr '\n' ' ')"
  fi

  # The C compiles warning-free with both compilers.
  local cfiles=("$out/handler.c") c
  while IFS= read -r c; do cfiles+=("$c"); done < <(find "$out" -name '*.c' ! -name handler.c | sort)
  local cc objs
  for cc in gcc clang; do
    command -v $cc >/dev/null || continue
    objs=()
    local ok=1
    for c in "${cfiles[@]}"; do
      local o extra=
      o=$tmp/$name.$cc.$(basename "$c" .c).o
      # `use`d files get what `dwf build` gives them; handler.c gets the bare flags.
      [ "$c" = "$out/handler.c" ] || extra=-D_GNU_SOURCE
      if ! $cc $CFLAGS $extra $SANFLAGS -I"$out" -c -o "$o" "$c" 2>"$tmp/$name.cc.log"; then
        fail "$name/$cc" "$(basename "$c"): $(head -c 800 "$tmp/$name.cc.log")"
        ok=0
        break
      fi
      objs+=("$o")
    done
    [ $ok -eq 1 ] && pass "$name/$cc"
  done

  # #line back to the C file: N is the line after the directive.
  if awk '/^#line [0-9]+ "handler.c"$/ { n++; if ($2 != NR + 1) bad = 1 } END { exit bad || !n }' \
      "$out/handler.c"; then
    pass "$name/line_back"
  else
    fail "$name/line_back" "a #line ... \"handler.c\" is missing or names another line"
  fi

  # Against the runtime: the handler links with libdwf.a and the Lambda main.
  objs=()
  for c in "${cfiles[@]}"; do objs+=("$tmp/$name.gcc.$(basename "$c" .c).o"); done
  if gcc $SANFLAGS -o "$tmp/$name.bin" "${objs[@]}" "$BUILD/lambda_main.o" "$BUILD/libdwf.a" $LIBS 2>"$tmp/$name.ld.log"; then
    pass "$name/link"
  else
    fail "$name/link" "$(grep -m3 'undefined\|error\|No such' "$tmp/$name.ld.log" | tr '\n' ' ')"
  fi

  # JSON parses; IAM is least privilege with the right names.
  local uses_cb=0
  grep -q 'dwf_callback(\|dwf_wait_for_callback(' "$out/handler.c" && uses_cb=1
  local msg
  if msg=$(python3 - "$out" "$uses_cb" <<'EOF' 2>&1
import json, os, sys
out, uses_cb = sys.argv[1], sys.argv[2] == "1"
errs = []
for root, _, files in os.walk(out):
    for f in files:
        if f.endswith(".json"):
            try:
                json.load(open(os.path.join(root, f)))
            except Exception as e:
                errs.append(f"{f}: {e}")
def statements(name):
    p = os.path.join(out, "iam", name)
    if not os.path.exists(p):
        return None
    return json.load(open(p))["Statement"]
def as_list(x):
    return x if isinstance(x, list) else [x]
dur = statements("durable-policy.json") or []
actions = [a for s in dur for a in as_list(s["Action"])]
for need in ("lambda:CheckpointDurableExecution", "lambda:GetDurableExecutionState"):
    if need not in actions:
        errs.append(f"durable-policy lacks {need}")
for name in ("durable-policy.json", "callback-sender-policy.json", "trust-policy.json"):
    for s in statements(name) or []:
        for a in as_list(s.get("Action", [])):
            if a.endswith("DurableExecutions") or a == "*" or a.endswith(":*"):
                errs.append(f"{name}: action {a}")
        for r in as_list(s.get("Resource", [])):
            if r == "*" or ":function:*" in r or r.endswith(":function:"):
                errs.append(f"{name}: resource {r}")
            if r.startswith("arn:aws:lambda:") and any(a.startswith("lambda:") and "DurableExecution" in a for a in as_list(s["Action"])) and not r.endswith(":*"):
                errs.append(f"{name}: unqualified function ARN {r} never matches an execution")
wf = statements("workflow-policy.json")
sids = [s.get("Sid") for s in dur + (wf or [])]
if len(sids) != len(set(sids)):
    errs.append(f"Sids repeat across durable-policy.json and workflow-policy.json: {sids}")
for s in wf or []:
    for a in as_list(s["Action"]):
        if a == "*" or a.endswith(":*"):
            errs.append(f"workflow-policy.json: action {a}")
    for r in as_list(s["Resource"]):
        if r == "*" or not r.startswith("arn:"):
            errs.append(f"workflow-policy.json: resource {r}")
if wf is not None and not wf:
    errs.append("workflow-policy.json without a statement")
cb = statements("callback-sender-policy.json")
if uses_cb and cb is None:
    errs.append("callbacks are used but there is no callback-sender-policy.json")
if not uses_cb and cb is not None:
    errs.append("callback-sender-policy.json without callbacks")
if cb is not None:
    acts = [a for s in cb for a in as_list(s["Action"])]
    for suffix in ("Success", "Failure", "Heartbeat"):
        if "lambda:SendDurableExecutionCallback" + suffix not in acts:
            errs.append("callback-sender-policy lacks " + suffix)
print("; ".join(errs))
sys.exit(1 if errs else 0)
EOF
  ); then pass "$name/iam"; else fail "$name/iam" "$msg"; fi

  # The deploy files are well-formed for their tools.
  if bash -n "$out/deploy.sh" 2>"$tmp/$name.sh.log"; then pass "$name/deploy.sh-syntax"
  else fail "$name/deploy.sh-syntax" "$(head -c 400 "$tmp/$name.sh.log")"
  fi
  if command -v shellcheck >/dev/null; then
    if shellcheck -S warning "$out/deploy.sh" >"$tmp/$name.sc.log" 2>&1; then pass "$name/shellcheck"
    else fail "$name/shellcheck" "$(head -c 600 "$tmp/$name.sc.log" | tr '\n' ' ')"
    fi
  fi
  if [ $uses_cb -eq 1 ] && ! grep -q -- '--invocation-type Event' "$out/deploy.sh"; then
    fail "$name/deploy.sh-async" "callbacks are used but the invoke is synchronous"
  fi
  if msg=$(python3 - "$out/template.yaml" <<'EOF' 2>&1
import sys, yaml
class Loader(yaml.SafeLoader):
    pass
Loader.add_multi_constructor("!", lambda l, s, n: l.construct_scalar(n) if isinstance(n, yaml.ScalarNode) else None)
t = yaml.load(open(sys.argv[1]), Loader=Loader)
p = t["Resources"]["WorkflowFunction"]["Properties"]
assert p["Runtime"] == "provided.al2023", p["Runtime"]
assert "ExecutionTimeout" in p["DurableConfig"], "DurableConfig without ExecutionTimeout"
assert p.get("AutoPublishAlias"), "no AutoPublishAlias: no qualified ARN"
EOF
  ); then pass "$name/template.yaml"; else fail "$name/template.yaml" "$(echo "$msg" | tail -2 | tr '\n' ' ')"; fi
  if command -v terraform >/dev/null; then
    if terraform fmt -check -no-color "$out/main.tf" >"$tmp/$name.tf.log" 2>&1; then pass "$name/main.tf-fmt"
    else fail "$name/main.tf-fmt" "$(grep -v 'CLI configuration\|terraformrc\|^[│╷╵]' "$tmp/$name.tf.log" | head -c 400)"
    fi
  fi
}

n=0
for src in examples/*.dwf tests/golden/*.dwf; do
  [ -f "$src" ] || continue
  case "$src" in *.test.dwf) continue ;; esac  # test files (dwf test), not workflows
  name=$(basename "$src" .dwf)
  args=()
  [ -f "${src%.dwf}.args" ] && read -r -a args <"${src%.dwf}.args"
  check_one "$name" "$src" "${args[@]}"
  n=$((n + 1))
done
[ $n -gt 0 ] || fail inputs "no .dwf files in examples/ or tests/golden/"

# Expected files of an input that is gone would never be checked again: say so (or drop them).
for d in tests/golden/expected/*/; do
  [ -d "$d" ] || continue
  name=$(basename "$d")
  [ -f "examples/$name.dwf" ] || [ -f "tests/golden/$name.dwf" ] && continue
  if [ $update -eq 1 ]; then rm -rf "$d" && echo "removed $d"
  else fail "$name/stale" "$d has no examples/$name.dwf or tests/golden/$name.dwf (make golden-update drops it)"
  fi
done

# Every IAM action dwf can emit is an operation of the official clients (botocore and the
# @aws-sdk/client-* packages), and the golden workflow policies hold only those.
[ $update -eq 1 ] || bash tests/golden/iam_actions.sh
exit 0
