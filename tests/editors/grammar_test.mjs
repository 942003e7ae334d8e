// grammar_test.mjs: the TextMate grammar (editors/dwf.tmLanguage.json) run through VS Code's own
// tokenizer (vscode-textmate) and regex engine (vscode-oniguruma), the way an editor runs it.
//
//  1. tests/editors/scopes.dwf: every caret assertion ("# ^^^ scope") holds.
//  2. every example and golden input: each character gets the scope a reference scanner (below,
//     written from lexer.l's rules) says it has: comments are comment.line, strings
//     string.quoted (escapes and all), the code inside ${...} meta.interpolation, durations
//     constant.numeric.duration, every reserved word of lexer.l's keyword table a keyword-like
//     scope; and each file ends with the tokenizer back at the top level (nothing left open).
// Prints PASS/FAIL lines like the other suites. Usage: node grammar_test.mjs FILE.dwf... [--broken FILE.dwf...]
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const require = createRequire(path.join(here, 'node', 'package.json'));
const vsctm = require('vscode-textmate');
const onig = require('vscode-oniguruma');

const wasm = fs.readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm'));
await onig.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
const registry = new vsctm.Registry({
  onigLib: Promise.resolve({
    createOnigScanner: (sources) => new onig.OnigScanner(sources),
    createOnigString: (s) => new onig.OnigString(s),
  }),
  loadGrammar: async (scope) => scope === 'source.dwf'
    ? vsctm.parseRawGrammar(fs.readFileSync(path.join(root, 'editors/dwf.tmLanguage.json'), 'utf8'),
                            'dwf.tmLanguage.json')
    : null,
});
const grammar = await registry.loadGrammar('source.dwf');

let failures = 0;
const result = (name, why) => {
  if (why) { failures++; console.log(`FAIL editors_${name}: ${why}`); }
  else console.log(`PASS editors_${name}`);
};

/* Each line's tokens as a per-character list of scope arrays; and whether the file ends at the
 * top level. */
function tokenize(text) {
  let stack = vsctm.INITIAL;
  const lines = text.split('\n');
  const scopes = lines.map((line) => {
    const r = grammar.tokenizeLine(line, stack);
    stack = r.ruleStack;
    const per = new Array(line.length);
    for (const t of r.tokens) for (let i = t.startIndex; i < Math.min(t.endIndex, line.length); i++) per[i] = t.scopes;
    return per;
  });
  return { lines, scopes, closed: stack.depth === vsctm.INITIAL.depth || stack === vsctm.INITIAL };
}

/* lexer.l's keyword table, and the soft keywords (parser.y's `soft` rule: names elsewhere). */
const lexer = fs.readFileSync(path.join(root, 'grammar/lexer.l'), 'utf8');
const keywords = [...lexer.matchAll(/\{"([a-z_]+)", TOK_[A-Z_]+\}/g)].map((m) => m[1]);
const parser = fs.readFileSync(path.join(root, 'grammar/parser.y'), 'utf8');
const softRule = parser.slice(parser.indexOf('\nsoft:'), parser.indexOf('\n;', parser.indexOf('\nsoft:')));
const soft = new Set([...softRule.matchAll(/\$\$ = "([a-z_]+)"/g)].map((m) => m[1]));
const reserved = new Set(keywords.filter((k) => !soft.has(k)));

/* The reference scanner: the class of every character (comment, string, interp, code) as
 * lexer.l's rules give it; strings may hold ${ expr } with nested strings and braces. */
function classify(lines) {
  const out = [];
  const stack = []; // 'str' or a brace depth counter object for an interpolation
  for (const line of lines) {
    const cls = new Array(line.length).fill('code');
    let i = 0;
    while (i < line.length) {
      const top = stack[stack.length - 1];
      if (top === 'str') {
        if (line[i] === '\\') { cls[i] = 'string'; if (i + 1 < line.length) cls[i + 1] = 'string'; i += 2; continue; }
        if (line[i] === '"') { cls[i] = 'string'; stack.pop(); i++; continue; }
        if (line.startsWith('${', i)) { cls[i] = cls[i + 1] = 'interp-edge'; stack.push({ depth: 0 }); i += 2; continue; }
        cls[i++] = 'string';
        continue;
      }
      const inInterp = top && typeof top === 'object';
      const mark = inInterp ? 'interp' : 'code';
      const c = line[i];
      if (c === '#' || line.startsWith('//', i)) { for (; i < line.length; i++) cls[i] = 'comment'; break; }
      if (c === '"') { cls[i++] = 'string'; stack.push('str'); continue; }
      if (inInterp && c === '{') top.depth++;
      if (inInterp && c === '}') {
        if (top.depth === 0) { cls[i++] = 'interp-edge'; stack.pop(); continue; }
        top.depth--;
      }
      cls[i++] = mark;
    }
    if (stack[stack.length - 1] === 'str') stack.pop(); // a string ends at the end of its line
    out.push(cls);
  }
  return out;
}

