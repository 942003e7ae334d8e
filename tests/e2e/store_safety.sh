#!/usr/bin/env bash
# tests/e2e/store_safety.sh: the store never silently loses an execution. Each check is what a
# user sees: the exit status, the named error, and that the store (and every file beside it) is
# unchanged, or, after a full disk, that the execution carries on once there is space.
#
#   store_empty_path_usage      --store '' is a usage error (exit 2) for run and executions; nothing made
#   store_deleted_mid_run       the store removed while `dwf run` waits: StoreReplacedException, exit 1,
#                               never SUCCEEDED
#   store_replaced_mid_run      the store replaced by another file: the same; the replacing file is
#                               untouched, the old store's log left beside it is refused by name
#                               (not replayed over it), and once removed the replacement opens as it was
#   store_wal_deleted_mid_run   the store's -wal removed while `dwf run` waits: StoreReplacedException
#                               naming the log, exit 1, never SUCCEEDED; what was committed before is
#                               kept (SQLite checkpoints its open log at close): `dwf resume` finishes
#                               the execution and the first step ran once
#   store_wal_replaced_mid_run  the -wal replaced by another file (a copy of itself): the same error,
#                               and the replacing file is left as it was (SQLite does not remove it)
#   store_orphan_wal            a -wal without its store (deleted) is refused, nothing created
#   store_corrupt_operation_json  an operation row whose JSON is damaged: history, callback and
#                               resume fail with StoreCorruptException naming it; the file unchanged
#   store_corrupt_event_json    the same for a history event
#   store_event_count_overflow  event_count = INT64_MAX: a named corruption error, not an overflow
#   store_foreign_wal           another store's -wal beside the store: refused by name, both unchanged
#   store_newer_wal             a -wal of another WAL format version: refused by name, not "unable to open"
#   store_read_only_file        a store the user may not write (as root: run as nobody): StoreReadOnlyException
#   store_read_only_fs          a store on a read-only mount (root only): StoreReadOnlyException for
#                               executions, run and resume, nothing created
#   store_full_mid_run          the disk fills during a run (a 4 MB tmpfs, root only):
#                               StoreFullException, exit 1, never SUCCEEDED, no temporary file left;
#                               with more space `dwf resume` finishes it and no step ran twice
#   store_full_new_store        a new store on a full disk: StoreFullException, nothing left behind
# Mounts happen in a private mount namespace (unshare -m), so the machine is untouched; without
# root those checks print SKIP (tests/run.sh counts PASS and FAIL only).
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
DWF=${DWF:-$ROOT/build/dwf}
T=$(mktemp -d /tmp/dwf-store.XXXXXX)
chmod 755 "$T"
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$T"' EXIT
cd "$T"

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }
skip() { echo "SKIP $1: $2"; }
poll() { # poll CMD...: every 0.1 s until it succeeds (the bound only ends a wait a broken dwf never ends)
  local i
  for ((i = 0; i < 3000; i++)); do "$@" && return 0; sleep 0.1; done
  return 1
}
# sums DIR: every file under DIR with its checksum: what "nothing changed" compares.
sums() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0r sha256sum); }
# fails NAME WANT_RC WANT_TEXT -- CMD...: CMD exits WANT_RC and says WANT_TEXT on stderr.
fails() {
  local name=$1 want_rc=$2 want=$3 rc
  shift 4
  "$@" >"$T/out" 2>"$T/err"; rc=$?
  if [ "$rc" != "$want_rc" ]; then fail "$name" "exit $rc, want $want_rc ($(head -c 300 "$T/err"))"; return 1; fi
  if ! grep -qF -- "$want" "$T/err"; then fail "$name" "stderr lacks '$want': $(head -c 400 "$T/err")"; return 1; fi
  return 0
}

