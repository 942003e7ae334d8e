#!/usr/bin/env bash
# tests/deploy/build_zip.sh: `dwf build` zips, checked the way Lambda and a deployer use them.
#
# For every examples/*.dwf:
#   - the build succeeds and writes the zip plus the deploy files beside it;
#   - `unzip -Z` shows `bootstrap` at the root with mode 0755, the program under bin/, the loader
#     (executable) and libc under lib/; every DT_NEEDED of every bundled ELF is in lib/;
#   - the bootstrap is the build's static lambda_bootstrap byte for byte, and run on the unpacked
#     zip (with the loader swapped for a script that echoes its arguments) it execs the loader
#     with --library-path on the one program, passing its own arguments and SSL_CERT_FILE;
#   - lib/ holds glibc's files and cJSON only: libcurl, OpenSSL and zlib are linked statically;
#   - a second build is byte-identical;
#   - no bundled file but glibc's own needs a symbol version newer than GLIBC_2.34
#     (provided.al2023's glibc), read with `objdump -T` over the unpacked zip;
#   - deploy.sh, run with a stand-in `aws` on PATH that records its arguments, creates a
#     provided.al2023 function from the zip with the workflow's durable config, publishes a
#     version and invokes the qualified ARN; asynchronously (--invocation-type Event) for the
#     callback example approval.dwf, synchronously for order.dwf.
# Then: --region/--account and a zip not named function.zip reach the deploy files; a .dwf
# with an error and a `use`d C file that does not compile exit 1 and leave -o untouched;
# usage errors exit 2.
# Standalone: prints "PASS name" / "FAIL name: why" lines; $DWF = the dwf binary to test.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
DWF=${DWF:-$PWD/$BUILD/dwf}

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }

work=$(mktemp -d "${TMPDIR:-/tmp}/dwf-build-zip.XXXXXX")
peer_pid=""
trap '[ -n "$peer_pid" ] && kill "$peer_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT

