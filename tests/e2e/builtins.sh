#!/usr/bin/env bash
# The collection, text and time builtins and lambdas end to end: examples/order_report.dwf runs
# on the embedded engine (its `wait` makes a second invocation replay the durable code, lambdas
# and all), and every value of its result is checked against Python computing the same thing
# independently (hashlib, base64, datetime). Called by tests/e2e/run.sh; prints PASS/FAIL lines.
set -u
cd "$(dirname "$0")/../.."
DWF=${DWF:-$PWD/build/dwf}
T=$(mktemp -d /tmp/dwf-e2e-builtins.XXXXXX)
trap 'rm -rf "$T"' EXIT

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }

S=$T/report.db
"$DWF" run examples/order_report.dwf --skip-time --json --store "$S" >"$T/r.json" 2>"$T/r.err"; rc=$?
if [ $rc -ne 0 ]; then
  fail builtins_report_runs "exit $rc: $(head -c 400 "$T/r.err")"
  exit 0
fi
pass builtins_report_runs

if msg=$(python3 - "$T/r.json" <<'PY' 2>&1
import base64, datetime, hashlib, json, re, sys
r = json.load(open(sys.argv[1]))
assert r["Status"] == "SUCCEEDED", r["Status"]
res = r["Result"]
orders = [
    dict(id="A-1", customer="acme", total=1250.5, at="2026-11-30T09:15:00Z", tags=["rush"]),
    dict(id="A-2", customer="globex", total=99.99, at="2026-11-30T11:02:30.250Z", tags=[]),
    dict(id="A-3", customer="acme", total=12000, at="2026-12-01T00:30:00+01:00", tags=["rush", "big"]),
    dict(id="A-4", customer="initech", total=0, at="not a date", tags=["test"]),
    dict(id="A-5", customer="globex", total=430, at="2026-12-01", tags=["big"]),
]
real = [o for o in orders if o["total"] > 0 and "test" not in o["tags"]]
groups = {}
for o in real:
    groups.setdefault(o["customer"], []).append(o)
ranked = sorted(groups.items(), key=lambda kv: -sum(o["total"] for o in kv[1]))
ids = [o["id"] for o in real]
batches = [ids[i:i + 2] for i in range(0, len(ids), 2)]
want_batches = [{"ids": b, "sha256": hashlib.sha256(",".join(b).encode()).hexdigest()} for b in batches]
assert res["batches"] == want_batches, (res["batches"], want_batches)

def parse(s):
    s = s.replace("Z", "+00:00")
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", s): s += "T00:00:00+00:00"
    try: return datetime.datetime.fromisoformat(s)
    except ValueError: return None
times = [t for t in (parse(o["at"]) for o in orders) if t]
first = min(times).astimezone(datetime.timezone.utc)
sm = res["summary"]
ranking = ["%d. %s %s" % (i + 1, name.ljust(8, "."), format(sum(o["total"] for o in os), ",.2f").rjust(10))
           for i, (name, os) in enumerate(ranked)]
assert sm["ranking"] == ranking, (sm["ranking"], ranking)
assert sm["first"] == first.strftime("%a %d %b %Y %H:%M:%S.") + "%03d UTC" % (first.microsecond // 1000), sm["first"]
assert sm["rush"] is True and sm["allPositive"] is True, sm
assert sm["big"] == "A-3", sm["big"]
tags = []
for o in orders:
    for t in o["tags"]:
        if t not in tags: tags.append(t)
assert sm["tags"] == tags, sm["tags"]
assert sm["codes"] == [[o["id"], o["id"][0], o["id"][2:]] for o in real], sm["codes"]
assert sm["dated"] == [bool(re.match(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}", o["at"])) for o in orders], sm["dated"]
assert sm["where"] == 2, sm["where"]
assert sm["token"] == base64.b64encode(("report:%d" % len(real)).encode()).decode(), sm["token"]
assert sm["counts"] == {k: len(v) for k, v in groups.items()}, sm["counts"]
assert res["decoded"] == "report:%d" % len(real), res["decoded"]
PY
); then pass builtins_report_values; else fail builtins_report_values "$msg"; fi

# The wait ended the first invocation: the second replayed the durable lets (filter, group_by,
# sort_by, chunk with their lambdas) and reached the same map, whose items were not run again.
ARN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ExecutionArn"])' "$T/r.json")
"$DWF" history "$ARN" --json --store "$S" >"$T/h.json" 2>"$T/h.err"
if python3 - "$T/h.json" <<'PY'
import json, sys
h = json.load(open(sys.argv[1]))
ops = h["Operations"] if isinstance(h, dict) else h
names = [o.get("Name") for o in ops]
steps = [o for o in ops if o.get("Type") == "STEP"]
assert names.count("checksum-0") == 1 and names.count("checksum-1") == 1 and names.count("summary") == 1, names
assert any(o.get("Type") == "WAIT" and o.get("Name") == "settle" for o in ops), names
assert all(o.get("Status") == "SUCCEEDED" for o in steps), [o.get("Status") for o in steps]
PY
then pass builtins_report_replay; else fail builtins_report_replay "$(head -c 400 "$T/h.json") $(cat "$T/h.err")"; fi
exit 0
