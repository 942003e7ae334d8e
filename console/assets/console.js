// console.js: keeps an execution's page up to date while the execution runs. The page's
// server-sent event stream (/console/events) says when anything on it changed; this script
// then fetches the page again and swaps in its live sections, keeping the <details> that are
// open and never replacing the callback forms while one of them is being filled in. Every page
// works without it: reloading shows the same.
(function () {
  'use strict';
  var live = document.getElementById('live');
  if (!live || !window.EventSource || !window.fetch || !window.DOMParser) return;
  var busy = false, again = false;

  function openDetails(root) {
    var open = {};
    root.querySelectorAll('details[id][open]').forEach(function (d) { open[d.id] = true; });
    return open;
  }

  function swap(fresh) {
    fresh.querySelectorAll('[data-live]').forEach(function (sec) {
      var old = document.getElementById(sec.id);
      if (!old) return;
      if (old.hasAttribute('data-keep-focus') && old.contains(document.activeElement)) return;
      var open = openDetails(old);
      sec.querySelectorAll('details[id]').forEach(function (d) { if (open[d.id]) d.open = true; });
      old.replaceWith(document.importNode(sec, true));
    });
    live.setAttribute('data-fp', fresh.getAttribute('data-fp') || '');
  }

  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(location.href, { credentials: 'same-origin', cache: 'no-store' })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(new Error('HTTP ' + r.status)); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, 'text/html').getElementById('live');
        if (fresh) swap(fresh);
      })
      .catch(function () { /* the next event tries again */ })
      .then(function () {
        busy = false;
        if (again) { again = false; refresh(); }
      });
  }

  function onEvent(e) {
    var d;
    try { d = JSON.parse(e.data); } catch (err) { return; }
    if (d.fingerprint !== live.getAttribute('data-fp')) refresh();
  }

  var es = new EventSource(live.getAttribute('data-events'));
  es.addEventListener('open', function () { document.body.classList.add('following'); });
  es.addEventListener('update', onEvent);
  es.addEventListener('end', function (e) {
    es.close(); // the execution is over: no reconnecting
    document.body.classList.remove('following');
    onEvent(e);
  });
})();
