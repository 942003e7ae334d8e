#!/usr/bin/env bash
# tests/deploy/serve_unzip.sh: `dwf serve ZIP` unpacks a hostile zip without writing anything
# outside the function's directory (docs/security.md, "dwf serve").
#
# The zips are written with python3's zipfile, which can store symlink entries (a Unix mode in
# external_attr) and lets us patch the sizes in the headers:
#   - a symlink to a directory outside, then an entry written through it;
#   - a symlink to a file outside, alone and followed by an entry of the same name (which used
#     to truncate and overwrite the file the link pointed at), and the same with an inner link
#     and a name spelled differently (bin/./boot);
#   - a symlink to a directory inside, then an entry through it (refused: no write follows a
#     symlink, whatever its target);
#   - a relative symlink climbing out with ../, then an entry through it;
#   - a symlink inside a subdirectory that climbs out by one level too many;
#   - a zip bomb whose headers are honest (refused before anything is written), one whose
#     headers claim 1000 bytes for 300 MB of zeros (stopped while unpacking), and one with more
#     entries than dwf serve unpacks.
# Each must stop `dwf serve` with exit status 1 and a message naming the entry (or the limit),
# leave the files outside as they were, and leave no task root behind. Served without --name,
# a zip names its function by its comment ("dwf build: function NAME") or its bin/NAME, and
# one with neither is refused. A benign zip with
# setuid, setgid and world-writable modes and a symlink inside it is served with those bits
# stripped and the symlink kept.
#
# Prints "PASS name" / "FAIL name: why"; $DWF = the dwf binary to test.
set -u
cd "$(dirname "$0")/../.."
. tests/deploy/serve_lib.sh

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }

if ! command -v python3 >/dev/null; then fail serve_unzip "python3 is not installed"; exit 0; fi
T=$(mktemp -d "${TMPDIR:-/tmp}/dwf-serve-unzip.XXXXXX")
cleanup() { serve_stop >/dev/null 2>&1; [ -n "${KEEP:-}" ] || rm -rf "$T"; }
trap cleanup EXIT
# The task roots go under $T, so what is left behind is ours to count.
export TMPDIR=$T/tmp
mkdir -p "$TMPDIR" "$T/outside" "$T/zips"
echo original >"$T/outside/victim"

python3 - "$T" <<'EOF'
import os, stat, struct, sys, warnings, zipfile
warnings.simplefilter("ignore")  # the duplicate name is the point of one zip
T = sys.argv[1]
out = os.path.join(T, "outside")
BOOT = b"#!/bin/sh\nexec sleep 600\n"

def entry(z, name, data, mode, kind=stat.S_IFREG, method=zipfile.ZIP_DEFLATED):
    zi = zipfile.ZipInfo(name)
    zi.create_system = 3  # Unix: the mode is in the high 16 bits
    zi.external_attr = (kind | mode) << 16
    z.writestr(zi, data, compress_type=method)

def make(name, entries):
    with zipfile.ZipFile(os.path.join(T, "zips", name + ".zip"), "w") as z:
        entry(z, "bootstrap", BOOT, 0o755)
        for e in entries:
            entry(z, *e)

make("link_dir_abs", [("evil", out, 0o777, stat.S_IFLNK), ("evil/pwned", b"written through a symlink", 0o644)])
make("link_file_abs", [("bin/victim", os.path.join(out, "victim"), 0o777, stat.S_IFLNK)])
make("link_dup", [("bin/victim", os.path.join(out, "victim"), 0o777, stat.S_IFLNK),
                  ("bin/victim", b"overwritten through a symlink", 0o644)])
make("link_then_file", [("bin/boot", "../bootstrap", 0o777, stat.S_IFLNK), ("bin/./boot", b"replaced", 0o644)])
make("link_inner_dir", [("sub/", b"", 0o755, stat.S_IFDIR), ("d", "sub", 0o777, stat.S_IFLNK),
                        ("d/x", b"written through an inner symlink", 0o644)])
make("link_dir_rel", [("up", "../../../../../../../../../../.." + out, 0o777, stat.S_IFLNK),
                      ("up/pwned", b"written through a relative symlink", 0o644)])
make("link_sub_rel", [("a/b/", b"", 0o755, stat.S_IFDIR), ("a/b/out", "../../..", 0o777, stat.S_IFLNK)])
make("benign", [("bin/tool", b"#!/bin/sh\n", 0o6777), ("lib/libx.so.1", b"ELF-ish", 0o644),
                ("lib/libx.so", "libx.so.1", 0o777, stat.S_IFLNK), ("data/shared", b"{}", 0o666),
                ("setgid", b"", 0o2755)])

# The function's name from the zip: a `dwf build` zip's comment, else its bin/<name>, else none.
with zipfile.ZipFile(os.path.join(T, "zips", "named_comment.zip"), "w") as z:
    entry(z, "bootstrap", BOOT, 0o755)
    z.comment = b"dwf build: function t-from-comment"
make("named_bin", [("bin/t-from-bin", b"", 0o755)])
make("named_none", [])

# Honest bomb: the central directory admits 300 MB.
with zipfile.ZipFile(os.path.join(T, "zips", "bomb_honest.zip"), "w") as z:
    entry(z, "bootstrap", BOOT, 0o755)
    zi = zipfile.ZipInfo("zeros"); zi.create_system = 3; zi.external_attr = 0o100644 << 16
    zi.compress_type = zipfile.ZIP_DEFLATED
    with z.open(zi, "w") as f:
        for _ in range(300): f.write(bytes(1 << 20))