if [ ! -x "$DWF" ]; then fail store_safety "no $DWF (build first)"; exit 0; fi
ROOTUSER=; [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && ROOTUSER=1

cat >"$T/wait.dwf" <<'EOF'
workflow store_wait {
  lambda { name = "store-wait" }
  step a "first" { return 1 }
  wait 3s
  step b "second" { return 2 }
  return { a, b }
}
EOF
cat >"$T/approval.dwf" <<'EOF'
workflow store_cb {
  lambda { name = "store-cb" }
  step a "prepare" { return { doc: "d-1" } }
  callback cb "approval" timeout 1h
  let v = await cb
  return { a, v }
}
EOF
# 60 steps of about 110 KB each: a store of about 13 MB.
cat >"$T/big.dwf" <<'EOF'
workflow store_big {
  lambda { name = "store-big" }
  let n = 0
  for i in range(60) {
    step s "big" { return to_json(range(20000)) }
    n = n + len(s)
  }
  return { steps: 60, n }
}
EOF
# A few lines of C against libsqlite3 (installed for the build): tamper with a store (the sqlite3
# shell may be missing), and rewrite a WAL header field with a valid checksum.
cat >"$T/sqlx.c" <<'EOF'
#include <sqlite3.h>
#include <stdio.h>
int main(int argc, char **argv)
{
    sqlite3 *db;
    char *msg = NULL;
    if (argc != 3 || sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) return 2;
    if (sqlite3_exec(db, argv[2], NULL, NULL, &msg) != SQLITE_OK) { fprintf(stderr, "%s\n", msg); return 3; }
    return sqlite3_close(db) == SQLITE_OK ? 0 : 4;
}
EOF
cat >"$T/walhdr.c" <<'EOF'
/* walhdr WAL OFFSET VALUE: set a big-endian u32 of a WAL header and recompute its checksum
 * (SQLite's: pairs of 32-bit words, big-endian when the magic's low bit is set). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
static uint32_t be(const unsigned char *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static uint32_t le(const unsigned char *p) { return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0]; }
static void put(unsigned char *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v; }
int main(int argc, char **argv)
{
    unsigned char h[32];
    FILE *f = argc == 4 ? fopen(argv[1], "r+b") : NULL;
    if (!f || fread(h, 1, 32, f) != 32) return 2;
    put(h + atoi(argv[2]), (uint32_t)strtoul(argv[3], NULL, 0));
    int big = be(h) & 1;
    uint32_t s1 = 0, s2 = 0;
    for (int i = 0; i < 24; i += 8) {
        uint32_t x0 = big ? be(h + i) : le(h + i), x1 = big ? be(h + i + 4) : le(h + i + 4);
        s1 += x0 + s2;
        s2 += x1 + s1;
    }
    put(h + 24, s1);
    put(h + 28, s2);
    return fseek(f, 0, SEEK_SET) == 0 && fwrite(h, 1, 32, f) == 32 && fclose(f) == 0 ? 0 : 3;
}
EOF
if ! ${CC:-cc} -o "$T/sqlx" "$T/sqlx.c" -lsqlite3 2>"$T/cc.err" || ! ${CC:-cc} -o "$T/walhdr" "$T/walhdr.c" 2>>"$T/cc.err"; then
  fail store_safety "cannot build the helpers: $(head -c 300 "$T/cc.err")"; exit 0
fi

# ---- --store '' ----
mkdir "$T/empty" && cd "$T/empty"
if fails store_empty_path_usage 2 "--store needs a path" -- "$DWF" run "$T/wait.dwf" --store '' \
   && fails store_empty_path_usage 2 "--store needs a path" -- "$DWF" executions --store ''; then
  if [ -z "$(ls -A "$T/empty")" ]; then pass store_empty_path_usage
  else fail store_empty_path_usage "files were made: $(ls -A "$T/empty")"; fi
fi
cd "$T"

# ---- deleted or replaced while `dwf run` waits ----
# start_waiting DIR: `dwf run wait.dwf` on DIR/s.db in the background, returned once its WAIT started.
start_waiting() {
  local d=$1
  mkdir -p "$d"
  "$DWF" run "$T/wait.dwf" --quiet --store "$d/s.db" >"$d/run.out" 2>"$d/run.err" &
  RUNPID=$!
  waiting() {
    local arn
    arn=$(sed -n 's/^started //p' "$d/run.out")
    { [ -n "$arn" ] && grep -q "WAIT.*STARTED" "$d/run.out"; } || ! kill -0 $RUNPID 2>/dev/null
  }
  poll waiting
}
start_waiting "$T/del"
rm -f "$T/del/s.db" "$T/del/s.db-wal" "$T/del/s.db-shm"
wait $RUNPID; rc=$?
if [ $rc -eq 1 ] && grep -q "StoreReplacedException: the store .*s.db was deleted or moved" "$T/del/run.err" \
   && ! grep -q "^SUCCEEDED" "$T/del/run.out"; then pass store_deleted_mid_run
else fail store_deleted_mid_run "rc=$rc $(cat "$T/del/run.out" "$T/del/run.err" | tail -c 400)"; fi

# The replacement: a store of its own, with an execution, closed.
"$DWF" run "$T/wait.dwf" --skip-time --quiet --store "$T/other/s.db" >/dev/null 2>&1
start_waiting "$T/rep"
cp "$T/other/s.db" "$T/rep/s.db.new" && mv "$T/rep/s.db.new" "$T/rep/s.db"
sum_rep=$(sha256sum <"$T/rep/s.db")
wait $RUNPID; rc=$?
"$DWF" executions --store "$T/rep/s.db" >"$T/rep/ls.out" 2>"$T/rep/ls.err"; lrc=$?
sum_after=$(sha256sum <"$T/rep/s.db")
rm -f "$T/rep/s.db-wal" "$T/rep/s.db-shm"
"$DWF" executions --json --store "$T/rep/s.db" >"$T/rep/ls2.json" 2>&1; l2rc=$?
"$DWF" executions --json --store "$T/other/s.db" >"$T/other/ls.json" 2>&1
if [ $rc -eq 1 ] && grep -q "StoreReplacedException: the store .*s.db was replaced by another file" "$T/rep/run.err" \
   && ! grep -q "^SUCCEEDED" "$T/rep/run.out" && [ $lrc -eq 1 ] \
   && grep -q "StoreCorruptException: the write-ahead log .*s.db-wal belongs to another store" "$T/rep/ls.err" \
   && [ "$sum_rep" = "$sum_after" ] && [ $l2rc -eq 0 ] && cmp -s "$T/rep/ls2.json" "$T/other/ls.json"; then
  pass store_replaced_mid_run
else fail store_replaced_mid_run "rc=$rc ls rc=$lrc then $l2rc $(cat "$T/rep/run.err" "$T/rep/ls.err" | head -c 500)"; fi

# ---- the -wal deleted or replaced while `dwf run` waits ----
start_waiting "$T/wdel"
rm -f "$T/wdel/s.db-wal"
wait $RUNPID; rc=$?
"$DWF" resume --skip-time --quiet --store "$T/wdel/s.db" >"$T/wdel/res.out" 2>"$T/wdel/res.err"; rrc=$?
WARN=$(sed -n 's/^started //p' "$T/wdel/run.out")
"$DWF" history "$WARN" --json --store "$T/wdel/s.db" >"$T/wdel/h.json" 2>&1
firsts=$(tr -d ' \n' <"$T/wdel/h.json" | grep -o '"Name":"first"' | wc -l)
if [ $rc -eq 1 ] \
   && grep -q "StoreReplacedException: the store's write-ahead log .*s.db-wal was deleted" "$T/wdel/run.err" \
   && ! grep -q "^SUCCEEDED" "$T/wdel/run.out" && [ $rrc -eq 0 ] \
   && grep -q '"Status":[[:space:]]*"SUCCEEDED"' "$T/wdel/h.json" && [ "$firsts" -eq 1 ]; then
  pass store_wal_deleted_mid_run
else fail store_wal_deleted_mid_run \
  "rc=$rc resume rc=$rrc firsts=$firsts $(cat "$T/wdel/run.err" "$T/wdel/res.err" | head -c 500)"; fi

start_waiting "$T/wrep"
cp "$T/wrep/s.db-wal" "$T/wrep/wal.new" && mv "$T/wrep/wal.new" "$T/wrep/s.db-wal"
sum_wal=$(sha256sum <"$T/wrep/s.db-wal")
wait $RUNPID; rc=$?
if [ $rc -eq 1 ] \
   && grep -q "StoreReplacedException: the store's write-ahead log .*s.db-wal was replaced by another file" \
        "$T/wrep/run.err" \
   && ! grep -q "^SUCCEEDED" "$T/wrep/run.out" && [ -f "$T/wrep/s.db-wal" ] \
   && [ "$sum_wal" = "$(sha256sum <"$T/wrep/s.db-wal")" ]; then pass store_wal_replaced_mid_run
else fail store_wal_replaced_mid_run "rc=$rc $(cat "$T/wrep/run.out" "$T/wrep/run.err" | tail -c 400)"; fi

# ---- a -wal without its store ----
start_waiting "$T/orph"
cp "$T/orph/s.db-wal" "$T/orph/kept-wal"
kill -9 $RUNPID; wait $RUNPID 2>/dev/null
rm -f "$T/orph/s.db" "$T/orph/s.db-shm"
cp "$T/orph/kept-wal" "$T/orph/s.db-wal"
if fails store_orphan_wal 1 "is there without its store" -- "$DWF" executions --store "$T/orph/s.db"; then
  if [ ! -e "$T/orph/s.db" ] && cmp -s "$T/orph/kept-wal" "$T/orph/s.db-wal"; then pass store_orphan_wal
  else fail store_orphan_wal "a store was made or the log changed: $(ls "$T/orph")"; fi
fi

# ---- damaged rows ----
# A store waiting on a callback, closed (no -wal): copies of it are tampered with.
mkdir -p "$T/cb"
"$DWF" run "$T/approval.dwf" --skip-time --detach --json --store "$T/cb/s.db" >"$T/cb/run.json" 2>"$T/cb/run.err"
CARN=$(sed -n 's/.*"ExecutionArn":[[:space:]]*"\([^"]*\)".*/\1/p' "$T/cb/run.json")
CID=$(grep -o 'dwf callback succeed [^ ]*' "$T/cb/run.err" | head -1 | awk '{print $4}')
# tampered NAME SQL: a copy of the callback store in $T/NAME with SQL applied.
tampered() {
  mkdir -p "$T/$1" && cp "$T/cb/s.db" "$T/$1/s.db" && "$T/sqlx" "$T/$1/s.db" "$2"
}
# unchanged_after NAME WANT -- CMD...: CMD fails (1) with WANT, the store's files unchanged.
unchanged_after() {
  local name=$1 want=$2 before
  shift 3
  before=$(sums "$(dirname "${STORE}")")
  fails "$name" 1 "$want" -- "$@" || return 1
  if [ "$before" != "$(sums "$(dirname "${STORE}")")" ]; then fail "$name" "the store's files changed ($*)"; return 1; fi
  return 0
}
if [ -z "$CARN" ] || [ -z "$CID" ]; then fail store_corrupt_rows "setup: $(head -c 300 "$T/cb/run.err")"
else
  tampered opjson "UPDATE operations SET json='{\"Id\":' WHERE type='CALLBACK'"
  STORE=$T/opjson/s.db
  unchanged_after store_corrupt_operation_json "StoreCorruptException: the store $STORE is corrupt: operation " -- \
      "$DWF" history "$CARN" --store "$STORE" \
    && unchanged_after store_corrupt_operation_json "is not valid JSON" -- \
      "$DWF" callback succeed "$CID" --result '{"ok":true}' --store "$STORE" \
    && unchanged_after store_corrupt_operation_json "is not valid JSON" -- "$DWF" callbacks --store "$STORE" \
    && pass store_corrupt_operation_json

  tampered evjson "UPDATE operations SET json='not json' WHERE op_id IS NULL AND event_id=2"
  STORE=$T/evjson/s.db
  unchanged_after store_corrupt_event_json "StoreCorruptException: the store $STORE is corrupt: event 2 of execution" -- \
      "$DWF" history "$CARN" --events --store "$STORE" && pass store_corrupt_event_json

  tampered evcount "UPDATE executions SET event_count=9223372036854775807"
  STORE=$T/evcount/s.db
  unchanged_after store_event_count_overflow "has event_count = 9223372036854775807 (an integer in 0..9007199254740991" -- \
      "$DWF" callback succeed "$CID" --result '{"ok":true}' --store "$STORE" \
    && unchanged_after store_event_count_overflow "StoreCorruptException" -- "$DWF" stop "$CARN" --store "$STORE" \
    && unchanged_after store_event_count_overflow "StoreCorruptException" -- "$DWF" executions --store "$STORE" \
    && pass store_event_count_overflow
fi

# ---- a -wal that is not this store's ----
# Store A, closed; store B's log copied while B's run waits (so it holds B's schema and header).
"$DWF" run "$T/wait.dwf" --skip-time --quiet --store "$T/fa/s.db" >/dev/null 2>&1
start_waiting "$T/fb"
cp "$T/fb/s.db-wal" "$T/fb/copied-wal"
wait $RUNPID
cp "$T/fb/copied-wal" "$T/fa/s.db-wal"
STORE=$T/fa/s.db
unchanged_after store_foreign_wal "StoreCorruptException: the write-ahead log $STORE-wal belongs to another store" -- \
    "$DWF" executions --store "$STORE" \
  && unchanged_after store_foreign_wal "belongs to another store" -- "$DWF" run "$T/wait.dwf" --skip-time --store "$STORE" \
  && pass store_foreign_wal

mkdir -p "$T/nw"
"$DWF" run "$T/wait.dwf" --skip-time --quiet --store "$T/nw/s.db" >/dev/null 2>&1
start_waiting "$T/nw2"
kill -9 $RUNPID; wait $RUNPID 2>/dev/null
# The store's own log (from a killed run), as a newer SQLite would have written it.
cp "$T/nw2/s.db" "$T/nw/s.db" && cp "$T/nw2/s.db-wal" "$T/nw/s.db-wal" && "$T/walhdr" "$T/nw/s.db-wal" 4 3007001
STORE=$T/nw/s.db
unchanged_after store_newer_wal "StoreCorruptException: the store's write-ahead log $STORE-wal has format version 3007001" -- \
    "$DWF" executions --store "$STORE" && pass store_newer_wal

# ---- read-only ----
mkdir -p "$T/ro"
"$DWF" run "$T/wait.dwf" --skip-time --quiet --store "$T/ro/s.db" >/dev/null 2>&1
STORE=$T/ro/s.db
if [ -n "$ROOTUSER" ] && command -v setpriv >/dev/null; then
  AS=(setpriv --reuid=65534 --regid=65534 --clear-groups)
elif [ -n "$ROOTUSER" ]; then AS=()
else AS=(env); fi
if [ -n "$ROOTUSER" ] && [ ${#AS[@]} -eq 0 ]; then skip store_read_only_file "setpriv is not installed (util-linux)"
else
  chmod 644 "$STORE"; chmod 755 "$T/ro"
  [ -z "$ROOTUSER" ] && chmod 444 "$STORE"
  unchanged_after store_read_only_file "StoreReadOnlyException: the store $STORE cannot be written (Permission denied)" -- \
      "${AS[@]}" "$DWF" executions --store "$STORE" \
    && unchanged_after store_read_only_file "StoreReadOnlyException" -- "${AS[@]}" "$DWF" resume --store "$STORE" \
    && pass store_read_only_file
  chmod 644 "$STORE"
fi

if [ -z "$ROOTUSER" ]; then
  for t in store_read_only_fs store_full_mid_run store_full_new_store; do skip $t "needs root (a private mount)"; done
  exit 0
fi

# Everything on a mount runs in one private mount namespace; its script prints PASS/FAIL lines.
mkdir -p "$T/m"
cat >"$T/mounts.sh" <<'EOF'
set -u
T=$1 DWF=$2
M=$T/m
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }
sums() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0r sha256sum); }

