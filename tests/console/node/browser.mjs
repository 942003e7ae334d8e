// browser.mjs: the web console in a real browser (Debian's chromium, headless, driven by
// puppeteer-core), against `dwf serve` running the approval and fanout examples (run.sh starts
// it and passes its addresses). Prints "PASS name" / "FAIL name: why" lines; screenshots go to
// $PICS for review (the list, each execution page, each graph).
//   CHROMIUM     the browser          CONSOLE_URL  http://127.0.0.1:PORT/console/ of dwf serve
//   PICS         the screenshots      API_URL      the same server's Invoke API
//   HOSTILE_URL  an execution page of tests/console/hostile.dwf (dwf console, run.sh part 1)
import puppeteer from 'puppeteer-core';

const { CHROMIUM, PICS, CONSOLE_URL, API_URL, HOSTILE_URL } = process.env;
const pass = (n) => console.log(`PASS ${n}`);
const fail = (n, why) => console.log(`FAIL ${n}: ${String(why).replace(/\s+/g, ' ').slice(0, 600)}`);
let broken = false; // a failed step makes the later steps that depend on it fail too, saying so
async function check(name, fn) {
  if (broken) return fail(name, 'an earlier browser check failed');
  try {
    await fn();
    pass(name);
  } catch (e) {
    broken = true;
    fail(name, e && e.stack ? e.stack : e);
  }
}
function assert(cond, what) {
  if (!cond) throw new Error(what);
}

async function invoke(fn, payload) {
  const r = await fetch(`${API_URL}/2015-03-31/functions/${fn}:%24LATEST/invocations`, {
    method: 'POST',
    headers: { 'X-Amz-Invocation-Type': 'Event' },
    body: JSON.stringify(payload),
  });
  assert(r.status === 202, `invoke ${fn}: HTTP ${r.status} ${await r.text()}`);
}

const browser = await puppeteer.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
});
const page = await browser.newPage();
await page.setViewport({ width: 1280, height: 900 });
const problems = []; // script errors, CSP violations, dialogs: none may happen
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
page.on('dialog', async (d) => { problems.push(`dialog: ${d.message()}`); await d.dismiss(); });

