// Parses Mermaid flowcharts with Mermaid itself (the npm package, from tests/node) and prints,
// per file, one JSON line: the nodes with the text Mermaid would draw, the edges and the
// subgraphs, or the parse error. tests/graph/run.sh compares that with Graphviz's reading of the
// DOT file `dwf graph` wrote for the same workflow.
//   node --import ./tests/node/register.mjs tests/graph/mermaid_parse.mjs FILE.mmd...
//
// Mermaid expects a browser: its label sanitizer is DOMPurify, which needs a DOM, so jsdom
// provides one before Mermaid loads. Labels come back from Mermaid's parser with entity codes
// still encoded (#quot; is kept as a private marker until rendering); decodeText undoes exactly
// what Mermaid's renderer does (markers to HTML entities, <br> to line breaks) and then lets the
// DOM decode the entities, as a browser would: the result is the text a reader sees. A label
// that still held markup would lose it here (the DOM parses it as elements), so the comparison
// with the DOT labels catches any escaping that lets HTML through.
import { readFileSync } from "node:fs";
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false, securityLevel: "strict" });

function decodeText(s) {
  if (s === undefined || s === null) return "";
  const html = String(s)
    .replace(/ﬂ°°/g, "&#")
    .replace(/ﬂ°/g, "&")
    .replace(/¶ß/g, ";")
    .split(/<br\s*\/?>/i);
  return html
    .map((part) => {
      const el = dom.window.document.createElement("div");
      el.innerHTML = part;
      return el.textContent;
    })
    .join("\n");
}

for (const file of process.argv.slice(2)) {
  const text = readFileSync(file, "utf8");
  const out = { file };
  try {
    await mermaid.parse(text);
    const diagram = await mermaid.mermaidAPI.getDiagramFromText(text);
    const db = diagram.db;
    out.type = diagram.type;
    out.vertices = [...db.getVertices().values()].map((v) => ({
      id: v.id,
      text: decodeText(v.text),
      shape: v.type ?? null,
      classes: v.classes ?? [],
    }));
    out.edges = db.getEdges().map((e) => ({
      from: e.start,
      to: e.end,
      text: decodeText(e.text),
      stroke: e.stroke,
      arrow: e.type,
    }));
    out.subgraphs = db.getSubGraphs().map((s) => ({
      id: s.id,
      title: decodeText(s.title),
      nodes: s.nodes,
    }));
  } catch (err) {
    out.error = String(err?.message ?? err).slice(0, 600);
  }
  console.log(JSON.stringify(out));
}