# -- read-only file system: a store (with its compiled handler cached) on a mount remounted ro
mount -t tmpfs -o size=64m tmpfs "$M" || { fail store_read_only_fs "cannot mount a tmpfs"; exit 0; }
"$DWF" run "$T/approval.dwf" --skip-time --detach --quiet --store "$M/s.db" >/dev/null 2>&1
mount -o remount,ro "$M"
before=$(sums "$M")
ok=1
for cmd in "executions" "resume" "run $T/approval.dwf --skip-time"; do
  # shellcheck disable=SC2086
  "$DWF" $cmd --store "$M/s.db" >"$T/ro.out" 2>"$T/ro.err"; rc=$?
  if [ $rc -ne 1 ] || ! grep -q "StoreReadOnlyException: the store $M/s.db cannot be written (Read-only file system)" "$T/ro.err"; then
    fail store_read_only_fs "dwf $cmd: rc=$rc $(head -c 300 "$T/ro.err")"; ok=
  fi
done
[ "$before" = "$(sums "$M")" ] || { fail store_read_only_fs "files changed"; ok=; }
[ -n "$ok" ] && pass store_read_only_fs
umount "$M"

# -- the disk fills during a run
mount -t tmpfs -o size=4m tmpfs "$M"
"$DWF" run "$T/big.dwf" --skip-time --quiet --store "$M/s.db" >"$T/full.out" 2>"$T/full.err"; rc=$?
ARN=$(sed -n 's/^started //p' "$T/full.out")
left=$(cd "$M" && find . -type f ! -name s.db ! -name s.db-wal ! -name s.db-shm ! -path './cache/*/handler.c' \
        ! -path './cache/*/handler.so' ! -path './cache/*/handler.so.log' | head -5)