const has = (scopes, prefix) => (scopes || []).some((s) => s === prefix || s.startsWith(prefix + '.') ||
                                                         s.startsWith(prefix));

function checkFile(file, broken) {
  const text = fs.readFileSync(file, 'utf8');
  const { lines, scopes, closed } = tokenize(text);
  const cls = classify(lines);
  for (let l = 0; l < lines.length; l++) {
    for (let i = 0; i < lines[l].length; i++) {
      const s = scopes[l][i], c = cls[l][i], at = `${path.relative(root, file)}:${l + 1}:${i + 1}`;
      if (/\s/.test(lines[l][i]) && c !== 'string') continue;
      if (c === 'comment' && !has(s, 'comment.line')) return `${at}: comment char has ${s}`;
      if (c === 'string' && !has(s, 'string.quoted.double')) return `${at}: string char has ${s}`;
      if ((c === 'interp' || c === 'interp-edge') && !has(s, 'meta.interpolation'))
        return `${at}: interpolation char has ${s}`;
      if (c === 'code' && (has(s, 'comment') || has(s, 'string'))) return `${at}: code char has ${s}`;
    }
    for (const m of lines[l].matchAll(/[A-Za-z_][A-Za-z0-9_]*|[0-9]+(?:\.[0-9]+)?(?:ms|s|m|h|d)\b/g)) {
      const i = m.index, word = m[0], c = cls[l][i], s = scopes[l][i];
      if ((c !== 'code' && c !== 'interp') || (i > 0 && /[0-9A-Za-z_]/.test(lines[l][i - 1]))) continue;
      const at = `${path.relative(root, file)}:${l + 1}:${i + 1}`;
      if (/^[0-9]/.test(word)) {
        if (!has(s, 'constant.numeric.duration')) return `${at}: duration '${word}' has ${s}`;
        continue;
      }
      const before = lines[l].slice(0, i).trimEnd(), after = lines[l].slice(i + word.length).trimStart();
      if (before.endsWith('.') || (after.startsWith(':') && !before.endsWith('?'))) continue; // a key
      if (reserved.has(word) && !(has(s, 'keyword') || has(s, 'storage') || has(s, 'constant.language')))
        return `${at}: keyword '${word}' has ${s}`;
    }
  }
  if (!closed && !broken) return `${path.relative(root, file)}: the tokenizer does not end at the top level`;
  return null;
}

/* "# ^^^ scope" lines of the fixture. */
function checkAssertions(file) {
  const text = fs.readFileSync(file, 'utf8');
  const { lines, scopes } = tokenize(text);
  let source = -1, count = 0;
  for (let l = 0; l < lines.length; l++) {
    const m = /^#(\s*)(\^+)\s+(\S+)\s*$/.exec(lines[l]);
    if (!m) { source = l; continue; }
    const start = 1 + m[1].length, scope = m[3];
    for (let i = start; i < start + m[2].length; i++) {
      const s = scopes[source][i] || [];
      if (!s.some((x) => x === scope || x.startsWith(scope + '.')))
        return `line ${source + 1} col ${i + 1} ('${lines[source][i]}'): want ${scope}, got ${s.join(' ')}`;
    }
    count++;
  }
  return count >= 40 ? null : `only ${count} assertions`;
}

result('scopes', checkAssertions(path.join(here, 'scopes.dwf')));
// Files after --broken hold syntax errors on purpose (tests/diag): an unclosed '{' may leave
// the tokenizer inside a block at the end, everything else must hold.
let broken = false;
for (const f of process.argv.slice(2)) {
  if (f === '--broken') { broken = true; continue; }
  const name = path.relative(root, f).replace(/\.dwf$/, '').replaceAll('/', '_');
  result(`file_${name}`, checkFile(path.resolve(f), broken));
}
if (keywords.length < 40) result('keyword_table', `read only ${keywords.length} keywords from lexer.l`);
process.exit(0);
