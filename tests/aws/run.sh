#!/usr/bin/env bash
# aws suite: `aws <service>.<Action> {..}` calls (docs/aws.md) against third-party AWS
# implementations and the official clients, all from tests/aws/node (make deps):
#   - orders.dwf against dynalite (DynamoDB) and s3rver (S3) on 127.0.0.1: items written,
#     updated under a condition, a failed condition caught, a query; objects put, read,
#     inspected, deleted; then read back with @aws-sdk/client-dynamodb and client-s3;
#   - for every row of include/dwf_aws.def, the request dwf sends against the one the official
#     @aws-sdk/client-* sends for the same parameters (node/compare.mjs);
#   - retries: throttling and 5xx retried under the step's policy, a failed condition not
#     (retry.dwf against node/flaky.mjs);
#   - credentials and region from the environment or the shared files (AWS_PROFILE,
#     AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE), and the errors when there are none.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
DWF=${DWF:-$ROOT/build/dwf}
NODE_DIR=tests/aws/node
if [ ! -d $NODE_DIR/node_modules/dynalite ] || [ ! -d $NODE_DIR/node_modules/@aws-sdk/client-s3 ]; then
  echo "FAIL aws_setup: $NODE_DIR/node_modules lacks dynalite or the AWS clients (make deps)"
  exit 0