if [ $rc -eq 1 ] && grep -q "StoreFullException: the disk holding the store $M/s.db is full" "$T/full.err" \
   && ! grep -q "^SUCCEEDED" "$T/full.out" && [ -n "$ARN" ]; then
  mount -o remount,size=64m "$M"
  "$DWF" resume "$ARN" --skip-time --quiet --store "$M/s.db" >"$T/full2.out" 2>"$T/full2.err"; rrc=$?
  "$DWF" history "$ARN" --json --store "$M/s.db" >"$T/full.json" 2>/dev/null
  attempts=$(tr -d ' \n' <"$T/full.json" | grep -o '"Attempt":[0-9]*' | sort | uniq -c | tr -s ' ' | tr '\n' ' ')
  steps=$(tr -d ' \n' <"$T/full.json" | grep -o '"Type":"STEP"' | wc -l)
  if [ $rrc -eq 0 ] && grep -q '^SUCCEEDED' "$T/full2.out" && grep -q '"steps":60' "$T/full2.out" && [ "$steps" -eq 60 ] \
     && [ "$attempts" = " 60 \"Attempt\":1 " ] && [ -z "$left" ]; then pass store_full_mid_run
  else fail store_full_mid_run "resume rc=$rrc steps=$steps attempts='$attempts' left='$left' $(head -c 300 "$T/full2.out" "$T/full2.err")"; fi
else fail store_full_mid_run "rc=$rc $(tail -c 400 "$T/full.err")"; fi
umount "$M"

# -- a new store on a full disk
mount -t tmpfs -o size=1m tmpfs "$M"
dd if=/dev/zero of="$M/filler" bs=64k 2>/dev/null
"$DWF" executions --store "$M/new/dir/s.db" >"$T/nf.out" 2>"$T/nf.err"; rc=$?
if [ $rc -eq 1 ] && grep -q "StoreFullException" "$T/nf.err" && [ "$(ls -A "$M")" = filler ]; then pass store_full_new_store
else fail store_full_new_store "rc=$rc left: $(ls -A "$M" | tr '\n' ' ') $(head -c 300 "$T/nf.err")"; fi
umount "$M"
EOF
unshare -m bash "$T/mounts.sh" "$T" "$DWF"
exit 0
