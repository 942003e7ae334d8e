#!/usr/bin/env python3
"""Checks what `dwf graph` wrote for one workflow against the tools that read it.

    compare.py SRC.dwf DOT.json SVG MERMAID.json

DOT.json is Graphviz's own reading of the DOT output (`dot -Tjson`), SVG what `dwf graph
--format svg` wrote, MERMAID.json the line tests/graph/mermaid_parse.mjs printed for the Mermaid
output. Prints PASS/FAIL lines (prefixed with the workflow's name):
  - ids: every node id is <kind>_L<line> (or wf_start/wf_end), its label ends with that line,
    and that line of the .dwf holds the construct's keyword;
  - svg: the SVG is XML without script elements or on* attributes, and every node and cluster
    shows exactly the text lines Graphviz laid out for it;
  - mermaid: Mermaid parsed the flowchart, and it holds the same nodes with the same text, the
    same edges with the same labels and the same clusters with the same members as the DOT.
"""
import json
import re
import sys
import xml.etree.ElementTree as ET

SVG_NS = "{http://www.w3.org/2000/svg}"
KEYWORD = {"step": "step", "wait": "wait", "callback": "callback", "await": "await",
           "wfc": "callback", "poll": "poll", "invoke": "invoke", "if": "if", "for": "for", "while": "while",
           "parallel": "parallel", "map": "map", "join": "parallel|map", "fail": "fail",
           "try": "try", "group": "group"}


def dot_lines(obj):
    """The text lines Graphviz drew for a node, cluster or edge (its label draw ops)."""
    return [op["text"] for op in obj.get("_ldraw_", []) if op.get("op") == "T"]


def main():
    src, dot_json, svg_path, mm_json = sys.argv[1:5]
    name = re.sub(r"\.dwf$", "", src.rsplit("/", 1)[-1])
    ok = True

    def fail(what, why):
        nonlocal ok
        ok = False
        print(f"FAIL graph/{name}/{what}: {why}")

    source = open(src, "rb").read().decode("utf-8", "replace").split("\n")
    g = json.load(open(dot_json))
    objs = {o["_gvid"]: o for o in g.get("objects", [])}
    clusters = {o["name"]: o for o in objs.values() if o["name"].startswith("cluster_")}
    nodes = {o["name"]: o for o in objs.values() if not o["name"].startswith("cluster_")}
    # The innermost cluster of each node: the deepest cluster listing it.
    up = {objs[gv]["name"]: c["name"] for c in clusters.values() for gv in c.get("subgraphs") or []}
    depth = {}
    for c in clusters:
        d, p = 0, c
        while p in up:
            d, p = d + 1, up[p]
        depth[c] = d
    inner = {}
    for c in clusters.values():
        for gv in c.get("nodes", []):
            n = objs[gv]["name"]
            if n not in inner or depth[c["name"]] > depth[inner[n]]:
                inner[n] = c["name"]

    # ids carry their line, and the line is right
    for n, o in nodes.items():
        m = re.fullmatch(r"([a-z]+)_L(\d+)(?:_\d+)?", n)
        lines = dot_lines(o)
        if n in ("wf_start", "wf_end"):
            line = int(lines[-1].split()[-1]) if lines and lines[-1].startswith("line ") else 0
            kw = "workflow" if n == "wf_start" else r"\}"
        elif not m or m.group(1) not in KEYWORD:
            fail("ids", f"node id {n!r} is not <kind>_L<line>")
            continue
        else:
            line, kw = int(m.group(2)), KEYWORD[m.group(1)]
            if m.group(1) != "join" and (not lines or lines[-1] != f"line {line}"):
                fail("ids", f"{n}: label ends {lines[-1:]!r}, not 'line {line}'")
        if not (1 <= line <= len(source)) or not re.search(r"(^|\W)(" + kw + r")(\W|$)", source[line - 1]):
            fail("ids", f"{n}: line {line} of {src} does not hold '{kw}'")
    if ok:
        print(f"PASS graph/{name}/ids")

    # the SVG shows every label as text
    ok_before, ok = ok, True
    try:
        root = ET.parse(svg_path).getroot()
    except ET.ParseError as e:
        fail("svg", f"not XML: {e}")
        root = None
    if root is not None:
        for el in root.iter():
            if el.tag.lower().endswith("script"):
                fail("svg", "a <script> element")
            for a in el.attrib:
                if a.lower().startswith("on"):
                    fail("svg", f"an event attribute {a}")
        groups = {el.get("id"): el for el in root.iter(SVG_NS + "g") if el.get("class") in ("node", "cluster")}
        for n, o in list(nodes.items()) + list(clusters.items()):
            el = groups.get(n)
            if el is None:
                fail("svg", f"no <g id={n!r}>")
                continue
            texts = [t.text or "" for t in el.iter(SVG_NS + "text")]
            if texts != dot_lines(o):
                fail("svg", f"{n} shows {texts!r}, Graphviz laid out {dot_lines(o)!r}")
    if ok:
        print(f"PASS graph/{name}/svg")
    ok = ok and ok_before

    # Mermaid reads the same graph
    ok_before, ok = ok, True
    mm = json.loads(open(mm_json).read())
    if "error" in mm:
        fail("mermaid", f"Mermaid does not parse it: {mm['error']}")
    else:
        sub_ids = {s["id"] for s in mm["subgraphs"]}
        mv = {v["id"]: v for v in mm["vertices"] if v["id"] not in sub_ids}
        if set(mv) != set(nodes):
            fail("mermaid", f"nodes differ: only in Mermaid {sorted(set(mv) - set(nodes))}, "
                            f"only in DOT {sorted(set(nodes) - set(mv))}")
        for n in sorted(set(mv) & set(nodes)):
            want = "\n".join(dot_lines(nodes[n])).strip()
            if mv[n]["text"].strip() != want:
                fail("mermaid", f"{n}: Mermaid shows {mv[n]['text']!r}, DOT {want!r}")
        def dot_edge(e):
            tail = e.get("ltail") or objs[e["tail"]]["name"]
            return (tail, objs[e["head"]]["name"], "\n".join(dot_lines(e)))
        de = sorted(dot_edge(e) for e in g.get("edges", []))
        me = sorted((e["from"], e["to"], e["text"]) for e in mm["edges"])
        if de != me:
            fail("mermaid", f"edges differ: only in Mermaid {sorted(set(me) - set(de))[:4]}, "
                            f"only in DOT {sorted(set(de) - set(me))[:4]}")
        parent = {}
        for s in mm["subgraphs"]:
            for m in s["nodes"]:
                parent[m] = s["id"]
        for n in nodes:
            if parent.get(n) != inner.get(n):
                fail("mermaid", f"{n} is in {parent.get(n)} in Mermaid, in {inner.get(n)} in DOT")
        titles = {s["id"]: s["title"] for s in mm["subgraphs"]}
        if set(titles) != set(clusters):
            fail("mermaid", f"clusters differ: {sorted(set(titles) ^ set(clusters))}")
        for c in sorted(set(titles) & set(clusters)):
            want = "\n".join(dot_lines(clusters[c]))
            if titles[c] != want:
                fail("mermaid", f"{c}: title {titles[c]!r}, DOT {want!r}")
    if ok:
        print(f"PASS graph/{name}/mermaid")
    return 0


if __name__ == "__main__":
    sys.exit(main())