fi
W=$(mktemp -d "${TMPDIR:-/tmp}/dwf-aws.XXXXXX")
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT
# The AWS SDK for JavaScript warns about node versions on stderr; keep logs readable.
export AWS_SDK_JS_SUPPRESS_NODE_VERSION_WARNING=1 NODE_NO_WARNINGS=1
# Nothing from the caller's AWS setup may leak in.
for v in $(env | sed -n 's/^\(AWS_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }
json_get() { node -e 'const v=JSON.parse(require("fs").readFileSync(0,"utf8"));console.log(eval("v"+process.argv[1]))' "$1"; }

# Start a node server whose stdin is a FIFO we hold open: it stops when we close it (or die).
start_server() { # NAME SCRIPT ARGS... ; sets PORTS to its first output line
  local name=$1; shift
  mkfifo "$W/$name.in"
  node "$@" <"$W/$name.in" >"$W/$name.out" 2>"$W/$name.err" &
  PIDS+=($!)
  exec {fd}>"$W/$name.in"
  for _ in $(seq 1 300); do
    [ -s "$W/$name.out" ] && break
    kill -0 "${PIDS[-1]}" 2>/dev/null || break
    sleep 0.1
  done
  PORTS=$(head -1 "$W/$name.out")
}

# ---- dynalite + s3rver: a workflow writes, the official clients read back ----------------------
mkdir -p "$W/s3"
start_server local $NODE_DIR/servers.mjs "$W/s3" receipts
if [ -z "$PORTS" ]; then
  fail aws_servers "dynalite/s3rver did not start: $(tail -5 "$W/local.err")"
  exit 0
fi
DDB_PORT=$(echo "$PORTS" | json_get .dynamodb)
S3_PORT=$(echo "$PORTS" | json_get .s3)
export AWS_REGION=us-east-1
export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$DDB_PORT AWS_ENDPOINT_URL_S3=http://127.0.0.1:$S3_PORT
# s3rver accepts its own key pair and checks the signature with it; dynalite takes any.
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
if ! node $NODE_DIR/setup.mjs >"$W/setup.out" 2>&1; then
  fail aws_setup_table "$(tail -5 "$W/setup.out")"
  exit 0
fi
if "$DWF" run tests/aws/orders.dwf --input '{"customer":"c-1"}' --store "$W/orders.db" --quiet \
     >"$W/orders.out" 2>"$W/orders.err"; then
  pass aws_orders_run
  R=$(sed -n '/^{/,$p' "$W/orders.out")
  check() { # NAME JS-EXPRESSION-OVER-v
    if echo "$R" | node -e 'const v=JSON.parse(require("fs").readFileSync(0,"utf8"));process.exit(eval(process.argv[1])?0:1)' "$2"; then
      pass "$1"
    else
      fail "$1" "$2 does not hold for $(echo "$R" | tr -d '\n' | cut -c1-600)"
    fi
  }
  check aws_orders_conditional_update 'v.paid === "paid"'
  check aws_orders_condition_failed 'v.again.type === "ConditionalCheckFailedException" && v.again.data.StatusCode === 400 && v.again.data.Retryable === false && v.again.message.startsWith("dynamodb.UpdateItem: ")'
  check aws_orders_query 'v.listed.count === 2 && JSON.stringify(v.listed.ids) === "[\"o1\",\"o2\"]"'
  check aws_orders_get_object 'v.got.body.order === "o1" && v.got.body.total === 12.5 && v.got.type === "application/json" && v.got.size > 10'
  check aws_orders_head_object 'v.head.size === 7 && v.head.type === "text/plain"'
  check aws_orders_missing_object 'v.missing === "NoSuchKey"'
  node $NODE_DIR/readback.mjs c-1 2>&1 | grep -E '^(PASS|FAIL) '
else
  fail aws_orders_run "exit $?: $(tail -c 800 "$W/orders.err") $(tail -c 400 "$W/orders.out")"
fi

# ---- credentials and region: the shared files, a wrong key, none at all --------------------------
printf 'receipt text' >"$W/receipt.txt"
node -e '
const { S3Client, PutObjectCommand } = require(process.argv[1] + "/node_modules/@aws-sdk/client-s3");
new S3Client({ forcePathStyle: true }).send(new PutObjectCommand({ Bucket: "receipts", Key: "k/one.txt", Body: "from the sdk" }))
  .then(() => console.log("ok"), (e) => { console.error(e); process.exit(1); });' "$ROOT/$NODE_DIR" >/dev/null 2>"$W/put.err" ||
  fail aws_setup_object "$(tail -3 "$W/put.err")"
run_one() { # ENV... : runs one.dwf with only these AWS settings (plus the S3 endpoint)
  env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_REGION -u AWS_ENDPOINT_URL_S3 HOME="$W/home" \
    AWS_ENDPOINT_URL_S3="${ONE_ENDPOINT_S3-$AWS_ENDPOINT_URL_S3}" "$@" \
    "$DWF" run tests/aws/one.dwf --input '{"key":"k/one.txt"}' --store "$W/one-$RANDOM.db" --quiet >"$W/one.out" 2>&1
}
mkdir -p "$W/home" "$W/aws"
printf '[default]\naws_access_key_id = nobody\naws_secret_access_key = nothing\n\n[dev]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n' >"$W/aws/credentials"
printf '[default]\nregion = eu-west-1\n\n[profile dev]\nregion = us-east-1\n' >"$W/aws/config"
if run_one AWS_PROFILE=dev AWS_SHARED_CREDENTIALS_FILE="$W/aws/credentials" AWS_CONFIG_FILE="$W/aws/config" &&
   grep -q '"from the sdk"' "$W/one.out"; then
  pass aws_credentials_profile_files
else
  fail aws_credentials_profile_files "$(tail -c 600 "$W/one.out")"
fi
mkdir -p "$W/home/.aws" && cp "$W/aws/credentials" "$W/aws/config" "$W/home/.aws/"
if run_one AWS_PROFILE=dev && grep -q '"from the sdk"' "$W/one.out"; then
  pass aws_credentials_home_aws
else
  fail aws_credentials_home_aws "$(tail -c 600 "$W/one.out")"
fi
# the default profile's key is wrong: s3rver refuses the signature, and the step fails with its code
if run_one && grep -q '"error": "InvalidAccessKeyId"' "$W/one.out"; then
  pass aws_credentials_wrong_key
else
  fail aws_credentials_wrong_key "$(tail -c 600 "$W/one.out")"
fi
rm -rf "$W/home/.aws"
if run_one AWS_REGION=us-east-1 && grep -q '"error": "CredentialsError"' "$W/one.out" &&
   grep -q 'AWS_ACCESS_KEY_ID' "$W/one.out"; then
  pass aws_credentials_missing
else
  fail aws_credentials_missing "$(tail -c 600 "$W/one.out")"
fi
if run_one AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER && grep -q '"error": "ConfigurationError"' "$W/one.out"; then
  pass aws_region_missing
else
  fail aws_region_missing "$(tail -c 600 "$W/one.out")"
fi
if run_one AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1 &&
   grep -q '"from the sdk"' "$W/one.out"; then
  pass aws_region_default_region
else
  fail aws_region_default_region "$(tail -c 600 "$W/one.out")"
fi
# AWS_ENDPOINT_URL (no per-service variable) reaches s3rver too
if ONE_ENDPOINT_S3= run_one AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1 \
     AWS_ENDPOINT_URL="http://127.0.0.1:$S3_PORT" && grep -q '"from the sdk"' "$W/one.out"; then
  pass aws_endpoint_url_global
else
  fail aws_endpoint_url_global "$(tail -c 600 "$W/one.out")"
fi

# ---- retries ---------------------------------------------------------------------------------------
start_server flaky $NODE_DIR/flaky.mjs "$W/counts.json"
FLAKY_PORT=$(echo "$PORTS" | json_get .port)
if AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$FLAKY_PORT "$DWF" run tests/aws/retry.dwf --store "$W/retry.db" --quiet \
     >"$W/retry.out" 2>"$W/retry.err"; then
  R=$(sed -n '/^{/,$p' "$W/retry.out")
  C=$(cat "$W/counts.json")
  if echo "$R" | grep -q '"throttled": "x"' && [ "$(echo "$C" | json_get .GetItem)" = 2 ]; then
    pass aws_retry_throttling
  else fail aws_retry_throttling "result $R, requests $C"; fi
  if [ "$(echo "$C" | json_get .DeleteItem)" = 2 ]; then pass aws_retry_5xx; else fail aws_retry_5xx "requests $C"; fi
  if echo "$R" | grep -q '"type": "ConditionalCheckFailedException"' && [ "$(echo "$C" | json_get .PutItem)" = 1 ]; then
    pass aws_no_retry_condition_failed
  else fail aws_no_retry_condition_failed "result $R, requests $C"; fi
else
  fail aws_retry_run "$(tail -c 800 "$W/retry.err") $(tail -c 300 "$W/retry.out")"
fi

# ---- every row against the official client ----------------------------------------------------------
mkdir -p "$W/compare"
node $NODE_DIR/compare.mjs "$DWF" "$W/compare" include/dwf_aws.def 2>"$W/compare.err" | grep -E '^(PASS|FAIL) ' ||
  fail aws_compare "$(tail -c 800 "$W/compare.err")"