# Lying bomb: the same, with both headers patched to claim 1000 bytes.
b = bytearray(open(os.path.join(T, "zips", "bomb_honest.zip"), "rb").read())
for sig, off in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
    i = b.find(sig)
    while i >= 0:
        name_len = struct.unpack_from("<H", b, i + (26 if sig == b"PK\x03\x04" else 28))[0]
        hdr = 30 if sig == b"PK\x03\x04" else 46
        if b[i + hdr:i + hdr + name_len] == b"zeros":
            struct.pack_into("<I", b, i + off, 1000)
        i = b.find(sig, i + 4)
open(os.path.join(T, "zips", "bomb_lying.zip"), "wb").write(b)
# Too many entries.
with zipfile.ZipFile(os.path.join(T, "zips", "many.zip"), "w", zipfile.ZIP_STORED) as z:
    entry(z, "bootstrap", BOOT, 0o755)
    for i in range(100001):
        z.writestr("f/%d" % i, b"")
EOF
[ -s "$T/zips/many.zip" ] || { fail serve_unzip_zips "python3 could not write the test zips"; exit 0; }

# refused NAME WANT: `dwf serve` on zips/NAME.zip must exit 1 with WANT in its message.
refused() {
  local name=$1 want=$2
  if serve_start "$T/$name" --store "$T/store.db" "$T/zips/$name.zip" --name "t-${name//_/-}"; then
    fail "serve_unzip_$name" "dwf serve accepted the zip (task root $(sed -n 's/.*task root \([^,]*\),.*/\1/p' "$T/$name.out"))"
    serve_stop
    return
  fi
  local rc=0
  wait "$SERVE_PID" || rc=$?
  SERVE_PID=""
  if [ "$rc" -ne 1 ]; then fail "serve_unzip_$name" "exit status $rc, want 1: $(tail -c 300 "$T/$name.err")"
  elif ! grep -qF -- "$want" "$T/$name.err"; then fail "serve_unzip_$name" "want '$want' in: $(tail -c 300 "$T/$name.err")"
  else pass "serve_unzip_$name"; fi
}

refused link_dir_abs "symlink entry 'evil' points outside the function's directory"
refused link_file_abs "symlink entry 'bin/victim' points outside the function's directory"
refused link_dup "already exists"
refused link_then_file "entry 'bin/./boot': the zip has it twice, or it names a symlink of the zip"
refused link_inner_dir "entry 'd/x' goes through 'd', which is a symlink or a file of the zip"
refused link_dir_rel "symlink entry 'up' points outside the function's directory"
refused link_sub_rel "symlink entry 'a/b/out' points outside the function's directory"
refused bomb_honest "Unzipped size must be smaller than 262144000 bytes"
refused bomb_lying "Unzipped size must be smaller than 262144000 bytes"
refused many "the zip has 100002 entries; dwf serve unpacks at most 100000"

# Served without --name (and no template.yaml beside it), a zip gives the function its name.
for z in comment:t-from-comment bin:t-from-bin; do
  zname=named_${z%%:*} want=${z#*:}
  if serve_start "$T/$zname" --store "$T/store.db" "$T/zips/$zname.zip"; then
    grep -q "^dwf serve: function $want: task root" "$T/$zname.out" && pass "serve_unzip_$zname" ||
      fail "serve_unzip_$zname" "want function $want in: $(grep -m1 'function' "$T/$zname.out")"
    serve_stop
  else
    fail "serve_unzip_$zname" "dwf serve did not start: $(tail -c 300 "$T/$zname.err")"
  fi
done
if serve_start "$T/named_none" --store "$T/store.db" "$T/zips/named_none.zip"; then
  fail serve_unzip_named_none "dwf serve accepted a zip that names no function, without --name"
  serve_stop
else
  rc=0
  wait "$SERVE_PID" || rc=$?
  SERVE_PID=""
  [ "$rc" -eq 1 ] && grep -qF "no function name given, and the zip names none" "$T/named_none.err" &&
    pass serve_unzip_named_none || fail serve_unzip_named_none "exit $rc: $(tail -c 300 "$T/named_none.err")"
fi

left=$(ls -A "$T/outside")
[ "$left" = victim ] && [ "$(cat "$T/outside/victim")" = original ] && pass serve_unzip_nothing_escaped ||
  fail serve_unzip_nothing_escaped "outside now holds: $left; victim: $(head -c 100 "$T/outside/victim")"
left=$(find "$TMPDIR" -mindepth 1 -type f ! -name '*.lock' | head -5)
[ -z "$left" ] && pass serve_unzip_refused_roots_removed || fail serve_unzip_refused_roots_removed "left behind: $left"

# The benign zip is served, with the dangerous mode bits stripped and its symlink kept.
if serve_start "$T/benign" --store "$T/store.db" "$T/zips/benign.zip" --name t-benign; then
  root=$(sed -n 's/.*task root \([^,]*\),.*/\1/p' "$T/benign.out")
  modes=$(cd "$root" 2>/dev/null && stat -c '%n %a' bootstrap bin/tool data/shared setgid | tr '\n' ' ')
  [ "$modes" = "bootstrap 755 bin/tool 775 data/shared 664 setgid 755 " ] && pass serve_unzip_modes_stripped ||
    fail serve_unzip_modes_stripped "modes in $root: $modes"
  [ "$(readlink "$root/lib/libx.so")" = libx.so.1 ] && [ "$(cat "$root/lib/libx.so")" = ELF-ish ] &&
    pass serve_unzip_inner_symlink_kept || fail serve_unzip_inner_symlink_kept "lib/libx.so -> $(readlink "$root/lib/libx.so")"
  serve_stop
  [ ! -e "$root" ] && pass serve_unzip_root_removed_at_stop || fail serve_unzip_root_removed_at_stop "$root is still there"
else
  fail serve_unzip_benign "dwf serve did not start: $(tail -c 300 "$T/benign.err")"
fi
exit 0
