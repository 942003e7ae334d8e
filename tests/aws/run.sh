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
#   - idempotency tokens: TransactWriteItems' ClientRequestToken filled by dwf, the same on a
#     retry of the step, another per call, poll check and execution, a given one kept (token.dwf);
#   - credentials and region from the environment or the shared files (AWS_PROFILE,
#     AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE), and the errors when there are none;
#   - examples/orders_aws.dwf run with `dwf run` against dynalite, s3rver and node/standin.mjs
#     (Secrets Manager, SQS, the payment API), read back with the official clients
#     (node/example.mjs) and the stand-in's record: an order, one approved and one rejected
#     through `dwf callback`, a duplicate refused by its condition, the secret nowhere recorded.
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
start_server local $NODE_DIR/servers.mjs "$W/s3" receipts order-receipts
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

# ---- idempotency tokens: TransactWriteItems' ClientRequestToken filled from the operation --------
start_server flaky2 $NODE_DIR/flaky.mjs "$W/counts2.json" "$W/tokens.jsonl"
TOKEN_PORT=$(echo "$PORTS" | json_get .port)
for run in 1 2; do
  AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$TOKEN_PORT "$DWF" run tests/aws/token.dwf --skip-time \
    --store "$W/token.db" --quiet >"$W/token$run.out" 2>&1 || fail aws_token_run "run $run: $(tail -c 400 "$W/token$run.out")"
done
# first run: [500'd, its retry, the second call, the given one, poll check 1, check 2]; the
# second run: the same without the 500'd one
T=$(node -e 'console.log(JSON.stringify(require("fs").readFileSync(process.argv[1],"utf8").split("\n").filter(Boolean).map(JSON.parse)))' \
    "$W/tokens.jsonl" 2>/dev/null)
token_holds() { # NAME JS-EXPRESSION-OVER-t
  if echo "${T:-null}" | node -e 'const t=JSON.parse(require("fs").readFileSync(0,"utf8"));process.exit(eval(process.argv[1])?0:1)' "$2"
  then pass "$1"; else fail "$1" "$2 does not hold for the tokens ${T:-none}"; fi
}
uuid='/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/'
token_holds aws_token_present "t.length === 11 && [0, 1, 2, 4, 5, 6, 7, 9, 10].every(i => $uuid.test(t[i]))"
token_holds aws_token_same_across_retry 't[0] === t[1] && t[1] !== t[2]'
token_holds aws_token_user_value_wins 't[3] === "my-token-1" && t[8] === "my-token-1"'
token_holds aws_token_per_poll_check 't[4] !== t[5] && t[4] !== t[1] && t[4] !== t[2]'
token_holds aws_token_per_execution 'new Set([t[1], t[2], t[4], t[5], t[6], t[7], t[9], t[10]]).size === 8'

# ---- every row against the official client ----------------------------------------------------------
mkdir -p "$W/compare"
node $NODE_DIR/compare.mjs "$DWF" "$W/compare" include/dwf_aws.def 2>"$W/compare.err" | grep -E '^(PASS|FAIL) ' ||
  fail aws_compare "$(tail -c 800 "$W/compare.err")"

# ---- examples/orders_aws.dwf end to end -----------------------------------------------------------
# DynamoDB and S3 are dynalite and s3rver (above); Secrets Manager, SQS and the payment API are
# node/standin.mjs. The table is named by --env (the suite's own "orders" has another key).
KEY=sk_live_orders_9c1e7a55f00d
start_server standin $NODE_DIR/standin.mjs "$W/standin.jsonl" orders/payments-api "$KEY"
SI_PORT=$(echo "$PORTS" | json_get .port)
EX_TABLE=example_orders
export AWS_ENDPOINT_URL_SECRETS_MANAGER=http://127.0.0.1:$SI_PORT AWS_ENDPOINT_URL_SQS=http://127.0.0.1:$SI_PORT
EX_ENV=(--env "ORDERS_TABLE=$EX_TABLE" --env "CHARGE_URL=http://127.0.0.1:$SI_PORT/charges")
ex_run() { # OUT INPUT [ARGS...]: dwf run the example on its store; OUT.json, OUT.err
  local out=$1 input=$2; shift 2
  "$DWF" run examples/orders_aws.dwf "${EX_ENV[@]}" --input "$input" --store "$W/ex.db" --json "$@" \
    >"$W/$out.json" 2>"$W/$out.err"
}
ex_read() { node $NODE_DIR/example.mjs read $EX_TABLE order-receipts "$@" 2>&1; }
records() { # JS-FILTER-OVER-r: the stand-in's records it holds, as a JSON array
  node -e 'const f=require("fs").readFileSync(process.argv[1],"utf8").split("\n").filter(Boolean).map(JSON.parse);
console.log(JSON.stringify(f.filter(r=>eval(process.argv[2]))))' "$W/standin.jsonl" "$1"
}
holds() { # NAME JSON JS-EXPRESSION-OVER-v DETAIL
  if echo "$2" | node -e 'const v=JSON.parse(require("fs").readFileSync(0,"utf8"));process.exit(eval(process.argv[1])?0:1)' "$3" 2>/dev/null
  then pass "$1"; else fail "$1" "$3 does not hold for $(echo "$2" | tr -d '\n' | cut -c1-700) ${4:-}"; fi
}
: >"$W/standin.jsonl"
if ! node $NODE_DIR/example.mjs setup $EX_TABLE >"$W/ex-setup.out" 2>&1; then
  fail aws_example_setup "$(tail -5 "$W/ex-setup.out")"
