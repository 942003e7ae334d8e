#!/usr/bin/env bash
# tests/golden/iam_actions.sh: every IAM action dwf can put in a workflow's policy is
# <prefix>:<Operation> of an operation the official AWS client has (issue 11 item 4): the `iam`
# column of include/dwf_aws.def and the kms:Decrypt that parameter() adds, checked against the
# service models of botocore (the AWS CLI v1's client library, the same API definitions the
# @aws-sdk/client-* packages are generated from) and against those packages themselves (the
# aws suite's tests/aws/node); and every action in a golden iam/workflow-policy.json is one of
# those. Called by tests/golden/run.sh; prints PASS/FAIL.
set -u
cd "$(dirname "$0")/../.."
if ! python3 -c 'import botocore' 2>/dev/null; then
  echo "FAIL golden/iam_actions_official: python3 has no botocore (the AWS CLI v1: make deps)"; exit 0
fi
python3 - <<'PY'
import glob, json, re, sys
import botocore.session

text = open("include/dwf_aws.def").read()
# DWF_AWS_ACTION(service, action, method, path, required, optional, output, iam, arn, retry):
# the iam column is the 8th argument; string pieces may be split over lines and macros.
macros = dict(re.findall(r'#define (DWF_AWS_\w+)\s+((?:"[^"]*"\s*\\?\s*)+)', text))
def strings(arg):
    out = ""
    for tok in re.findall(r'"[^"]*"|DWF_AWS_\w+', arg):
        out += tok[1:-1] if tok.startswith('"') else "".join(re.findall(r'"([^"]*)"', macros.get(tok, "")))
    return out
def args_of(call):
    depth, cur, out = 0, "", []
    for ch in call:
        if ch == "," and depth == 0:
            out.append(cur); cur = ""; continue
        depth += ch == "(" ; depth -= ch == ")"
        cur += ch
    out.append(cur)
    return out
actions = {}
for m in re.finditer(r'^DWF_AWS_ACTION\((.*?)\)\s*$', text, re.S | re.M):
    a = args_of(m.group(1))
    if len(a) != 10:
        print("FAIL golden/iam_actions_table: a row with %d columns: %s" % (len(a), m.group(0)[:80])); sys.exit(0)
    for act in strings(a[7]).split():
        actions.setdefault(act, "%s.%s" % (a[0].strip(), a[1].strip()))
actions["kms:Decrypt"] = "parameter()"
if len(actions) < 10:
    print("FAIL golden/iam_actions_table: only %d actions read from include/dwf_aws.def" % len(actions)); sys.exit(0)

# IAM prefix -> botocore service; IAM actions that are not an API operation of their own ->
# the operation that needs them (IAM's Service Authorization Reference lists both).
service_of = {"dynamodb": "dynamodb", "sqs": "sqs", "sns": "sns", "events": "events",
              "states": "stepfunctions", "s3": "s3", "secretsmanager": "secretsmanager",
              "ssm": "ssm", "lambda": "lambda", "kms": "kms"}
operation_of = {"lambda:InvokeFunction": "Invoke", "dynamodb:ConditionCheckItem": "TransactWriteItems"}
session = botocore.session.get_session()
bad = []
for act, row in sorted(actions.items()):
    prefix, _, op = act.partition(":")
    svc = service_of.get(prefix)
    if not svc:
        bad.append("%s (%s): no client known for the prefix %s" % (act, row, prefix)); continue
    model = session.get_service_model(svc)
    if operation_of.get(act, op) not in model.operation_names:
        bad.append("%s (%s): %s has no operation %s" % (act, row, svc, operation_of.get(act, op)))
if bad: print("FAIL golden/iam_actions_official: " + "; ".join(bad))
else: print("PASS golden/iam_actions_official (%d actions)" % len(actions))

# The same against the official JavaScript clients the aws suite installs (tests/aws/node):
# each operation is a <Operation>Command the @aws-sdk/client-* package exports (KMS has no
# client there: botocore above covers it).
packages = {"dynamodb": "client-dynamodb", "sqs": "client-sqs", "sns": "client-sns",
            "events": "client-eventbridge", "states": "client-sfn", "s3": "client-s3",
            "secretsmanager": "client-secrets-manager", "ssm": "client-ssm", "lambda": "client-lambda"}
wanted = [(a, "@aws-sdk/" + packages[a.partition(":")[0]], operation_of.get(a, a.partition(":")[2]))
          for a in sorted(actions) if a.partition(":")[0] in packages]
import subprocess
js = """
const { createRequire } = require('module');
const req = createRequire(process.cwd() + '/tests/aws/node/package.json');
const bad = [];
for (const [act, pkg, op] of JSON.parse(process.argv[1])) {
  let mod;
  try { mod = req(pkg); } catch (e) { bad.push(act + ': ' + pkg + ' is not installed (make deps)'); continue; }
  if (typeof mod[op + 'Command'] !== 'function') bad.push(act + ': ' + pkg + ' has no ' + op + 'Command');
}
console.log(bad.join('; '));
"""
r = subprocess.run(["node", "-e", js, json.dumps(wanted)], capture_output=True, text=True)
if r.returncode != 0 or r.stdout.strip():
    print("FAIL golden/iam_actions_js_clients: " + (r.stdout.strip() or r.stderr.strip()[:300]))
else:
    print("PASS golden/iam_actions_js_clients (%d actions)" % len(wanted))

emitted = set()
for f in glob.glob("tests/golden/expected/*/iam/workflow-policy.json"):
    for st in json.load(open(f))["Statement"]:
        a = st["Action"]
        emitted.update([a] if isinstance(a, str) else a)
declared = set()  # permissions { allow } lines write what the user declares, not dwf's derivation
for f in glob.glob("examples/*.dwf") + glob.glob("tests/golden/*.dwf"):
    declared.update(re.findall(r'allow\s+"([^"]+)"', open(f).read()))
unknown = sorted(emitted - set(actions) - declared)
if not emitted: print("FAIL golden/iam_actions_emitted: no golden iam/workflow-policy.json")
elif unknown: print("FAIL golden/iam_actions_emitted: %s not from include/dwf_aws.def" % ", ".join(unknown))
else: print("PASS golden/iam_actions_emitted (%d actions)" % len(emitted))
PY
