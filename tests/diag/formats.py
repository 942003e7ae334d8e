#!/usr/bin/env python3
"""dwf check --format json|sarif: the machine-readable diagnostics agree with the text ones.

For every tests/diag/<name>.dwf:
  - json: one object per error/warning, with file, line, column, end, severity, rule, message,
    notes and fixits; the errors and their positions are exactly those of <name>.err (the text
    format), and each note matches a note line of the .err;
  - sarif: the log has the properties SARIF 2.1.0 requires (version, $schema, runs[].tool.driver
    .name, results[].ruleId naming a rule of the driver, message.text, locations[]
    .physicalLocation.artifactLocation.uri and a region with 1-based lines and columns).
Then: a fix-it is an edit that works (applying every fix-it of the single-fault files listed in
FIXABLE gives a file that checks clean), columns count code points in SARIF and bytes in JSON,
and the exit status is the text format's.
Prints PASS/FAIL lines like the other suites.
"""
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

DWF = os.environ.get("DWF", "build/dwf")
FIXABLE = ["wait_spelled_unit", "keyword_setp", "keyword_elif", "keyword_typo", "option_typo",
           "option_alias", "invoke_no_with", "return_no_value", "negative_duration",
           "negative_duration_option"]
failures = 0


def result(name, why):
    global failures
    if why:
        failures += 1
        print(f"FAIL diag_format_{name}: {why}")
    else:
        print(f"PASS diag_format_{name}")