else
  # a small order: recorded, charged with the secret's key, marked paid, queued, receipted
  ex_run small '{"orderId":"o-100","customer":"c-7","amount":120,"items":[{"sku":"A1","qty":2}]}'; rc=$?
  R=$(cat "$W/small.json")
  holds aws_example_run "$R" 'v.Status === "SUCCEEDED" && v.Result.status === "paid" && v.Result.chargeId === "ch_1" &&
    v.Result.approvedBy === null && v.Result.receipt === "receipts/c-7/o-100.json" && /^[0-9a-f-]{36}$/.test(v.Result.messageId)' \
    "rc=$rc $(tail -c 400 "$W/small.err")"
  B=$(ex_read o-100 receipts/c-7/o-100.json)
  holds aws_example_item "$B" 'v.item.status.S === "paid" && v.item.chargeId.S === "ch_1" && v.item.customer.S === "c-7" &&
    v.item.amount.N === "120" && JSON.parse(v.item.items.S)[0].sku === "A1"'
  holds aws_example_receipt "$B" 'v.receipt.contentType === "application/json" && v.receipt.body.orderId === "o-100" &&
    v.receipt.body.amount === 120 && v.receipt.body.chargeId === "ch_1" && v.receipt.body.approvedBy === null'
  holds aws_example_queued "$(records 'r.service === "sqs"')" 'v.length === 1 && v[0].signed &&
    v[0].body.QueueUrl === "https://sqs.us-east-1.amazonaws.com/123456789012/order-fulfilment" &&
    JSON.stringify(JSON.parse(v[0].body.MessageBody)) === JSON.stringify({orderId: "o-100", customer: "c-7", items: [{sku: "A1", qty: 2}], chargeId: "ch_1"})'
  holds aws_example_secret_used "$(records 'r.service !== "sqs"')" 'v.length === 2 && v[0].action === "GetSecretValue" && v[0].signed &&
    v[0].body.SecretId === "orders/payments-api" && v[1].service === "charge" && v[1].sawKey && v[1].idempotencyKey === "o-100" &&
    v[1].body.amount === 120'

  # above the threshold: the run waits; the manager answers with `dwf callback succeed` (one
  # callback of the function pending at a time: the approval's, inside its unnamed context)
  approve() { # OUT ORDER AMOUNT ANSWER: run in the background, answer its callback, wait for it
    "$DWF" run examples/orders_aws.dwf "${EX_ENV[@]}" --input "{\"orderId\":\"$2\",\"customer\":\"c-8\",\"amount\":$3}" \
      --store "$W/ex.db" --json >"$W/$1.json" 2>"$W/$1.err" &
    local pid=$! id=""
    for _ in $(seq 1 300); do
      id=$("$DWF" callbacks --json --store "$W/ex.db" 2>/dev/null |
           node -e 'const c=JSON.parse(require("fs").readFileSync(0,"utf8")).Callbacks.filter(c=>c.FunctionName==="orders-aws");
console.log(c.length===1?c[0].CallbackId:"")' 2>/dev/null)
      [ -n "$id" ] && break
      kill -0 $pid 2>/dev/null || break
      sleep 0.1
    done
    if [ -n "$id" ]; then "$DWF" callback succeed "$id" --result "$4" --store "$W/ex.db" >>"$W/$1.err" 2>&1; fi
    for _ in $(seq 1 300); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
    kill $pid 2>/dev/null
    wait $pid 2>/dev/null
  }
  approve big o-200 2500 '{"approved":true,"by":"maria"}'
  R=$(cat "$W/big.json" 2>/dev/null)
  holds aws_example_approved "${R:-null}" 'v.Status === "SUCCEEDED" && v.Result.approvedBy === "maria" && v.Result.chargeId === "ch_2"' \
    "$(tail -c 400 "$W/big.err")"
  B=$(ex_read o-200 receipts/c-8/o-200.json)
  holds aws_example_approved_readback "$B" 'v.item.status.S === "paid" && v.receipt.body.approvedBy === "maria"'
  approve rej o-300 3000 '{"approved":false,"by":"maria"}'
  R=$(cat "$W/rej.json" 2>/dev/null)
  holds aws_example_rejected "${R:-null}" 'v.Status === "FAILED" && v.Error.ErrorType === "OrderRejected" &&
    v.Error.ErrorMessage === "order o-300 rejected by maria"' "$(tail -c 400 "$W/rej.err")"
  B=$(ex_read o-300 receipts/c-8/o-300.json)
  holds aws_example_rejected_readback "$B" 'v.item.status.S === "rejected" && v.receipt === null'
  holds aws_example_rejected_not_charged "$(records 'r.service === "charge" && r.idempotencyKey === "o-300"')" 'v.length === 0'

  # the same order again: its PutItem condition fails, not retried, nothing charged twice
  ex_run dup '{"orderId":"o-100","customer":"c-7","amount":120}'; rc=$?
  R=$(cat "$W/dup.json")
  arn=$(echo "$R" | json_get .ExecutionArn 2>/dev/null)
  "$DWF" history "$arn" --json --store "$W/ex.db" >"$W/dup-hist.json" 2>&1
  H=$(node -e 'const h=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));
const ops=(h.Operations||h).filter(o=>o.Name==="record-order");
console.log(JSON.stringify(ops.map(o=>({status:o.Status,attempt:o.StepDetails&&o.StepDetails.Attempt,error:o.StepDetails&&o.StepDetails.Error}))))' "$W/dup-hist.json" 2>&1)
  holds aws_example_duplicate "{\"rc\":$rc,\"run\":${R:-null},\"ops\":${H:-null}}" 'v.rc === 1 && v.run.Status === "FAILED" &&
    v.run.Error.ErrorType === "StepError" && v.run.Error.ErrorMessage === "dynamodb.PutItem: The conditional request failed" &&
    v.ops.length === 1 && v.ops[0].status === "FAILED" && v.ops[0].attempt === 1 &&
    v.ops[0].error.ErrorType === "ConditionalCheckFailedException"' "$(head -c 300 "$W/dup-hist.json")"
  holds aws_example_duplicate_not_charged "$(records 'r.service === "charge" && r.idempotencyKey === "o-100"')" 'v.length === 1'

  # the key is in no result, log line, history or store page: a run that shows its log lines,
  # every execution's history and events, the store's files
  "$DWF" run examples/orders_aws.dwf "${EX_ENV[@]}" --input '{"orderId":"o-400","customer":"c-9","amount":5}' \
    --store "$W/ex.db" >"$W/logs.out" 2>"$W/logs.err"; rc=$?
  : >"$W/all-hist.txt"
  for a in $("$DWF" executions --json --store "$W/ex.db" | node -e '
const e=JSON.parse(require("fs").readFileSync(0,"utf8")).DurableExecutions;console.log(e.map(x=>x.DurableExecutionArn).join("\n"))'); do
    "$DWF" history "$a" --json --store "$W/ex.db" >>"$W/all-hist.txt" 2>&1
    "$DWF" history "$a" --json --events --store "$W/ex.db" >>"$W/all-hist.txt" 2>&1
  done
  nhist=$(grep -c '"ch_' "$W/all-hist.txt")
  leaks=$(grep -la "$KEY" "$W"/*.json "$W"/*.err "$W/logs.out" "$W/all-hist.txt" "$W"/ex.db* 2>/dev/null | tr '\n' ' ')
  if [ $rc -eq 0 ] && grep -q 'order o-400 charged: ch_3' "$W/logs.err" && [ "$nhist" -ge 3 ] && [ -z "$leaks" ] &&
     [ "$(records 'r.service === "charge" && r.sawKey' | json_get .length)" = 3 ]; then
    pass aws_example_secret_never_recorded
  else fail aws_example_secret_never_recorded "rc=$rc histories with charges: $nhist, the key found in: ${leaks:-nothing}"; fi
fi
