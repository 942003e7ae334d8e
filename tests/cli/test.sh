#!/usr/bin/env bash
# `dwf test`: the examples' test files pass (each example has one); the issue's onboarding
# example (step, http and failing mocks with `times`, a callback timing out after 2 days and
# an escalation answered 3 h later, attempts) passes; a failing expectation shows the test
# file's line, expected and actual, and the operation history, and exits 1; --junit writes
# well-formed JUnit XML (xmllint, and python's parser reading its structure and counts, also with
# hostile names and a file that does not parse); syntax errors name file:line:col (a `mock aws`
# pattern no aws action matches and a \u escape that is not JSON's among them); `mock aws` answers aws calls without credentials or network, its errors
# retried or not as the service's are; a test stuck on an unanswered callback says so.
# Prints "PASS name" / "FAIL name: why".
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
DWF=${DWF:-$ROOT/build/dwf}
T=$(mktemp -d /tmp/dwf-cli-test.XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T"
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }
if [ ! -x "$DWF" ]; then fail cli_test_dwf "no $DWF (build first)"; exit 0; fi
export DWF_STORE=$T/.dwf/dwf.db  # the compile cache goes beside it

# ---- every example has a test file, and they all pass --------------------------------------------
missing=
for f in "$ROOT"/examples/*.dwf; do
  case "$f" in *.test.dwf) continue ;; esac
  [ -f "${f%.dwf}.test.dwf" ] || missing="$missing $(basename "$f")"
done
if [ -z "$missing" ]; then pass cli_test_every_example_has_tests
else fail cli_test_every_example_has_tests "no test file for:$missing"; fi

"$DWF" test "$ROOT/examples" --junit ex.xml >ex.out 2>ex.err; rc=$?
if [ $rc -eq 0 ] && tail -1 ex.out | grep -qE '^[0-9]+ passed, 0 failed$' && ! grep -q '^FAIL' ex.out &&
   [ "$(grep -c '^PASS' ex.out)" -ge 20 ]; then pass cli_test_examples_pass
else fail cli_test_examples_pass "rc=$rc $(cat ex.out ex.err | head -60)"; fi
if xmllint --noout ex.xml 2>/dev/null && [ "$(grep -c '<testcase ' ex.xml)" = "$(grep -c '^PASS' ex.out)" ] &&
   ! grep -q '<failure' ex.xml; then pass cli_test_junit_examples
else fail cli_test_junit_examples "$(head -c 600 ex.xml)"; fi

# junit_ok FILE PASSED FAILED: FILE is JUnit XML as CI tools read it (python's XML parser): a
# <testsuites> of <testsuite name tests failures> whose counts are their <testcase classname name>
# children and those holding a <failure message>; PASSED and FAILED test cases in all.
junit_ok() {
  python3 - "$@" <<'EOF'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == "testsuites", root.tag
cases = failed = 0
for suite in root:
    assert suite.tag == "testsuite" and suite.get("name"), (suite.tag, suite.attrib)
    tc = list(suite)
    assert all(c.tag == "testcase" and c.get("classname") and c.get("name") for c in tc), suite.attrib
    fl = [f for c in tc for f in c if f.tag == "failure"]
    assert all(f.get("message") and (f.text or "").strip() for f in fl), suite.attrib
    assert int(suite.get("tests")) == len(tc) and int(suite.get("failures")) == len(fl), suite.attrib
    for c in tc + [suite]:
        if c.get("time") is not None: float(c.get("time"))
    cases += len(tc)
    failed += len(fl)
assert (cases - failed, failed) == (int(sys.argv[2]), int(sys.argv[3])), (cases - failed, failed)
EOF
}
npass=$(grep -c '^PASS' ex.out)
if junit_ok ex.xml "$npass" 0 >jx.err 2>&1; then pass cli_test_junit_examples_parse
else fail cli_test_junit_examples_parse "$(tail -3 jx.err)"; fi

# ---- the issue's example ------------------------------------------------------------------------
mkdir ob && cp "$ROOT"/tests/cli/testfiles/onboarding.dwf "$ROOT"/tests/cli/testfiles/onboarding.test.dwf ob/
"$DWF" test ob/onboarding.test.dwf >ob.out 2>&1; rc=$?
if [ $rc -eq 0 ] && grep -q '^PASS ob/onboarding.test.dwf:1 "approval times out and escalates"' ob.out &&
   grep -q '^1 passed, 0 failed$' ob.out; then pass cli_test_onboarding
else fail cli_test_onboarding "rc=$rc $(cat ob.out)"; fi

# ---- a failing expectation ----------------------------------------------------------------------
cat >ob/wrong.test.dwf <<'EOF'
test "expects the wrong approver" {
  run onboarding with { employee: "bo" }
  mock step "create-accounts" returns { ok: true }
  mock http POST "https://hr.example.com/notify" returns { status: 200 }
  callback "manager-approval" succeeds with { approved: true } after 1h
  expect result.approvedBy == "hr"
  expect step "charge" attempts 1
}
EOF
"$DWF" test ob/wrong.test.dwf --junit wrong.xml >w.out 2>&1; rc=$?
if [ $rc -eq 1 ] && grep -q '^FAIL ob/wrong.test.dwf:1 "expects the wrong approver"' w.out &&
   grep -q '^    ob/wrong.test.dwf:6: expect result.approvedBy == "hr"$' w.out &&
   grep -q '^      expected: "hr"$' w.out && grep -q '^      actual:   "manager"$' w.out &&
   grep -q 'history (3600.0 s of virtual time)' w.out && grep -qE '^ +STEP +charge +SUCCEEDED +1 attempt$' w.out &&
   grep -qE '^ +CONTEXT +manager-approval +SUCCEEDED' w.out && grep -q '^0 passed, 1 failed$' w.out &&
   ! grep -q 'step "charge" attempts' w.out; then pass cli_test_failure_report
else fail cli_test_failure_report "rc=$rc $(cat w.out)"; fi
if xmllint --noout wrong.xml 2>/dev/null && grep -q 'failures="1"' wrong.xml &&
   grep -q 'expected: &quot;hr&quot;' wrong.xml; then pass cli_test_junit_failure
else fail cli_test_junit_failure "$(head -c 600 wrong.xml)"; fi

# Names with markup, control characters and bytes that are not UTF-8, and a file that does not
# parse: the XML still parses, the names are text, the parse errors are in the failure.
printf 'test "<script>&\\" \\u0001 \xff\xfe end" {\n  run onboarding with { employee: "bo" }\n  expect result == "<&>"\n}\n' \
  >ob/hostile.test.dwf
printf 'test "x" {\n  run onboarding\n  expect status\n}\n' >ob/broken.test.dwf
"$DWF" test ob/hostile.test.dwf ob/broken.test.dwf --junit hostile.xml >hx.out 2>&1; rc=$?
if [ $rc -eq 1 ] && junit_ok hostile.xml 0 2 >jx.err 2>&1 && python3 - hostile.xml >>jx.err 2>&1 <<'EOF'
import sys, xml.etree.ElementTree as ET
cases = ET.parse(sys.argv[1]).getroot().iter("testcase")
names = [c.get("name") for c in cases]
assert names == ['<script>&" ? ?? end', "the test file parses"], names
broken = [c for c in ET.parse(sys.argv[1]).getroot().iter("testcase") if c.get("name") == "the test file parses"][0]
assert "broken.test.dwf:4:1: error: syntax error" in broken.find("failure").text, broken.find("failure").text
EOF
then pass cli_test_junit_hostile_names
else fail cli_test_junit_hostile_names "rc=$rc $(tail -3 jx.err) $(head -c 400 hostile.xml)"; fi

# ---- mocks run for real when not mocked; virtual time fires the execution timeout ----------------
cat >ob/real.test.dwf <<'EOF'
test "create-accounts runs for real and fails" {
  run onboarding
  mock http POST "*" returns { status: 200 }
  expect status FAILED
  expect error "StepError" "the directory service is not reachable from a test"
  expect step "create-accounts" attempts 6
  expect step "charge" attempts 0
}
test "nobody answers: both callbacks time out (2 days, then 1 day)" {
  run onboarding
  mock step "create-accounts" returns { ok: true }
  mock http POST "*" returns { status: 200 }
  expect status FAILED
  expect error "CallbackTimeoutError"
  expect context "hr-escalation" status FAILED
  expect elapsed >= 3d
  expect elapsed < 73h
}
test "a server error from the mock fails like a real one" {
  run onboarding
  mock step "create-accounts" returns {}
  mock http POST "*" returns { status: 503, body: "down" }
  expect status FAILED
  expect step "notify-hr" attempts 6
  expect error "StepError" "POST https://hr.example.com/notify returned HTTP 503: down"
}
EOF
"$DWF" test ob/real.test.dwf >r.out 2>&1; rc=$?
if [ $rc -eq 0 ] && grep -q '^3 passed, 0 failed$' r.out; then pass cli_test_real_steps_and_http_status
else fail cli_test_real_steps_and_http_status "rc=$rc $(cat r.out)"; fi

# ---- aws calls: mocked without credentials or network; errors retried as the service's are -------
mkdir aw && cat >aw/orders.dwf <<'EOF'
workflow record_order {
  lambda { name = "record-order" }
  step put "put-order" {
    let r = aws dynamodb.PutItem {
      TableName: "orders",
      Item: { id: { S: input.id } },
      ConditionExpression: "attribute_not_exists(id)"
    }
    return r
  }
  step sent "notify" {
    let r = aws sqs.SendMessage { QueueUrl: "https://sqs.us-east-1.amazonaws.com/1/q", MessageBody: input.id }
    return r.MessageId
  }
  return { put: put, sent: sent }
}
EOF
cat >aw/orders.test.dwf <<'EOF'
test "both calls answered by mocks" {
  run record_order with { id: "o1" }
  mock aws "dynamodb.PutItem" returns { ConsumedCapacity: { CapacityUnits: 1 } }
  mock aws "sqs.*" returns { MessageId: "m-1" }
  expect status SUCCEEDED
  expect result.put.ConsumedCapacity.CapacityUnits == 1
  expect result.sent == "m-1"
  expect step "put-order" attempts 1
}
test "a throttled call is retried as the SDKs retry it" {
  run record_order with { id: "o1" }
  mock aws "dynamodb.PutItem" fails "ThrottlingException" "Rate exceeded" times 2
  mock aws "dynamodb.PutItem" returns null
  mock aws "sqs.SendMessage" returns { MessageId: "m-2" }
  expect status SUCCEEDED
  expect result.put == {}
  expect step "put-order" attempts 3
}
test "a failed condition is not retried" {
  run record_order with { id: "o1" }
  mock aws "dynamodb.PutItem" fails "ConditionalCheckFailedException" "The conditional request failed"
  expect status FAILED
  expect error "StepError" "dynamodb.PutItem: The conditional request failed"
  expect step "put-order" attempts 1
  expect step "notify" attempts 0
}
EOF
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_PROFILE HOME="$T" AWS_REGION=us-east-1 \
  "$DWF" test aw >aw.out 2>&1; rc=$?
if [ $rc -eq 0 ] && grep -q '^3 passed, 0 failed$' aw.out; then pass cli_test_mock_aws
else fail cli_test_mock_aws "rc=$rc $(cat aw.out)"; fi

# ---- errors in test files -------------------------------------------------------------------------
cat >ob/bad.test.dwf <<'EOF'
test "syntax" {
  run onboarding
  expect status
}
test "aws" {
  run onboarding
  mock aws "dynamodb.PutItme" returns {}
}
test "no run" {
  expect status SUCCEEDED
}
test "caf\u{e9}" {
  run onboarding
}
EOF
"$DWF" test ob/bad.test.dwf >b.out 2>&1; rc=$?
if [ $rc -eq 1 ] && grep -q '^ob/bad.test.dwf:4:1: error: syntax error' b.out &&
   grep -q '^ob/bad.test.dwf:7:12: error: `mock aws "dynamodb.PutItme"` matches no aws call' b.out &&
   grep -qF 'ob/bad.test.dwf:12:6: error: bad \u escape in string (strings are JSON strings: \u00e9, not \u{e9})' b.out &&
   grep -q '^FAIL ob/bad.test.dwf: the test file has errors' b.out; then pass cli_test_file_errors
else fail cli_test_file_errors "rc=$rc $(cat b.out)"; fi
printf 'test "x" {\n  expect status SUCCEEDED\n}\n' >ob/norun.test.dwf
"$DWF" test ob/norun.test.dwf >n.out 2>&1
if grep -q '^ob/norun.test.dwf:1:1: error: test "x" has no `run WORKFLOW`' n.out; then pass cli_test_no_run
else fail cli_test_no_run "$(cat n.out)"; fi
printf 'test "x" {\n  run nosuch\n  expect status SUCCEEDED\n}\n' >ob/nosuch.test.dwf
"$DWF" test ob/nosuch.test.dwf >n.out 2>&1; rc=$?
if [ $rc -eq 1 ] && grep -q 'no workflow named nosuch among the .dwf files beside the test' n.out; then
  pass cli_test_unknown_workflow
else fail cli_test_unknown_workflow "rc=$rc $(cat n.out)"; fi

# ---- a callback nobody answers, without a deadline -----------------------------------------------
mkdir st && cat >st/wait.dwf <<'EOF'
workflow waits_forever {
  durable { timeout = 2d }
  lambda { name = "waits-forever" }
  callback cb "never" timeout 1d heartbeat 2h
  let x = await cb
  return x
}
EOF
cat >st/wait.test.dwf <<'EOF'
test "the heartbeat deadline ends it" {
  run waits_forever
  expect status FAILED
  expect error "CallbackTimeoutError" "Callback timed out on heartbeat"
  expect elapsed == 2h
}
test "heartbeats keep it open until its own deadline" {
  run waits_forever
  callback "never" heartbeats every 1h
  expect status FAILED
  expect error "CallbackTimeoutError" "Callback timed out"
  expect callback "never" status TIMED_OUT
  expect elapsed == 1d
}
test "three heartbeats, then silence" {
  run waits_forever
  callback "never" heartbeats every 1h times 3
  expect status FAILED
  expect elapsed == 5h
}
EOF
cat >st/slow.dwf <<'EOF'
workflow slow {
  durable { timeout = 1d }
  lambda { name = "slow" }
  wait 3d
  return 1
}
EOF
cat >st/slow.test.dwf <<'EOF'
test "the execution timeout fires in virtual time" {
  run slow
  expect status TIMED_OUT
  expect elapsed == 1d
}
EOF
"$DWF" test st >s.out 2>&1; rc=$?
if [ $rc -eq 0 ] && grep -q '^4 passed, 0 failed$' s.out; then pass cli_test_deadlines
else fail cli_test_deadlines "rc=$rc $(cat s.out)"; fi
exit 0