def check(fmt, *paths):
    p = subprocess.run([DWF, "check", "--format", fmt, *paths], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def text_diags(err_text):
    """(severity, line, column, message) of each diagnostic line of a .err file."""
    out = []
    for line in err_text.splitlines():
        m = re.match(r"^(.*?):(\d+):(\d+): (error|warning|note): (.*)$", line)
        if m:
            out.append((m.group(4), int(m.group(2)), int(m.group(3)), m.group(5)))
        else:
            m = re.match(r"^(.*?): (error|warning|fatal error): (.*)$", line)
            if m and not line.startswith(" "):
                out.append((m.group(2), None, None, m.group(3)))
    return out


def check_json_shape(doc):
    if not isinstance(doc, list):
        return "not an array"
    for d in doc:
        for k in ("file", "line", "column", "end", "severity", "rule", "message", "notes", "fixits"):
            if k not in d:
                return f"object lacks '{k}': {d}"
        if d["severity"] not in ("error", "warning"):
            return f"bad severity {d['severity']}"
        if d["line"] is not None and (d["end"]["line"], d["end"]["column"]) < (d["line"], d["column"]):
            return f"end before start: {d}"
        for f in d["fixits"]:
            if not {"line", "column", "end", "replacement"} <= f.keys():
                return f"bad fixit {f}"
    return None


def check_sarif_shape(log):
    if log.get("version") != "2.1.0":
        return "version is not 2.1.0"
    if "sarif-2.1.0" not in log.get("$schema", ""):
        return "$schema does not name SARIF 2.1.0"
    runs = log.get("runs")
    if not isinstance(runs, list) or not runs:
        return "no runs"
    for run in runs:
        driver = run.get("tool", {}).get("driver", {})
        if not driver.get("name"):
            return "runs[].tool.driver.name missing"
        rules = [r["id"] for r in driver.get("rules", [])]
        for res in run.get("results", []):
            if res.get("ruleId") not in rules:
                return f"ruleId {res.get('ruleId')} is not a rule of the driver"
            if rules.index(res["ruleId"]) != res.get("ruleIndex", rules.index(res["ruleId"])):
                return "ruleIndex does not match ruleId"
            if res.get("level") not in ("error", "warning", "note", "none"):
                return f"bad level {res.get('level')}"
            if not isinstance(res.get("message", {}).get("text"), str):
                return "results[].message.text missing"
            locs = res.get("locations")
            if not locs:
                return "results[].locations missing"
            for loc in locs + res.get("relatedLocations", []):
                phys = loc.get("physicalLocation", {})
                if not phys.get("artifactLocation", {}).get("uri"):
                    return "physicalLocation.artifactLocation.uri missing"
                reg = phys.get("region")
                if reg is not None:
                    if reg.get("startLine", 0) < 1 or reg.get("startColumn", 0) < 1:
                        return f"region not 1-based: {reg}"
                    if (reg["endLine"], reg["endColumn"]) <= (reg["startLine"], reg["startColumn"]):
                        return f"empty or reversed region: {reg}"
    return None


def apply_fixits(text, fixits):
    lines = text.split("\n")
    def offset(line, col):
        return sum(len(l.encode()) + 1 for l in lines[:line - 1]) + col - 1
    data = text.encode()
    for f in sorted(fixits, key=lambda f: (f["line"], f["column"]), reverse=True):
        a = offset(f["line"], f["column"])
        b = offset(f["end"]["line"], f["end"]["column"])
        data = data[:a] + f["replacement"].encode() + data[b:]
    return data.decode()


def main():
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    names = sorted(os.path.basename(p)[:-4] for p in glob.glob("tests/diag/*.dwf"))
    for name in names:
        path = f"tests/diag/{name}.dwf"
        want = text_diags(open(f"tests/diag/{name}.err").read())
        rc_text = subprocess.run([DWF, "check", path], capture_output=True).returncode
        rc, out, err = check("json", path)
        why = None
        try:
            doc = json.loads(out)
        except ValueError as e:
            doc, why = None, f"not JSON: {e}"
        why = why or (err and f"stderr not empty: {err[:200]}") or check_json_shape(doc)
        if not why and rc != rc_text:
            why = f"exit status {rc}, text format gives {rc_text}"
        if not why:
            got = []
            for d in doc:
                got.append((d["severity"], d["line"], d["column"], d["message"]))
                got += [("note", n["line"], n["column"], n["message"]) for n in d["notes"]]
            if [w for w in want if w[0] != "fatal error"] != got:
                why = f"json {got} differs from the .err {want}"
        result(f"json_{name}", why)

        rc, out, err = check("sarif", path)
        try:
            why = check_sarif_shape(json.loads(out))
        except ValueError as e:
            why = f"not JSON: {e}"
        if not why:
            n = len(json.loads(out)["runs"][0]["results"])
            if n != len([w for w in want if w[0] in ("error", "warning")]):
                why = f"{n} results for {len(want)} diagnostics"
        result(f"sarif_{name}", why)

    # a fix-it is an edit that really fixes the fault
    for name in FIXABLE:
        path = f"tests/diag/{name}.dwf"
        doc = json.loads(check("json", path)[1])
        fixits = [f for d in doc for f in d["fixits"]]
        why = None if fixits else "no fix-it"
        if not why:
            with tempfile.TemporaryDirectory() as tmp:
                fixed = os.path.join(tmp, f"{name}.dwf")
                open(fixed, "w").write(apply_fixits(open(path).read(), fixits))
                p = subprocess.run([DWF, "check", fixed], capture_output=True, text=True)
                if p.returncode != 0:
                    why = f"still fails after its fix-its: {p.stderr[:300]}"
        result(f"fixit_{name}", why)

    # columns: bytes in JSON, code points in SARIF (the 'é' is two bytes)
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "utf8 name#1.dwf")
        open(src, "w").write('workflow w {\n  let s = "h\u00e9llo" + paymnt\n  return s\n}\n')
        j = json.loads(check("json", src)[1])[0]
        s = json.loads(check("sarif", src)[1])
        res = s["runs"][0]["results"][0]
        reg = res["locations"][0]["physicalLocation"]["region"]
        uri = res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        why = None
        if (j["line"], j["column"], j["end"]["column"]) != (2, 22, 28):
            why = f"json columns {j['line']}:{j['column']}-{j['end']['column']}, want 2:22-28 (bytes)"
        elif (reg["startColumn"], reg["endColumn"]) != (21, 27) or s["runs"][0].get("columnKind") != "unicodeCodePoints":
            why = f"sarif region {reg}, want columns 21-27 (code points)"
        elif not uri.endswith("utf8%20name%231.dwf"):
            why = f"uri {uri} is not percent-encoded"
        result("columns", why)

    # several files make one document; a clean file adds nothing
    rc, out, _ = check("json", "examples/order.dwf", "tests/diag/unknown_name.dwf", "tests/diag/wait_spelled_unit.dwf")
    doc = json.loads(out)
    files = sorted({d["file"] for d in doc})
    result("many_files", None if rc == 1 and files == ["tests/diag/unknown_name.dwf",
                                                       "tests/diag/wait_spelled_unit.dwf"]
           else f"rc {rc}, files {files}")
    rc, out, _ = check("sarif", "examples/order.dwf")
    result("clean", None if rc == 0 and json.loads(out)["runs"][0]["results"] == [] else f"rc {rc}: {out[:200]}")
    p = subprocess.run([DWF, "check", "--format", "xml", "examples/order.dwf"], capture_output=True, text=True)
    result("bad_format", None if p.returncode == 2 and "--format takes text, json or sarif" in p.stderr
           else f"rc {p.returncode}: {p.stderr}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