const text = (sel) => page.$eval(sel, (e) => e.textContent.trim());
const shot = (file, opts = {}) => page.screenshot({ path: `${PICS}/${file}`, fullPage: true, ...opts });
async function shotOf(sel, file) {
  const el = await page.$(sel);
  assert(el, `no ${sel} to photograph`);
  await el.screenshot({ path: `${PICS}/${file}` });
}
// reload until the page has sel (an execution the list does not show yet)
async function reloadUntil(sel, ms) {
  const end = Date.now() + ms;
  for (;;) {
    if (await page.$(sel)) return;
    assert(Date.now() < end, `no ${sel} on ${page.url()} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 300));
    await page.reload({ waitUntil: 'load' });
  }
}

try {
  await check('console_browser_list', async () => {
    await invoke('durable-callback-test', { orderId: 'ORD-BROWSER' });
    await page.goto(`${CONSOLE_URL}?function=durable-callback-test`, { waitUntil: 'load' });
    await reloadUntil('table.executions a.exec', 30000);
    const rows = await page.$$eval('table.executions tbody tr', (trs) => trs.map((t) => t.textContent));
    assert(rows.length === 1 && rows[0].includes('RUNNING') && rows[0].includes('durable-callback-test'),
      `rows: ${JSON.stringify(rows)}`);
    await shot('console-list.png');
  });

  await check('console_browser_waiting_on_callback', async () => {
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('table.executions a.exec')]);
    // the page follows the execution (server-sent events) until its callback is there
    await page.waitForSelector('#callbacks .callback form.cb-succeed', { timeout: 30000 });
    assert((await text('#callbacks .callback h3')) === 'approval', 'the waiting callback is not "approval"');
    assert((await text('#summary .status')) === 'RUNNING', 'not RUNNING');
    await page.waitForFunction(() => document.body.classList.contains('following'), { timeout: 10000 });
    const nodes = await page.$$eval('#graph li', (l) => l.map((e) => `${e.className} ${e.textContent}`));
    assert(nodes.some((n) => n.startsWith('g-run callback "approval"')), `graph: ${JSON.stringify(nodes)}`);
    assert(nodes.some((n) => n.startsWith('g-ok step "prepare-document"')), `graph: ${JSON.stringify(nodes)}`);
    assert(await page.$('#graph svg g.node'), 'the graph is not drawn');
    await shot('console-execution-approval-waiting.png');
    await shotOf('#graph .picture', 'console-graph-approval-waiting.png');
  });

  await check('console_browser_approve', async () => {
    await page.$eval('form.cb-succeed textarea', (t) => { t.value = ''; });
    await page.type('form.cb-succeed textarea', '{"approved": true, "approver": "browser@example.com"}');
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('form.cb-succeed button')]);
    assert((await text('.notice')).startsWith('Callback completed'), 'no notice after the form');
    // no reload from here: the event stream turns the page SUCCEEDED by itself
    await page.evaluate(() => { window.dwfSamePage = true; });
    await page.waitForFunction(
      () => document.querySelector('#summary .status')?.textContent === 'SUCCEEDED', { timeout: 60000 });
    assert(await page.evaluate(() => window.dwfSamePage === true), 'the page was reloaded, not updated live');
    const nodes = await page.$$eval('#graph li', (l) => l.map((e) => e.className));
    assert(nodes.length >= 6 && nodes.every((c) => c === 'g-ok'), `graph after: ${JSON.stringify(nodes)}`);
    const result = await text('#summary .payload:last-of-type pre');
    assert(result.includes('browser@example.com'), `result: ${result}`);
    await page.waitForFunction(() => !document.body.classList.contains('following'), { timeout: 10000 });
    await shot('console-execution-approval.png');
    await shotOf('#graph .picture', 'console-graph-approval.png');
    await shotOf('#timeline .picture', 'console-timeline-approval.png');
  });

  await check('console_browser_fanout', async () => {
    await invoke('durable-parallel-test', { items: ['a', 'b', 'c'] });
    await page.goto(`${CONSOLE_URL}?function=durable-parallel-test`, { waitUntil: 'load' });
    await reloadUntil('table.executions a.exec', 30000);
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('table.executions a.exec')]);
    await page.waitForFunction(
      () => document.querySelector('#summary .status')?.textContent === 'SUCCEEDED', { timeout: 90000 });
    const ops = await page.$$eval('#operations details.op', (d) => d.length);
    assert(ops >= 8, `only ${ops} operations shown`);
    const nodes = await page.$$eval('#graph li', (l) => l.map((e) => `${e.className} ${e.textContent}`));
    assert(nodes.filter((n) => n.startsWith('g-ok')).length === nodes.length, `graph: ${JSON.stringify(nodes)}`);
    await page.goto(`${CONSOLE_URL}`, { waitUntil: 'load' });
    await shot('console-list-all.png');
    await page.goBack({ waitUntil: 'load' });
    await shot('console-execution-fanout.png');
    await shotOf('#graph .picture', 'console-graph-fanout.png');
    await shotOf('#timeline .picture', 'console-timeline-fanout.png');
  });

  broken = false; // the hostile page does not depend on the serve checks
  await check('console_browser_hostile_names_are_text', async () => {
    await page.goto(HOSTILE_URL, { waitUntil: 'load' });
    const scripts = await page.$$eval('script', (s) => s.map((e) => e.getAttribute('src')));
    assert(JSON.stringify(scripts) === '["/console/assets/console.js"]', `scripts: ${JSON.stringify(scripts)}`);
    assert((await page.$$('img')).length === 0, 'an <img> element was made from a name');
    assert((await page.$$('#operations b')).length === 0, 'a <b> element was made from a name');
    const names = await page.$$eval('#operations .opname', (n) => n.map((e) => e.textContent));
    assert(names.includes('<script>alert(1)</script>'), `names: ${JSON.stringify(names)}`);
    assert(names.includes('it\'s "quoted" & <b>bold</b>'), `names: ${JSON.stringify(names)}`);
    assert(names.includes('<img src=x onerror=alert(4)>'), `names: ${JSON.stringify(names)}`);
    const svgText = await page.$$eval('#graph svg text', (t) => t.map((e) => e.textContent).join('\n'));
    assert(svgText.includes('<script>alert(1)</script>'), `graph text: ${svgText.slice(0, 300)}`);
    await page.$$eval('details', (d) => d.forEach((e) => { e.open = true; }));
    await shot('console-hostile.png');
    assert(problems.length === 0, problems.join('; '));
  });
} finally {
  if (problems.length) console.error(problems.join('\n'));
  await browser.close();
}
