// Parses Mermaid flowcharts with Mermaid itself (the npm package, from tests/node) and prints,
// per file, one JSON line: the nodes with the text Mermaid would draw, the edges and the
// subgraphs, or the parse error. tests/graph/run.sh compares that with Graphviz's reading of the
// DOT file `dwf graph` wrote for the same workflow.
//   node --import ./tests/node/register.mjs tests/graph/mermaid_parse.mjs FILE.mmd...
//
// Mermaid expects a browser: its label sanitizer is DOMPurify, which needs a DOM, so jsdom
// provides one before Mermaid loads. Labels come back from Mermaid's parser with entity codes
// still encoded (#quot; is kept as a private marker until rendering). shownText replays what
// Mermaid's renderer does to a label with HTML labels (labelHelper, then createText for text
// that is not Markdown): markers back to HTML entities; DOMPurify, as securityLevel "strict"
// runs it (it re-serializes, and so decodes entities, only when the text holds a '<'); a
// backslash-n or a newline becomes a line break; `fa:fa-NAME` becomes an icon; then the DOM
// reads the HTML, as a browser would. The result is the text a reader sees: a label that let
// markup, a line break or an icon through loses text here, so the comparison with the DOT
// labels catches it. DOMPurify is Mermaid's own dependency (hoisted into tests/node by the
// lock file).
import { readFileSync } from "node:fs";
import { JSDOM } from "jsdom";

// Imported only once `window` exists: DOMPurify binds to it when its module first loads, and
// Mermaid then shares that instance.
const dom = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: purify } = await import("dompurify");
const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false, securityLevel: "strict" });

const unmark = (s) => s.replace(/ﬂ°°/g, "&#").replace(/ﬂ°/g, "&").replace(/¶ß/g, ";");

function shownText(label) {
  if (label === undefined || label === null || label === "") return "";
  let t = unmark(String(label));
  t = purify.sanitize(purify.sanitize(t), { FORBID_TAGS: ["style"] }).toString();
  t = t.replace(/\\n|\n/g, "<br />");
  t = unmark(t).replace(/(fa[bklrs]?):fa-([\w-]+)/g, "<i></i>");
  const el = dom.window.document.createElement("div");
  el.innerHTML = t;
  el.querySelectorAll("br").forEach((br) => br.replaceWith("\n"));
  return el.textContent;
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
      text: shownText(v.text),
      shape: v.type ?? null,
      classes: v.classes ?? [],
    }));
    out.edges = db.getEdges().map((e) => ({
      from: e.start,
      to: e.end,
      text: shownText(e.text),
      stroke: e.stroke,
      arrow: e.type,
    }));
    out.subgraphs = db.getSubGraphs().map((s) => ({
      id: s.id,
      title: shownText(s.title),
      nodes: s.nodes,
    }));
  } catch (err) {
    out.error = String(err?.message ?? err).slice(0, 600);
  }
  console.log(JSON.stringify(out));
}
