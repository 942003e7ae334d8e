#!/usr/bin/env bash
# tests/deploy: what a Lambda deploy depends on, checked without an AWS account.
#
# sigv4: regenerate the signing vectors with the official signer (@smithy/signature-v4 and the
# real @aws-sdk/client-lambda, from tests/node/node_modules), make sure the committed copy the
# unit suite uses is current, and run the C signer against the fresh vectors
# (build/tests/test_rt_sigv4 prints one PASS/FAIL line per vector).
# bare_root.sh: a `dwf build` zip runs chrooted in an otherwise empty root against a local
# Runtime API + durable API peer (it prints SKIP when not root or without a static busybox).
# Prints "PASS name" / "FAIL name: why" lines for tests/run.sh.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
out="$BUILD/deploy"
mkdir -p "$out"
VG=()
[ -n "${DWF_VALGRIND:-}" ] && VG=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --suppressions=tests/valgrind.supp)

if ! command -v node >/dev/null 2>&1; then
  echo "FAIL sigv4_vectors_generated: node is not installed (make deps)"
elif [ ! -d tests/node/node_modules/@smithy/signature-v4 ]; then
  echo "FAIL sigv4_vectors_generated: tests/node/node_modules is missing (make deps)"
elif ! node tests/deploy/sigv4_vectors.mjs >"$out/sigv4_vectors.json" 2>"$out/sigv4_vectors.err"; then
  echo "FAIL sigv4_vectors_generated: node tests/deploy/sigv4_vectors.mjs failed: $(head -c 300 "$out/sigv4_vectors.err")"
else
  echo "PASS sigv4_vectors_generated"
  if cmp -s "$out/sigv4_vectors.json" tests/deploy/sigv4_vectors.json; then
    echo "PASS sigv4_vectors_committed_current"
  else
    echo "FAIL sigv4_vectors_committed_current: tests/deploy/sigv4_vectors.json differs from a fresh run; regenerate it with node tests/deploy/sigv4_vectors.mjs"
  fi
  if [ -x "$BUILD/tests/test_rt_sigv4" ]; then
    "${VG[@]}" "$BUILD/tests/test_rt_sigv4" "$out/sigv4_vectors.json" | sed 's/^\(PASS\|FAIL\) /\1 deploy_/'
    rc=${PIPESTATUS[0]}
    [ "$rc" -eq 0 ] || echo "FAIL deploy_test_rt_sigv4: exited $rc"
  else
    echo "FAIL deploy_test_rt_sigv4: $BUILD/tests/test_rt_sigv4 is not built (make unit)"
  fi
fi

bash tests/deploy/build_zip.sh
bash tests/deploy/bare_root.sh
bash tests/deploy/serve_examples.sh
bash tests/deploy/serve_unzip.sh
bash tests/deploy/serve_runtime_api.sh
bash tests/deploy/serve_awssdk.sh
bash tests/deploy/serve_sigv4.sh
bash tests/deploy/serve_exposure.sh
bash tests/deploy/serve_environment.sh
bash tests/deploy/serve_load.sh
bash tests/deploy/serve_scale.sh
bash tests/deploy/serve_jssdk.sh
bash tests/deploy/serve_plain.sh
bash tests/deploy/serve_vtime.sh
bash tests/deploy/serve_bare_root.sh
bash tests/deploy/serve_cli_deploy.sh
exit 0