examples=()
for f in examples/*.dwf; do [[ $f == *.test.dwf ]] || examples+=("$f"); done  # not the test files
if ! [ -e "${examples[0]}" ]; then fail build_zip_examples "no examples/*.dwf"; exit 0; fi
for t in unzip objdump readelf python3 strace; do
  command -v $t >/dev/null || { fail build_zip_tools "$t is not installed (make deps)"; exit 0; }
done
# A sanitizer build of dwf links a dynamically linked program (check_dynamic_zip below).
sanitized=""
readelf -d "$DWF" 2>/dev/null | grep -q 'NEEDED.*libasan' && sanitized=1

# The Runtime API peer the programs are run against: it appends "METHOD PATH" of every request
# to the file named in $work/peer.target, and answers 503.
cat >"$work/peer.py" <<'EOF'
import os, sys
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
class Peer(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def answer(self):
        with open(open(sys.argv[1] + "/peer.target").read().strip(), "a") as f:
            f.write("%s %s\n" % (self.command, self.path))
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.end_headers()
    do_GET = do_POST = answer
srv = ThreadingHTTPServer(("127.0.0.1", 0), Peer)
open(sys.argv[1] + "/peer.port.tmp", "w").write(str(srv.server_address[1]))
os.rename(sys.argv[1] + "/peer.port.tmp", sys.argv[1] + "/peer.port")
srv.serve_forever()
EOF
python3 "$work/peer.py" "$work" 2>"$work/peer.err" &
peer_pid=$!
for _ in $(seq 100); do [ -s "$work/peer.port" ] && break; sleep 0.1; done
peer_port=$(cat "$work/peer.port" 2>/dev/null)
if [ -z "$peer_port" ]; then fail build_zip_peer "the python peer did not start: $(cat "$work/peer.err")"; exit 0; fi

# glibc's own objects define (not need) the newer versions; everything else must stay <= 2.34.
glibc_own='^(ld-linux.*|libc\.so\..*|libm\.so\..*|libmvec\.so\..*|libpthread\.so\..*|libdl\.so\..*|librt\.so\..*|libresolv\.so\..*|libanl\.so\..*|libutil\.so\..*|libnsl\.so\..*|libnss_.*|libBrokenLocale\.so\..*|libc_malloc_debug\.so\..*|libthread_db\.so\..*)$'

# The stand-in `aws` (tests/deploy/standin_aws: records each call's arguments in $FAKE_AWS_LOG
# and answers as the CLI v2 would). `sleep` is stubbed too, so waits for IAM propagation do not
# slow the test.
mkdir -p "$work/fakebin"
cp tests/deploy/standin_aws "$work/fakebin/aws"
printf '#!/bin/sh\nexit 0\n' >"$work/fakebin/sleep"
chmod 755 "$work/fakebin/aws" "$work/fakebin/sleep"

# objdump results per distinct file (by checksum): the examples share their libraries.
declare -A needed_of newer_of

# The layout of a sanitizer build's zip (ASan cannot be linked into a static program): the
# prebuilt bootstrap execs the bundled loader on bin/<name>, with glibc, cJSON and the sanitizer
# runtimes under lib/.
check_dynamic_zip() { # NAME ZIP UNPACKED
  local name=$1 zip=$2 unz=$3
  # --- layout -----------------------------------------------------------------------------
  listing=$(unzip -Z "$zip")
  why=""
  echo "$listing" | grep -Eq '^-rwxr-xr-x .* bootstrap$' || why="bootstrap is not at the root with mode 0755"
  [ -z "$why" ] && { echo "$listing" | grep -Eq '^-rwx.* lib/ld-linux[^/]*\.so\.[0-9]+$' || why="no executable loader under lib/"; }
  [ -z "$why" ] && { echo "$listing" | grep -Eq ' lib/libc\.so\.6$' || why="no lib/libc.so.6"; }
  [ -z "$why" ] && { echo "$listing" | grep -Eq '^-rwx.* bin/[^/]+$' || why="no executable program under bin/"; }
  if [ -n "$why" ]; then fail "build_zip_${name}_layout" "$why: $(echo "$listing" | head -8 | tr '\n' ' ')"; else pass "build_zip_${name}_layout"; fi

  # The bootstrap: the static program of this build, run on a copy of the zip whose loader is
  # a script. From another directory, with no LAMBDA_TASK_ROOT and no SSL_CERT_FILE: it finds
  # its own directory and the host's CA roots (Debian's, on this machine).
  progs=$(ls "$unz/bin")
  loader=$(cd "$unz/lib" && ls ld-*.so.* 2>/dev/null | head -1)
  probe="$out/probe"
  cp -r "$unz" "$probe"
  printf '#!/bin/sh\necho "$SSL_CERT_FILE $*"\n' >"$probe/lib/$loader"
  chmod 755 "$probe/lib/$loader"
  got=$(cd / && env -u LAMBDA_TASK_ROOT -u SSL_CERT_FILE "$probe/bootstrap" a 'b c' 2>&1)
  host_ca=/etc/ssl/certs/ca-certificates.crt
  [ -r /etc/pki/tls/certs/ca-bundle.crt ] && host_ca=/etc/pki/tls/certs/ca-bundle.crt
  want="$host_ca --library-path $probe/lib $probe/bin/$progs a b c"
  # An SSL_CERT_FILE already set is left alone, and LAMBDA_TASK_ROOT wins over the path run.
  got2=$(cd / && LAMBDA_TASK_ROOT="$probe" SSL_CERT_FILE=/x.pem "$unz/bootstrap" 2>&1)
  want2="/x.pem --library-path $probe/lib $probe/bin/$progs"
  rm -rf "$probe"
  if [ "$(echo "$progs" | wc -w)" != 1 ] || [ -z "$loader" ] || ! [ -x "$unz/lib/$loader" ]; then
    fail "build_zip_${name}_bootstrap" "want one program in bin/ and a loader in lib/, have bin: $progs, loader: $loader"
  elif ! cmp -s "$unz/bootstrap" "$(dirname "$DWF")/lambda_bootstrap"; then
    fail "build_zip_${name}_bootstrap" "bootstrap is not $(dirname "$DWF")/lambda_bootstrap"
  elif readelf -l "$unz/bootstrap" | grep -q 'program interpreter'; then
    fail "build_zip_${name}_bootstrap" "bootstrap is not static"
  elif [ "$got" != "$want" ]; then
    fail "build_zip_${name}_bootstrap" "bootstrap ran the loader with '$got', want '$want'"
  elif [ "$got2" != "$want2" ]; then
    fail "build_zip_${name}_bootstrap" "with LAMBDA_TASK_ROOT and SSL_CERT_FILE set: '$got2', want '$want2'"
  else
    pass "build_zip_${name}_bootstrap"
  fi
  # Only glibc and cJSON are shared; anything else means a library was linked dynamically.
  others=$(cd "$unz/lib" && ls | grep -Ev "$glibc_own" | grep -v -x -e 'libcjson\.so\.1' \
           -e 'libasan\.so\..*' -e 'libubsan\.so\..*' -e 'libstdc++\.so\..*' -e 'libgcc_s\.so\..*' | tr '\n' ' ')
  if [ -n "$others" ]; then fail "build_zip_${name}_libraries" "unexpected shared libraries in lib/: $others"
  else pass "build_zip_${name}_libraries"; fi
  # One objdump per file: -p for DT_NEEDED, -T for the versioned dynamic symbols.
  # A sanitizer build of dwf (make SANITIZE=...) makes sanitized zips, for tests only: the
  # sanitizer runtimes and the C++ runtime they pull in (GLIBC_2.35/2.36 on Debian 12) are
  # exempt from the glibc check there, as glibc's own files are everywhere.
  exempt=$glibc_own
  ls "$unz"/lib/libasan.so.* >/dev/null 2>&1 &&
    exempt="$glibc_own|^(libasan|libubsan|liblsan|libtsan|libstdc\+\+|libgcc_s)\.so\..*\$"
  missing="" newer=""
  for f in "$unz"/bin/* "$unz"/lib/*; do
    b=$(basename "$f")
    sum=$(md5sum <"$f")
    if [ -z "${needed_of[$sum]+set}" ]; then
      dump=$(objdump -p -T "$f" 2>/dev/null)
      needed_of[$sum]=$(echo "$dump" | awk '$1 == "NEEDED" {print $2}' | tr '\n' ' ')
      newer_of[$sum]=$(echo "$dump" | sed -n '/^DYNAMIC SYMBOL TABLE/,$p' | grep -o 'GLIBC_2\.[0-9]\+' |
                       sort -u -t. -k2,2n | awk -F. '$2 > 34' | tr '\n' ' ')
    fi
    for n in ${needed_of[$sum]}; do
      [ -e "$unz/lib/$n" ] || missing="$missing $b->$n"
    done
    # --- glibc 2.34 ---------------------------------------------------------------------------
    [[ $b =~ $exempt ]] && continue
    [ -n "${newer_of[$sum]}" ] && newer="$newer $b: ${newer_of[$sum]};"
  done
  if [ -n "$missing" ]; then fail "build_zip_${name}_self_contained" "not bundled:$missing"; else pass "build_zip_${name}_self_contained"; fi

  nobj=$(ls "$unz"/bin "$unz"/lib | wc -l)
  if [ -n "$newer" ]; then fail "build_zip_${name}_glibc_2_34" "needs more than GLIBC_2.34:$newer"
  elif [ "$nobj" -lt 3 ]; then fail "build_zip_${name}_glibc_2_34" "only $nobj files checked"
  else pass "build_zip_${name}_glibc_2_34"; fi
}

# The zip of a normal build: exactly `bootstrap`, the program itself linked statically (no
# loader, no shared library), and the CA roots under etc/; its comment names the function
# (dwf serve takes the name from it). The program, run from the unpacked zip under strace
# against a Runtime API peer named `localhost` (resolved by the static glibc from /etc/hosts),
# asks it for an invocation, with one execve and no shared object opened: no loader, no NSS
# module, no dlopen. As root, a second run sees an nsswitch.conf (bind-mounted in a private
# mount namespace) listing NSS modules this machine has (systemd) before files and dns: the
# program must still open none (lambda.c fixes hosts to "files dns").
check_static_zip() { # NAME ZIP UNPACKED FUNCTION
  local name=$1 zip=$2 unz=$3 fname=$4 why=""
  local listing entries
  listing=$(unzip -Z "$zip")
  entries=$(unzip -Z1 "$zip" | LC_ALL=C sort | tr '\n' ' ')
  if [ "$entries" != "bootstrap etc/ etc/ca-bundle.crt " ]; then
    why="entries are '$entries', want 'bootstrap etc/ etc/ca-bundle.crt '"
  elif ! echo "$listing" | grep -Eq '^-rwxr-xr-x .* bootstrap$'; then
    why="bootstrap is not at the root with mode 0755"
  elif ! grep -q 'BEGIN CERTIFICATE' "$unz/etc/ca-bundle.crt"; then
    why="etc/ca-bundle.crt holds no PEM certificate"
  elif [ "$(unzip -z "$zip" | tail -n 1)" != "dwf build: function $fname" ]; then
    why="the zip's comment is '$(unzip -z "$zip" | tail -n 1)', want 'dwf build: function $fname'"
  fi
  if [ -n "$why" ]; then fail "build_zip_${name}_layout" "$why"; else pass "build_zip_${name}_layout"; fi

  local hdr
  hdr=$(readelf -hlW "$unz/bootstrap" 2>&1)
  if ! echo "$hdr" | grep -Eq '^ *Type: *EXEC '; then
    fail "build_zip_${name}_static" "bootstrap is not a position-dependent executable: $(echo "$hdr" | grep -m1 'Type:')"
  elif echo "$hdr" | grep -Eq '^ *(INTERP|DYNAMIC) '; then
    fail "build_zip_${name}_static" "bootstrap has a program interpreter or a dynamic section: $(echo "$hdr" | grep -E '^ *(INTERP|DYNAMIC) ' | tr '\n' ' ')"
  else
    pass "build_zip_${name}_static"
  fi

  local runs=(plain) r
  [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && [ -e /lib/x86_64-linux-gnu/libnss_systemd.so.2 -o -e /lib/aarch64-linux-gnu/libnss_systemd.so.2 ] && runs+=(nsswitch)
  for r in "${runs[@]}"; do
    local log="$work/$name.$r.peer" trace="$work/$name.$r.strace" cmd
    : >"$log"
    cmd=(strace -f -qq -e trace=execve,open,openat -o "$trace" env -i PATH=/usr/bin:/bin
         "AWS_LAMBDA_RUNTIME_API=localhost:$peer_port" AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=AKIDZIP
         AWS_SECRET_ACCESS_KEY=zip-secret AWS_LAMBDA_FUNCTION_NAME="$fname" "$unz/bootstrap")
    echo "$log" >"$work/peer.target"
    if [ "$r" = nsswitch ]; then
      printf 'hosts: systemd myhostname mymachines resolve files dns\n' >"$work/nsswitch.conf"
      unshare -m sh -c 'mount --bind "$0" /etc/nsswitch.conf && exec "$@"' "$work/nsswitch.conf" "${cmd[@]}" \
        >"$work/$name.$r.out" 2>&1 &
    else
      "${cmd[@]}" >"$work/$name.$r.out" 2>&1 &
    fi
    local pid=$! i
    for i in $(seq 100); do grep -q 'GET /2018-06-01/runtime/invocation/next' "$log" && break; sleep 0.1; done
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    local so execs
    # What the program did: the trace from env's execve of it on.
    so=$(awk -v b="\"$unz/bootstrap\"" 'index($0, "execve(" b) { on = 1 } on' "$trace" |
         grep -E 'open(at)?\(.*\.so[."]' | head -3 | tr '\n' ' ')
    execs=$(grep -c 'execve(' "$trace")
    if ! grep -q 'GET /2018-06-01/runtime/invocation/next' "$log"; then
      fail "build_zip_${name}_run_$r" "no GET .../invocation/next reached the peer at localhost:$peer_port: $(tail -c 300 "$work/$name.$r.out" | tr '\n' ' ')"
    elif [ -n "$so" ]; then
      fail "build_zip_${name}_run_$r" "the program opened shared objects: $so"
    elif [ "$execs" != 2 ]; then  # env, then the program
      fail "build_zip_${name}_run_$r" "$execs execve calls, want 2 (env, the program): $(grep 'execve(' "$trace" | tr '\n' ' ')"
    else
      pass "build_zip_${name}_run_$r"
    fi
  done
}

for ex in "${examples[@]}"; do
  name=$(basename "$ex" .dwf)
  out="$work/$name"
  zip="$out/function.zip"
  if ! "$DWF" build "$ex" -o "$zip" >"$work/$name.log" 2>&1; then
    fail "build_zip_$name" "dwf build $ex failed: $(tail -c 600 "$work/$name.log" | tr '\n' ' ')"
    continue
  fi
  if ! [ -s "$zip" ]; then fail "build_zip_$name" "no zip at $zip"; continue; fi
  pass "build_zip_$name"

  unz="$out/unpacked"
  mkdir -p "$unz" && unzip -q "$zip" -d "$unz"
  fname=$(sed -n 's/^ *FunctionName: "\(.*\)"$/\1/p' "$out/template.yaml")
  if [ -n "$sanitized" ]; then check_dynamic_zip "$name" "$zip" "$unz"; else check_static_zip "$name" "$zip" "$unz" "$fname"; fi
  # --- reproducible -------------------------------------------------------------------------
  if ! "$DWF" build "$ex" -o "$out/again/function.zip" >"$work/$name.log2" 2>&1; then
    fail "build_zip_${name}_reproducible" "second build failed: $(tail -c 300 "$work/$name.log2")"
  elif ! cmp -s "$zip" "$out/again/function.zip"; then
    fail "build_zip_${name}_reproducible" "two builds differ: $(cmp "$zip" "$out/again/function.zip" | head -1)"
  else
    pass "build_zip_${name}_reproducible"
  fi

  # --- deploy files and deploy.sh -------------------------------------------------------------
  why=""
  for f in durable-config.json deploy.sh template.yaml main.tf iam; do
    [ -e "$out/$f" ] || why="$why $f"
  done
  if [ -n "$why" ]; then fail "build_zip_${name}_deploy_files" "missing beside the zip:$why"; continue; fi
  grep -q 'function\.zip' "$out/template.yaml" && grep -q 'function\.zip' "$out/main.tf" &&
    grep -q 'function\.zip' "$out/deploy.sh" && pass "build_zip_${name}_deploy_files" ||
    fail "build_zip_${name}_deploy_files" "template.yaml, main.tf or deploy.sh does not reference function.zip"

  log="$work/$name.aws.log"
  : >"$log"
  if ! (cd "$out" && PATH="$work/fakebin:$PATH" FAKE_AWS_LOG="$log" timeout 60 bash ./deploy.sh) \
       >"$work/$name.deploy.out" 2>&1; then
    fail "build_zip_${name}_deploy_sh" "deploy.sh failed with the stand-in aws: $(tail -c 500 "$work/$name.deploy.out" | tr '\n' ' ')"
    continue
  fi
  want_event=""
  [ "$name" = approval ] && want_event=yes
  [ "$name" = order ] && want_event=no
  verdict=$(python3 - "$log" "$out/durable-config.json" "$ex" "$want_event" "$out" 2>&1 <<'EOF'
import json, os, re, sys
calls = [c.split("\037")[:-1] for c in open(sys.argv[1], newline="").read().split("\036")[:-1]]
cfg_file = json.load(open(sys.argv[2]))
want_event, out = sys.argv[4], sys.argv[5]
# The durable config the .dwf asks for, read from its text (an oracle independent of the
# compiler): durable { retention = 1d  timeout = 120s }, defaults 14 days / 86400 s.
m = re.search(r"durable\s*\{([^}]*)\}", open(sys.argv[3]).read())
unit = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
kv = dict(re.findall(r"(\w+)\s*=\s*([0-9.]+(?:ms|s|m|h|d))\b", m.group(1))) if m else {}
def secs(v):
    n = re.fullmatch(r"([0-9.]+)(ms|s|m|h|d)", v)
    return float(n.group(1)) * unit[n.group(2)]
want_cfg = {"ExecutionTimeout": int(secs(kv["timeout"])) if "timeout" in kv else 86400,
            "RetentionPeriodInDays": int(secs(kv["retention"]) // 86400) if "retention" in kv else 14}
def opt(c, name):
    for i, a in enumerate(c):
        if a == name and i + 1 < len(c): return c[i + 1]
        if a.startswith(name + "="): return a[len(name) + 1:]
    return None
def find(op):
    return [i for i, c in enumerate(calls) if "lambda" in c and op in c]
create, publish, invoke = find("create-function"), find("publish-version"), find("invoke")
if not create: sys.exit("no `aws lambda create-function` call")
c = calls[create[0]]
if opt(c, "--runtime") != "provided.al2023": sys.exit("create-function --runtime is %r" % opt(c, "--runtime"))
zf = opt(c, "--zip-file") or ""
if not zf.startswith("fileb://") or not zf.endswith("function.zip") or \
   not os.path.isfile(os.path.join(out, zf[len("fileb://"):])):
    sys.exit("create-function --zip-file %r does not name the built zip" % zf)
dc = opt(c, "--durable-config")
try: dc = json.loads(dc)
except Exception: sys.exit("--durable-config %r is not JSON" % dc)
if dc != cfg_file: sys.exit("--durable-config %r differs from durable-config.json %r" % (dc, cfg_file))
if dc != want_cfg: sys.exit("--durable-config %r, the .dwf asks for %r" % (dc, want_cfg))
if not publish or publish[0] < create[0]: sys.exit("no publish-version after create-function")
if not invoke or invoke[-1] < publish[0]: sys.exit("no invoke after publish-version")
inv = calls[invoke[-1]]
fn = opt(inv, "--function-name") or ""
q = opt(inv, "--qualifier")
if not (fn.endswith(":1") or q == "1"):
    sys.exit("invoke --function-name %r is not qualified with the published version 1" % fn)
if opt(inv, "--payload") is not None and opt(inv, "--cli-binary-format") != "raw-in-base64-out":
    sys.exit("invoke passes --payload without --cli-binary-format raw-in-base64-out")
it = opt(inv, "--invocation-type")
if want_event == "yes" and it != "Event": sys.exit("callback workflow invoked with --invocation-type %r, want Event" % it)
if want_event == "no" and it == "Event": sys.exit("synchronous workflow invoked with --invocation-type Event")
print("ok")
EOF
)
  if [ "$verdict" = ok ]; then pass "build_zip_${name}_deploy_sh"; else fail "build_zip_${name}_deploy_sh" "$verdict"; fi
done

# --- options and failures ------------------------------------------------------------------
# --region/--account reach the deploy files, and a zip named otherwise is what they reference.
# Under `make VALGRIND=1 check` this build runs under valgrind (dwf itself; cc is not traced).
named="$work/named"
VG=()
[ -n "${DWF_VALGRIND:-}" ] && VG=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --suppressions=tests/valgrind.supp)
"${VG[@]}" "$DWF" build examples/order.dwf -o "$named/fn.zip" --region eu-west-1 --account 111122223333 \
     >"$work/named.log" 2>&1
rc=$?
if [ $rc -ne 0 ]; then
  fail build_zip_region_account "dwf build --region --account exited $rc: $(tail -c 300 "$work/named.log")"
elif ! grep -q 'arn:aws:lambda:eu-west-1:111122223333:function:' "$named/iam/durable-policy.json"; then
  fail build_zip_region_account "iam/durable-policy.json does not hold the eu-west-1 / 111122223333 ARN"
elif ! grep -q 'fn\.zip' "$named/deploy.sh" || grep -q 'function\.zip' "$named/deploy.sh" ||
     ! grep -q 'fn\.zip' "$named/template.yaml" || ! grep -q 'fn\.zip' "$named/main.tf"; then
  fail build_zip_region_account "deploy.sh, template.yaml or main.tf does not reference fn.zip"
else
  pass build_zip_region_account
fi

# A .dwf with an error: exit 1, the diagnostic on stderr, no zip.
mkdir -p "$work/bad"
printf 'workflow bad {\n  return { x: nosuch }\n}\n' >"$work/bad/bad.dwf"
"$DWF" build "$work/bad/bad.dwf" -o "$work/bad/out/function.zip" >"$work/bad/out.log" 2>&1
rc=$?
if [ $rc -ne 1 ] || [ -e "$work/bad/out/function.zip" ] || ! grep -q 'bad.dwf:2:' "$work/bad/out.log"; then
  fail build_zip_bad_dwf "exit $rc (want 1), zip present: $([ -e "$work/bad/out/function.zip" ] && echo yes || echo no), output: $(head -c 300 "$work/bad/out.log")"
else
  pass build_zip_bad_dwf
fi

# A `use`d C file that does not compile: exit 1, and a zip already at -o is left as it was.
mkdir -p "$work/badc/out"
printf 'use "broken.c"\nworkflow badc {\n  step s { return call broken() }\n  return s\n}\n' >"$work/badc/badc.dwf"
printf 'this is not C;\n' >"$work/badc/broken.c"
echo "previous zip" >"$work/badc/out/function.zip"
"$DWF" build "$work/badc/badc.dwf" -o "$work/badc/out/function.zip" >"$work/badc/out.log" 2>&1
rc=$?
if [ $rc -ne 1 ] || [ "$(cat "$work/badc/out/function.zip")" != "previous zip" ] || [ -e "$work/badc/out/function.zip.part" ]; then
  fail build_zip_bad_c "exit $rc (want 1) or the previous zip was touched: $(tail -c 300 "$work/badc/out.log")"
elif ! grep -q 'broken.c' "$work/badc/out.log"; then
  fail build_zip_bad_c "the compiler's error does not name broken.c: $(tail -c 300 "$work/badc/out.log")"
else
  pass build_zip_bad_c
fi

# Usage errors: exit 2.
"$DWF" build >/dev/null 2>&1; r1=$?
"$DWF" build examples/order.dwf -o >/dev/null 2>&1; r2=$?
"$DWF" build examples/order.dwf --frobnicate >/dev/null 2>&1; r3=$?
if [ "$r1 $r2 $r3" = "2 2 2" ]; then pass build_zip_usage; else fail build_zip_usage "exit codes $r1 $r2 $r3, want 2 2 2"; fi
exit 0
