/* trajkit view — the page. Plain JavaScript, no dependencies, no network.
 *
 * Data arrives through <script> files that call trajkitData(kind, n, value) (browsers refuse
 * fetch() on file:// pages). Model output is untrusted text: it is only ever put into the page
 * as text nodes (el(), textContent); this file never uses innerHTML, insertAdjacentHTML,
 * document.write or eval.
 *
 * Views (all state is in the URL fragment, so every view can be linked to):
 *   #view=list&q=...&ds=...        the table of trajectories with filters and sorting
 *   #view=traj&id=TRAJECTORY_ID    one trajectory, step by step
 *   #view=compare&a=ID&b=ID        two trajectories of one task side by side (or &task=TASK_ID)
 *   #view=divergence&a=DS&b=DS     where run B first leaves run A's path, across tasks
 */
(function () {
  "use strict";

  var FORMAT_VERSION = 1;
  var PAGE_SIZES = [25, 50, 100, 250];
  var KEEP_CHUNKS = 40;
  var REASONS = {
    ended: "stopped: no step here",
    continued: "went on after the reference stopped",
    answered: "answered differently",
    different_action: "different action",
  };

  var app = {
    idx: null, n: 0, cols: null, chunks: new Map(), loading: new Map(), divergence: null,
    sortCache: new Map(), ranks: new Map(), lastList: "#view=list",
    perf: { filterRuns: 0 },
  };
  window.trajkitPerf = app.perf;

  // ------------------------------------------------------------------ DOM (text only)

  function el(tag, props) {
    var node = document.createElement(tag);
    if (props) {
      Object.keys(props).forEach(function (k) {
        var v = props[k];
        if (v === undefined || v === null || v === false) return;
        if (k === "class") node.className = v;
        else if (k === "text") node.textContent = String(v);
        else if (k.slice(0, 2) === "on") node.addEventListener(k.slice(2), v);
        else if (k === "value") node.value = v;
        else if (k === "checked") node.checked = !!v;
        else node.setAttribute(k, v === true ? "" : String(v));
      });
    }
    for (var i = 2; i < arguments.length; i++) add(node, arguments[i]);
    return node;
  }

  function add(node, child) {
    if (child === undefined || child === null || child === false) return;
    if (Array.isArray(child)) { child.forEach(function (c) { add(node, c); }); return; }
    node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }

  function fmtInt(v) { return v === null || v === undefined || v < 0 ? "—" : Number(v).toLocaleString("en"); }
  function fmtNum(v, digits) {
    if (v === null || v === undefined || isNaN(v)) return "—";
    return Number(v).toFixed(digits === undefined ? 2 : digits);
  }
  function fmtMs(ms) {
    if (ms === null || ms === undefined) return null;
    return ms >= 1000 ? (ms / 1000).toFixed(1) + " s" : Math.round(ms) + " ms";
  }
  function shorten(text, n) {
    text = text === null || text === undefined ? "" : String(text);
    return text.length > n ? text.slice(0, n - 1) + "…" : text;
  }
  function pretty(name) { return String(name || "").replace(/_/g, " "); }
  function hashFor(params) {
    var p = new URLSearchParams();
    Object.keys(params).forEach(function (k) {
      if (params[k] !== "" && params[k] !== null && params[k] !== undefined) p.set(k, params[k]);
    });
    return "#" + p.toString();
  }
  function params() { return new URLSearchParams(location.hash.replace(/^#/, "")); }

  // A trajectory is named by its id and its dataset's name: the same trajectory may be in two
  // datasets given together (a dataset and a filtered copy of it).
  function findRow(id, dsName) {
    var r = app.idRow.get(id);
    if (r === undefined || !dsName) return r;
    var ds = app.dsNo.get(dsName);
    if (ds === undefined || app.cols.ds[r] === ds) return r;
    var ids = app.idx.rows.id;
    for (var i = 0; i < app.n; i++) if (app.cols.ds[i] === ds && ids[i] === id) return i;
    return r;
  }
  function dsName(r) { return app.idx.datasets[app.cols.ds[r]].name; }
  function trajHash(r) { return hashFor({ view: "traj", id: app.idx.rows.id[r], ds: dsName(r) }); }
  function compareHash(a, b) {
    return hashFor({ view: "compare", a: app.idx.rows.id[a], da: dsName(a), b: app.idx.rows.id[b], db: dsName(b) });
  }

  // ------------------------------------------------------------------ messages

  function banner(level, text) {
    var box = document.getElementById("problems");
    box.appendChild(el("div", { class: "problem " + level }, text));
  }

  function fatal(text) {
    var main = clear(document.getElementById("app"));
    main.appendChild(el("div", { class: "problem error fatal" }, text));
  }

  window.addEventListener("error", function (e) {
    banner("error", "The viewer hit an error: " + (e.message || e.type) + ". Please report it with the command that wrote this page.");
  });
  window.addEventListener("unhandledrejection", function (e) {
    var reason = e.reason && e.reason.message ? e.reason.message : String(e.reason);
    banner("error", reason);
  });

  window.trajkitMissing = function (file) {
    fatal("The page data (" + file + ") is missing or unreadable. Write the view again: trajkit view DATASET... --out DIR");
  };

  // ------------------------------------------------------------------ data files

  window.trajkitData = function (kind, number, value) {
    if (kind === "index") start(value);
    else if (kind === "detail") app.chunks.set(number, value);
    else if (kind === "divergence") app.divergence = value;
  };

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var s = document.createElement("script");
      s.src = src;
      s.onload = function () { s.remove(); resolve(); };
      s.onerror = function () {
        s.remove();
        reject(new Error("Could not load " + src + ": the file is missing from the view folder. Write the view again."));
      };
      document.head.appendChild(s);
    });
  }

  function pad5(n) { return ("0000" + n).slice(-5); }

  function chunk(number) {
    if (app.chunks.has(number)) return Promise.resolve(app.chunks.get(number));
    if (!app.loading.has(number)) {
      var p = loadScript("data/detail-" + pad5(number) + ".js").then(function () {
        app.loading.delete(number);
        if (!app.chunks.has(number)) throw new Error("data/detail-" + pad5(number) + ".js holds no data");
        if (app.chunks.size > KEEP_CHUNKS) app.chunks.delete(app.chunks.keys().next().value);
        return app.chunks.get(number);
      }, function (err) { app.loading.delete(number); throw err; });
      app.loading.set(number, p);
    }
    return app.loading.get(number);
  }

  function detail(row) {
    var size = app.idx.chunk;
    return chunk(Math.floor(row / size)).then(function (rows) {
      var t = rows[row % size];
      if (!t || t.row !== row) throw new Error("The view's data files do not match each other; write the view again.");
      return t;
    });
  }

  function divergenceData() {
    if (app.divergence) return Promise.resolve(app.divergence);
    return loadScript("data/divergence.js").then(function () { return app.divergence || { pairs: [] }; });
  }

  // ------------------------------------------------------------------ start

  function start(idx) {
    if (!idx || idx.format !== "trajkit-view") {
      fatal("data/index.js is not trajkit view data. Write the view again: trajkit view DATASET... --out DIR");
      return;
    }
    if (idx.format_version > FORMAT_VERSION) {
      fatal("This page data was written by a newer trajkit (view format v" + idx.format_version +
        "); this page reads v" + FORMAT_VERSION + ". Write the view again with this trajkit.");
      return;
    }
    app.idx = idx;
    try {
      prepare(idx);
    } catch (err) {
      fatal("The page data is damaged (" + err.message + "). Write the view again.");
      return;
    }
    (idx.problems || []).forEach(function (p) {
      banner(p.level || "warning", (p.dataset ? p.dataset + ": " : "") + p.message);
    });
    var meta = document.getElementById("meta");
    meta.textContent = fmtInt(app.n) + (app.n === 1 ? " trajectory · " : " trajectories · ") + idx.datasets.length + " dataset" +
      (idx.datasets.length === 1 ? "" : "s") + " · " + fmtInt(idx.tasks.id.length) + " tasks";
    window.addEventListener("hashchange", route);
    route();
    app.perf.readyMs = performance.now();
  }

  function prepare(idx) {
    var R = idx.rows;
    var n = R.id.length;
    var cols = {};
    ["ds", "task", "sample", "source", "domain", "status", "correct", "steps", "tokens", "errors", "nerr"].forEach(function (k) {
      if (!R[k] || R[k].length !== n) throw new Error("column " + k + " is missing or has the wrong length");
      cols[k] = Int32Array.from(R[k]);
    });
    app.n = n;
    app.cols = cols;
    app.idRow = new Map();
    for (var i = 0; i < n; i++) app.idRow.set(R.id[i], i);
    var tasks = idx.tasks.id.length;
    app.taskRows = new Array(tasks);
    for (var t = 0; t < tasks; t++) app.taskRows[t] = [];
    for (i = 0; i < n; i++) app.taskRows[cols.task[i]].push(i);
    app.taskNo = new Map();
    idx.tasks.id.forEach(function (id, k) { app.taskNo.set(id, k); });
    app.qLower = idx.tasks.question.map(function (q) { return (q || "").toLowerCase(); });
    app.dsNo = new Map();
    idx.datasets.forEach(function (d, k) { app.dsNo.set(d.name, k); d.n = 0; d.correct = 0; d.graded = 0; d.answered = 0; });
    var answered = idx.dicts.status.indexOf("answered");
    for (i = 0; i < n; i++) {
      var d = idx.datasets[cols.ds[i]];
      d.n++;
      if (cols.correct[i] >= 0) { d.graded++; d.correct += cols.correct[i]; }
      if (cols.status[i] === answered) d.answered++;
    }
  }

  // ------------------------------------------------------------------ routing

  function route() {
    var p = params();
    var view = p.get("view") || "list";
    document.querySelectorAll("header nav a").forEach(function (a) { a.classList.remove("active"); });
    var nav = document.getElementById("nav-" + (view === "divergence" ? "divergence" : "list"));
    if (nav) nav.classList.add("active");
    var main = clear(document.getElementById("app"));
    if (view === "traj") return viewTrajectory(main, p);
    if (view === "compare") return viewCompare(main, p);
    if (view === "divergence") return viewDivergence(main, p);
    return viewList(main, p);
  }

  // ------------------------------------------------------------------ the table

  var FILTER_KEYS = ["ds", "source", "domain", "outcome", "error", "smin", "smax", "tmin", "tmax", "q", "task"];
  var COLUMNS = [
    { key: "ds", label: "dataset" },
    { key: "question", label: "question" },
    { key: "source", label: "source" },
    { key: "outcome", label: "outcome" },
    { key: "final", label: "final answer" },
    { key: "steps", label: "steps", num: true },
    { key: "tokens", label: "tokens", num: true },
    { key: "nerr", label: "errors", num: true },
    { key: "sample", label: "sample", num: true },
  ];

  function listState(p) {
    var s = {};
    FILTER_KEYS.forEach(function (k) { s[k] = p.get(k) || ""; });
    s.sort = p.get("sort") || "";
    s.dir = p.get("dir") === "desc" ? "desc" : "asc";
    s.page = Math.max(1, parseInt(p.get("page") || "1", 10) || 1);
    s.size = PAGE_SIZES.indexOf(parseInt(p.get("size"), 10)) >= 0 ? parseInt(p.get("size"), 10) : 50;
    return s;
  }

  function listHash(s) {
    var out = { view: "list" };
    FILTER_KEYS.forEach(function (k) { out[k] = s[k]; });
    out.sort = s.sort;
    out.dir = s.sort && s.dir === "desc" ? "desc" : "";
    out.page = s.page > 1 ? s.page : "";
    out.size = s.size !== 50 ? s.size : "";
    return hashFor(out);
  }

  function dictIndex(name, value) {
    if (!value) return -1;
    var k = app.idx.dicts[name].indexOf(value);
    return k < 0 ? -2 : k;
  }

  function compile(s) {
    var c = { ds: null, source: dictIndex("source", s.source), domain: dictIndex("domain", s.domain) };
    if (s.ds) {
      c.ds = new Uint8Array(app.idx.datasets.length);
      s.ds.split(",").forEach(function (name) { var k = app.dsNo.get(name); if (k !== undefined) c.ds[k] = 1; });
    }
    c.correct = -9; c.status = -1;
    if (s.outcome === "correct") c.correct = 1;
    else if (s.outcome === "wrong") c.correct = 0;
    else if (s.outcome === "ungraded") c.correct = -1;
    else if (s.outcome.indexOf("status:") === 0) c.status = dictIndex("status", s.outcome.slice(7));
    c.errMode = s.error === "none" ? 1 : s.error === "any" ? 2 : s.error ? 3 : 0;
    if (c.errMode === 3) {
      var bit = app.idx.dicts.error.indexOf(s.error);
      c.errBit = bit < 0 ? 0 : 1 << Math.min(bit, 30);
    }
    function num(v) { var x = parseInt(v, 10); return isNaN(x) ? null : x; }
    c.smin = num(s.smin); c.smax = num(s.smax); c.tmin = num(s.tmin); c.tmax = num(s.tmax);
    c.task = s.task ? (app.taskNo.has(s.task) ? app.taskNo.get(s.task) : -2) : -1;
    c.q = s.q.trim().toLowerCase();
    if (c.q) {
      var tasks = app.qLower.length;
      c.taskMatch = new Uint8Array(tasks);
      for (var t = 0; t < tasks; t++) if (app.qLower[t].indexOf(c.q) >= 0) c.taskMatch[t] = 1;
      if (!app.finalLower) app.finalLower = app.idx.rows.final.map(function (f) { return f === null ? "" : String(f).toLowerCase(); });
    }
    return c;
  }

  function rank(name) {
    // a rank per row for sorting by a text column (question, final answer, dataset label)
    if (app.ranks.has(name)) return app.ranks.get(name);
    var values, per;
    if (name === "question") { values = app.qLower; per = app.cols.task; }
    else if (name === "source" || name === "domain") { values = app.idx.dicts[name]; per = app.cols[name]; }
    else if (name === "ds") { values = app.idx.datasets.map(function (d) { return d.name; }); per = app.cols.ds; }
    var order = values.map(function (_, k) { return k; }).sort(function (a, b) {
      return values[a] < values[b] ? -1 : values[a] > values[b] ? 1 : a - b;
    });
    var byValue = new Int32Array(values.length);
    order.forEach(function (v, r) { byValue[v] = r; });
    var out = new Int32Array(app.n);
    for (var i = 0; i < app.n; i++) out[i] = byValue[per[i]];
    app.ranks.set(name, out);
    return out;
  }

  function sortKey(name) {
    var cols = app.cols, n = app.n, key;
    if (name === "question" || name === "source" || name === "ds") return rank(name);
    if (name === "outcome") {
      key = new Int32Array(n);
      for (var i = 0; i < n; i++) key[i] = (cols.correct[i] + 1) * 1000 + cols.status[i];
      return key;
    }
    if (name === "final") {
      var finals = app.idx.rows.final;
      var order = Array.from({ length: n }, function (_, k) { return k; }).sort(function (a, b) {
        var x = finals[a] || "", y = finals[b] || "";
        return x < y ? -1 : x > y ? 1 : a - b;
      });
      key = new Int32Array(n);
      order.forEach(function (r, k) { key[r] = k; });
      return key;
    }
    return cols[name];
  }

  function sortedRows(s) {
    var id = s.sort ? s.sort + ":" + s.dir : "";
    if (app.sortCache.has(id)) return app.sortCache.get(id);
    var order = new Int32Array(app.n);
    for (var i = 0; i < app.n; i++) order[i] = i;
    if (s.sort) {
      var key = sortKey(s.sort), sign = s.dir === "desc" ? -1 : 1;
      order.sort(function (a, b) { return sign * (key[a] - key[b]) || a - b; });
    }
    app.sortCache.clear();
    app.sortCache.set(id, order);
    return order;
  }

  function filterRows(c, order) {
    var cols = app.cols, code = app.idx.rows.code, ids = app.idx.rows.id, finals = app.finalLower;
    var out = new Int32Array(order.length), m = 0;
    for (var k = 0; k < order.length; k++) {
      var r = order[k];
      if (c.ds && !c.ds[cols.ds[r]]) continue;
      if (c.task !== -1 && cols.task[r] !== c.task) continue;
      if (c.source !== -1 && cols.source[r] !== c.source) continue;
      if (c.domain !== -1 && cols.domain[r] !== c.domain) continue;
      if (c.correct !== -9 && cols.correct[r] !== c.correct) continue;
      if (c.status !== -1 && cols.status[r] !== c.status) continue;
      if (c.errMode === 1 && cols.errors[r] !== 0) continue;
      if (c.errMode === 2 && cols.errors[r] === 0) continue;
      if (c.errMode === 3 && !(cols.errors[r] & c.errBit)) continue;
      if (c.smin !== null && cols.steps[r] < c.smin) continue;
      if (c.smax !== null && cols.steps[r] > c.smax) continue;
      if (c.tmin !== null && cols.tokens[r] < c.tmin) continue;
      if (c.tmax !== null && cols.tokens[r] > c.tmax) continue;
      if (c.q && !c.taskMatch[cols.task[r]] && code[r].indexOf(c.q) < 0 &&
          ids[r].indexOf(c.q) !== 0 && finals[r].indexOf(c.q) < 0) continue;
      out[m++] = r;
    }
    return out.subarray(0, m);
  }

  function viewList(main, p) {
    app.lastList = location.hash || "#view=list";
    var s = listState(p);
    var idx = app.idx;
    main.appendChild(datasetSummary());
    if (app.n === 0) {
      main.appendChild(el("div", { class: "empty" },
        el("h2", null, "No trajectories to show"),
        el("p", null, idx.datasets.length
          ? "Every dataset given is empty. Build or import trajectories first (trajkit build, trajkit import)."
          : "None of the datasets given could be read; the messages above say why.")));
      return;
    }
    var form = el("form", { class: "filters", onsubmit: function (e) { e.preventDefault(); } });
    var refresh = function () { s.page = 1; update(); };
    function select(name, label, options) {
      var sel = el("select", { name: name, "aria-label": label, onchange: function () { s[name] = sel.value; refresh(); } },
        options.map(function (o) { return el("option", { value: o[0] }, o[1]); }));
      sel.value = s[name];
      if (sel.value !== s[name]) sel.value = "";
      return el("label", null, el("span", null, label), sel);
    }
    function number(name, placeholder) {
      var input = el("input", { type: "number", min: "0", name: name, placeholder: placeholder, value: s[name],
        oninput: debounce(function () { s[name] = input.value; refresh(); }, 250) });
      return input;
    }
    var dsBox = el("fieldset", { class: "ds-filter" }, el("legend", null, "datasets"));
    var chosen = s.ds ? s.ds.split(",") : [];
    idx.datasets.forEach(function (d) {
      var box = el("input", { type: "checkbox", name: "ds", value: d.name, checked: !chosen.length || chosen.indexOf(d.name) >= 0,
        onchange: function () {
          var on = Array.prototype.filter.call(dsBox.querySelectorAll("input"), function (b) { return b.checked; })
            .map(function (b) { return b.value; });
          s.ds = on.length === idx.datasets.length ? "" : on.join(",") || "(none)";
          refresh();
        } });
      dsBox.appendChild(el("label", { class: "check" }, box, d.name));
    });
    var search = el("input", { type: "search", name: "q", placeholder: "search questions, code, answers, ids", value: s.q,
      "aria-label": "search", oninput: debounce(function () { s.q = search.value; refresh(); }, 150) });
    var errors = [["", "any or none"], ["none", "no errors"], ["any", "any error"]].concat(
      idx.dicts.error.map(function (e) { return [e, pretty(e)]; }));
    var outcomes = [["", "all"], ["correct", "correct"], ["wrong", "wrong"], ["ungraded", "ungraded"]].concat(
      idx.dicts.status.map(function (st) { return ["status:" + st, "status: " + pretty(st)]; }));
    add(form, [
      el("label", { class: "grow" }, el("span", null, "search"), search),
      select("source", "source", [["", "all"]].concat(idx.dicts.source.map(function (v) { return [v, v || "—"]; }))),
      select("domain", "domain", [["", "all"]].concat(idx.dicts.domain.map(function (v) { return [v, v || "—"]; }))),
      select("outcome", "outcome", outcomes),
      select("error", "step errors", errors),
      el("label", null, el("span", null, "steps"), el("span", { class: "range" }, number("smin", "min"), "–", number("smax", "max"))),
      el("label", null, el("span", null, "tokens"), el("span", { class: "range" }, number("tmin", "min"), "–", number("tmax", "max"))),
      el("button", { type: "button", class: "reset", onclick: function () {
        if (location.hash === "#view=list") route(); else location.hash = "#view=list";
      } }, "reset"),
      idx.datasets.length > 1 ? dsBox : null,
    ]);
    main.appendChild(form);
    var chip = el("div", { class: "chips" });
    main.appendChild(chip);
    var count = el("div", { class: "count", id: "count", "aria-live": "polite" });
    main.appendChild(count);
    var thead = el("tr");
    var table = el("table", { class: "trajs" }, el("thead", null, thead));
    var tbody = el("tbody", { id: "rows" });
    table.appendChild(tbody);
    main.appendChild(el("div", { class: "table-wrap" }, table));
    var pager = el("div", { class: "pager" });
    main.appendChild(pager);

    function header() {
      clear(thead);
      thead.appendChild(el("th", { class: "mark", "aria-label": "verdict" }));
      COLUMNS.forEach(function (col) {
        var active = s.sort === col.key;
        var arrow = active ? (s.dir === "desc" ? " ▼" : " ▲") : "";
        thead.appendChild(el("th", { class: (col.num ? "num " : "") + (active ? "sorted" : "") },
          el("button", { type: "button", class: "sort", "data-key": col.key, onclick: function () {
            var first = col.num ? "desc" : "asc";  // click: first order, the other order, unsorted
            if (s.sort !== col.key) { s.sort = col.key; s.dir = first; }
            else if (s.dir === first) s.dir = first === "asc" ? "desc" : "asc";
            else { s.sort = ""; s.dir = "asc"; }
            s.page = 1; update();
          } }, col.label + arrow)));
      });
    }

    function update() {
      var t0 = performance.now();
      history.replaceState(null, "", listHash(s));
      app.lastList = location.hash;
      var rows = filterRows(compile(s), sortedRows(s));
      header();
      renderChips();
      renderRows(rows);
      app.perf.filterMs = performance.now() - t0;
      app.perf.filterRuns++;
      app.perf.matched = rows.length;
    }

    function renderChips() {
      clear(chip);
      if (s.task) {
        var no = app.taskNo.get(s.task);
        chip.appendChild(el("span", { class: "chip" }, "task: ", no === undefined ? s.task : shorten(idx.tasks.question[no], 80), " ",
          el("button", { type: "button", "aria-label": "remove the task filter", onclick: function () { s.task = ""; refresh(); } }, "×")));
        if (no !== undefined && app.taskRows[no].length > 1) {
          chip.appendChild(el("a", { class: "button", href: hashFor({ view: "compare", task: s.task }) }, "compare runs side by side"));
        }
      }
    }

    function renderRows(rows) {
      var pages = Math.max(1, Math.ceil(rows.length / s.size));
      if (s.page > pages) s.page = pages;
      var from = (s.page - 1) * s.size, to = Math.min(rows.length, from + s.size);
      count.textContent = rows.length === app.n
        ? fmtInt(app.n) + (app.n === 1 ? " trajectory" : " trajectories")
        : fmtInt(rows.length) + " of " + fmtInt(app.n) + " trajectories match";
      clear(tbody);
      var frag = document.createDocumentFragment();
      for (var k = from; k < to; k++) frag.appendChild(tableRow(rows[k]));
      tbody.appendChild(frag);
      if (!rows.length) {
        tbody.appendChild(el("tr", null, el("td", { colspan: COLUMNS.length + 1, class: "none" }, "No trajectory matches these filters.")));
      }
      clear(pager);
      function go(page) { return function () { s.page = page; update(); window.scrollTo(0, 0); }; }
      add(pager, [
        el("button", { type: "button", disabled: s.page <= 1, onclick: go(1) }, "« first"),
        el("button", { type: "button", disabled: s.page <= 1, onclick: go(s.page - 1) }, "‹ previous"),
        el("span", { class: "where" }, rows.length ? "rows " + fmtInt(from + 1) + "–" + fmtInt(to) + " · page " + s.page + " of " + pages : ""),
        el("button", { type: "button", disabled: s.page >= pages, onclick: go(s.page + 1) }, "next ›"),
        el("button", { type: "button", disabled: s.page >= pages, onclick: go(pages) }, "last »"),
      ]);
      var size = el("select", { "aria-label": "rows per page", onchange: function () { s.size = parseInt(size.value, 10); s.page = 1; update(); } },
        PAGE_SIZES.map(function (n) { return el("option", { value: n }, n + " per page"); }));
      size.value = String(s.size);
      pager.appendChild(size);
    }

    header();
    update();
  }

  function verdict(correct) {
    if (correct === 1 || correct === true) return el("span", { class: "verdict ok", title: "correct" }, "✓");
    if (correct === 0 || correct === false) return el("span", { class: "verdict bad", title: "wrong" }, "✗");
    return el("span", { class: "verdict none", title: "ungraded" }, "·");
  }

  function tableRow(r) {
    var idx = app.idx, cols = app.cols;
    var href = trajHash(r);
    var task = cols.task[r];
    var errs = cols.nerr[r];
    var firstErr = "";
    if (errs) {
      for (var b = 0; b < idx.dicts.error.length && b <= 30; b++) {
        if (cols.errors[r] & (1 << b)) { firstErr = pretty(idx.dicts.error[b]); break; }
      }
    }
    return el("tr", { "data-row": r },
      el("td", { class: "mark" }, verdict(cols.correct[r])),
      el("td", { class: "ds" }, idx.datasets[cols.ds[r]].name),
      el("td", { class: "question" }, el("a", { href: href }, shorten(idx.tasks.question[task] || "(no question)", 160))),
      el("td", { class: "source" }, idx.dicts.source[cols.source[r]] || "—", el("small", null, " " + (idx.dicts.domain[cols.domain[r]] || ""))),
      el("td", { class: "status status-" + idx.dicts.status[cols.status[r]] }, pretty(idx.dicts.status[cols.status[r]])),
      el("td", { class: "final" }, idx.rows.final[r] === null ? el("span", { class: "muted" }, "—") : shorten(idx.rows.final[r], 60)),
      el("td", { class: "num" }, fmtInt(cols.steps[r])),
      el("td", { class: "num" }, fmtInt(cols.tokens[r])),
      el("td", { class: "num errors" }, errs ? errs + " " : "", errs ? el("small", null, firstErr) : el("span", { class: "muted" }, "0")),
      el("td", { class: "num" }, cols.sample[r]));
  }

  function datasetSummary() {
    var box = el("div", { class: "datasets" });
    app.idx.datasets.forEach(function (d) {
      var acc = d.graded ? (100 * d.correct / d.graded).toFixed(1) + "% correct" : "ungraded";
      box.appendChild(el("div", { class: "dataset" },
        el("strong", null, d.name),
        el("span", null, (d.kinds || []).join(", ") + (d.models && d.models.length ? " · " + d.models.join(", ") : "")),
        el("span", null, fmtInt(d.n) + " trajectories · " + acc + " · " + fmtInt(d.answered) + " answered" +
          (d.sag_n && d.sag_n.some(function (x) { return x > 1; }) ? " · SAG n=" + d.sag_n.join("/") : ""))));
    });
    return box;
  }

  function debounce(fn, ms) {
    var timer = null;
    return function () { clearTimeout(timer); timer = setTimeout(fn, ms); };
  }

  // ------------------------------------------------------------------ Python highlighting

  var KEYWORDS = new Set(("False None True and as assert async await break class continue def del elif else except " +
    "finally for from global if import in is lambda nonlocal not or pass raise return try while with yield match case").split(" "));
  var BUILTINS = new Set(("print len range int float str list dict set tuple sorted sum min max abs round enumerate zip " +
    "map filter any all open isinstance type repr bool reversed divmod pow final_answer search").split(" "));
  var TOKEN = /(#[^\n]*)|([rRbBuUfF]{0,2}(?:"""[\s\S]*?(?:"""|$)|'''[\s\S]*?(?:'''|$)|"(?:\\.|[^"\\\n])*"?|'(?:\\.|[^'\\\n])*'?))|(\b\d[\d_]*(?:\.\d+)?(?:[eE][+-]?\d+)?j?\b)|([A-Za-z_][A-Za-z0-9_]*)|(\n)|([^\S\n]+|[^\sA-Za-z0-9_#'"]+)/g;

  var CALL = /[^\S\n]*\(/y;

  function highlight(code, errorLine) {
    var pre = el("pre", { class: "code" });
    var line = 1, current = el("span", { class: "line", "data-n": line });
    if (errorLine === 1) current.classList.add("error-line");
    pre.appendChild(current);
    function newLine() {
      line++;
      current = el("span", { class: "line", "data-n": line });
      if (errorLine === line) current.classList.add("error-line");
      pre.appendChild(current);
    }
    function put(text, cls) {
      var parts = text.split("\n");
      parts.forEach(function (part, k) {
        if (k > 0) newLine();
        if (part) current.appendChild(cls ? el("span", { class: cls }, part) : document.createTextNode(part));
      });
    }
    var m;
    TOKEN.lastIndex = 0;
    var last = 0;
    while ((m = TOKEN.exec(code)) !== null) {
      if (m.index > last) put(code.slice(last, m.index), null);
      if (m[0] === "") { TOKEN.lastIndex++; continue; }
      last = TOKEN.lastIndex;
      if (m[1]) put(m[1], "tok-comment");
      else if (m[2]) put(m[2], "tok-string");
      else if (m[3]) put(m[3], "tok-number");
      else if (m[4]) {
        var word = m[4];
        CALL.lastIndex = TOKEN.lastIndex;
        var call = CALL.test(code);
        put(word, KEYWORDS.has(word) ? "tok-keyword" : BUILTINS.has(word) ? "tok-builtin" : call ? "tok-call" : null);
      } else if (m[5]) newLine();
      else put(m[6], null);
    }
    if (last < code.length) put(code.slice(last), null);
    return pre;
  }

  // ------------------------------------------------------------------ one trajectory

  function textBlock(cls, text, limit) {
    var pre = el("pre", { class: cls }, text);
    limit = limit || 1500;
    if (text && (text.length > limit || text.split("\n").length > 30)) {
      pre.classList.add("collapsed");
      var button = el("button", { type: "button", class: "more", onclick: function () {
        pre.classList.toggle("collapsed");
        button.textContent = pre.classList.contains("collapsed") ? "show all" : "show less";
      } }, "show all");
      return el("div", { class: "block" }, pre, button);
    }
    return pre;
  }

  function field(label, value, cls) {
    return el("div", { class: "field " + (cls || "") }, el("span", { class: "label" }, label),
      el("span", { class: "value" }, value === null || value === undefined || value === "" ? el("span", { class: "muted" }, "—") : value));
  }

  function parseJson(text) {
    try { return JSON.parse(text); } catch (e) { return null; }
  }

  function toolCall(call) {
    var args = parseJson(call.arguments);
    var box = el("div", { class: "tool" });
    var argText = args && typeof args === "object" && !Array.isArray(args)
      ? Object.keys(args).map(function (k) { return typeof args[k] === "string" ? args[k] : JSON.stringify(args[k]); }).join(", ")
      : (call.arguments || "");
    box.appendChild(el("div", { class: "tool-head" }, el("span", { class: "tool-name" }, call.name || "tool"),
      el("span", { class: "tool-args" }, "(" + shorten(argText, 300) + ")"),
      call.latency_ms !== null && call.latency_ms !== undefined ? el("small", null, " " + fmtMs(call.latency_ms)) : null));
    if (call.retrieved && call.retrieved.length) {
      box.appendChild(el("ol", { class: "docs" }, call.retrieved.map(function (d) {
        return el("li", null, el("span", { class: "doc-title" }, d[1] || d[0] || "(untitled)"),
          el("small", null, " " + (d[0] || "") + (d[2] !== null && d[2] !== undefined ? " · score " + fmtNum(d[2]) : "")));
      })));
    }
    if (call.output) box.appendChild(textBlock("obs", call.output, 600));
    if (call.error) box.appendChild(el("div", { class: "error-box" }, "tool error: ", call.error));
    return box;
  }

  function errorBox(error) {
    if (!error) return null;
    return el("div", { class: "error-box" },
      el("span", { class: "error-type" }, pretty(error.type || "error")),
      error.exception ? el("span", { class: "exception" }, " " + error.exception) : null,
      error.line ? el("span", { class: "muted" }, " (line " + error.line + ")") : null,
      error.message ? el("div", { class: "error-message" }, error.message) : null);
  }

  function candidateVerdict(c) {
    if (c.selected) return el("span", { class: "badge ok" }, "selected");
    if (!c.parse_ok) return el("span", { class: "badge bad" }, "parse failed");
    if (!c.exec_ok) return el("span", { class: "badge bad" }, "execution failed" + (c.error && c.error.type ? ": " + pretty(c.error.type) : ""));
    return el("span", { class: "badge muted" }, "outvoted");
  }

  function voteText(key) {
    if (key.indexOf("output:") === 0) return el("span", null, "printed ", el("code", null, shorten(key.slice(7), 120) || "nothing"));
    if (key.indexOf("answer:") === 0) return el("span", null, "answer ", el("code", null, shorten(key.slice(7), 120)));
    return shorten(key, 160);
  }

  function candidates(list) {
    if (!list || !list.length) return null;
    var chosen = list.filter(function (c) { return c.selected; })[0];
    var voters = list.filter(function (c) { return c.vote_key; }).length;
    var summary = list.length + " candidates (self-consistent action generation)" + (chosen
      ? ": #" + chosen.index + " chosen with " + (chosen.votes || 0) + " of " + voters + " votes"
      : ": none chosen");
    var table = el("table", { class: "cands" }, el("thead", null, el("tr", null,
      ["#", "verdict", "votes", "voted with", "code"].map(function (h) { return el("th", null, h); }))));
    var body = el("tbody");
    list.forEach(function (c) {
      var code = c.code ? highlight(c.code, c.error && c.error.line) : textBlock("raw", c.raw_output || "", 400);
      body.appendChild(el("tr", { class: c.selected ? "selected" : "" },
        el("td", null, c.index),
        el("td", null, candidateVerdict(c), c.error && c.error.message ? el("div", { class: "muted small" }, shorten(c.error.message, 160)) : null),
        el("td", { class: "num" }, c.vote_key ? c.votes : "—"),
        el("td", { class: "vote" }, c.final_answer !== null && c.final_answer !== undefined
          ? el("span", null, "answer ", el("code", null, shorten(c.final_answer, 120)))
          : c.vote_key ? voteText(c.vote_key) : el("span", { class: "muted" }, "cannot vote")),
        el("td", { class: "cand-code" }, code)));
    });
    table.appendChild(body);
    return el("details", { class: "candidates", open: list.length <= 8 }, el("summary", null, summary), table);
  }

  function stepCard(step, opts) {
    opts = opts || {};
    var head = el("div", { class: "step-head" }, el("h3", null, "Step " + step.index));
    var badges = el("span", { class: "badges" });
    if (step.error && step.error.type) badges.appendChild(el("span", { class: "badge bad" }, pretty(step.error.type)));
    if (step.final_answer !== null && step.final_answer !== undefined) badges.appendChild(el("span", { class: "badge ok" }, "final answer"));
    if (step.train === false) badges.appendChild(el("span", { class: "badge muted" }, "no loss"));
    var tokens = [];
    if (step.prompt_tokens !== null && step.prompt_tokens !== undefined) tokens.push(fmtInt(step.prompt_tokens) + " prompt");
    if (step.completion_tokens !== null && step.completion_tokens !== undefined) tokens.push(fmtInt(step.completion_tokens) + " completion tokens");
    if (step.latency_ms !== null && step.latency_ms !== undefined) tokens.push(fmtMs(step.latency_ms));
    add(head, [badges, el("span", { class: "step-usage" }, tokens.join(" · "))]);
    var card = el("section", { class: "step" + (step.error ? " has-error" : ""), id: opts.idPrefix ? opts.idPrefix + step.index : null }, head);
    if (step.prefix) card.appendChild(el("div", { class: "prefix" }, el("span", { class: "label" }, "first-thought prefix "), step.prefix));
    if (step.thought) card.appendChild(el("p", { class: "thought" }, el("span", { class: "label" }, "Thought "), step.thought));
    if (step.code) card.appendChild(highlight(step.code, step.error && step.error.line));
    if (!step.thought && !step.code && step.raw_output) {
      card.appendChild(el("div", { class: "label" }, "model output (no thought or code could be parsed)"));
      card.appendChild(textBlock("raw", step.raw_output));
    }
    var calls = (step.tool_calls || []).filter(function (c) { return c.name !== "python_interpreter" || c.error || c.output; });
    if (calls.length) card.appendChild(el("div", { class: "tools" }, calls.map(toolCall)));
    if (step.observation) {
      card.appendChild(el("div", { class: "label" }, "Observation"));
      card.appendChild(textBlock("obs", step.observation, opts.compact ? 600 : 1500));
    }
    add(card, errorBox(step.error));
    if (step.final_answer !== null && step.final_answer !== undefined) {
      card.appendChild(el("div", { class: "answer-line" }, el("span", { class: "label" }, "final_answer "), el("code", null, step.final_answer)));
    }
    if (!opts.compact) add(card, candidates(step.candidates));
    else if (step.candidates && step.candidates.length) {
      card.appendChild(el("div", { class: "muted small" }, step.candidates.length + " candidates (open the trajectory to see them)"));
    }
    return card;
  }

  function copyButton(text) {
    var button = el("button", { type: "button", class: "copy", onclick: function () {
      var done = function () { button.textContent = "copied"; setTimeout(function () { button.textContent = "copy"; }, 1200); };
      if (navigator.clipboard && navigator.clipboard.writeText) navigator.clipboard.writeText(text).then(done, function () { selectText(button.previousSibling); });
      else selectText(button.previousSibling);
    } }, "copy");
    return button;
  }

  function selectText(node) {
    var range = document.createRange();
    range.selectNodeContents(node);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }

  function shellQuote(s) {
    return /^[A-Za-z0-9_./:=@+-]+$/.test(s) ? s : "'" + String(s).replace(/'/g, "'\\''") + "'";
  }

  function outcomeBox(t) {
    var o = t.outcome || {};
    var gold = t.gold;
    var aliases = (t.gold_aliases || []).filter(function (a) { return a !== gold; });
    return el("div", { class: "outcome" },
      el("div", { class: "answers" },
        el("div", { class: "answer final" }, el("span", { class: "label" }, "final answer"),
          o.final_answer === null || o.final_answer === undefined ? el("span", { class: "muted" }, "none") : el("code", null, o.final_answer)),
        el("div", { class: "answer gold" }, el("span", { class: "label" }, "gold answer"),
          gold === null || gold === undefined ? el("span", { class: "muted" }, "none") : el("code", null, gold),
          aliases.length ? el("small", null, " also: " + aliases.join(", ")) : null),
        el("div", { class: "answer verdict-box" }, verdict(o.correct), " ",
          o.correct === true ? "correct" : o.correct === false ? "wrong" : "ungraded",
          o.grader ? el("small", null, " · " + o.grader) : null)),
      el("div", { class: "facts" },
        field("status", pretty(o.status)),
        field("steps", fmtInt((t.steps || []).length)),
        field("tokens", t.usage && t.usage.total_tokens !== null && t.usage.total_tokens !== undefined
          ? fmtInt(t.usage.total_tokens) + " (" + fmtInt(t.usage.prompt_tokens) + " prompt, " + fmtInt(t.usage.completion_tokens) + " completion)" : null),
        field("model calls", t.usage ? fmtInt(t.usage.model_calls) : null),
        field("wall time", t.usage && t.usage.wall_time_s !== null && t.usage.wall_time_s !== undefined ? fmtNum(t.usage.wall_time_s, 1) + " s" : null)));
  }

  function provenanceLine(t) {
    var p = t.provenance || {};
    var ds = app.idx.datasets[t.ds];
    var bits = [ds.name, (p.kind || "?") + ": " + (p.model || "?"), p.backend, p.prompt_template ? "prompt " + p.prompt_template : null,
      p.sag_n > 1 ? "SAG n=" + p.sag_n : null, p.first_thought_prefix ? "first-thought prefix" : null,
      p.temperature !== null && p.temperature !== undefined ? "T=" + p.temperature : null, "sample " + t.sample,
      app.idx.dicts.source[app.cols.source[t.row]] + "/" + app.idx.dicts.domain[app.cols.domain[t.row]] + (t.split ? "/" + t.split : "")];
    return el("div", { class: "provenance" }, bits.filter(Boolean).map(function (b) { return el("span", { class: "chip" }, b); }));
  }

  function linksBack(t) {
    var ds = app.idx.datasets[t.ds];
    var command = "trajkit show " + shellQuote(ds.path) + " " + t.id;
    return el("div", { class: "links" },
      el("div", null, el("span", { class: "label" }, "trajectory id "), el("code", { class: "tid" }, t.id), copyButton(t.id)),
      el("div", null, el("span", { class: "label" }, "in the terminal "), el("code", { class: "command" }, command), copyButton(command)));
  }

  function reviewBox(r) {
    if (!r) return null;
    return el("div", { class: "review" }, el("span", { class: "label" }, "review "),
      [r.status, r.label, r.rating !== null && r.rating !== undefined ? "rating " + r.rating : null,
        r.tags && r.tags.length ? "tags: " + r.tags.join(", ") : null, r.annotator ? "by " + r.annotator : null]
        .filter(Boolean).join(" · "),
      r.corrected_answer ? el("div", null, "corrected answer: ", el("code", null, r.corrected_answer)) : null,
      r.comment ? el("div", { class: "comment" }, r.comment) : null);
  }

  function backLink() {
    return el("a", { class: "back", href: app.lastList }, "← trajectories");
  }

  function unknownTrajectory(main, id) {
    main.appendChild(backLink());
    main.appendChild(el("div", { class: "problem warning" }, "No trajectory with id “" + (id || "") + "” in this view."));
  }

  function viewTrajectory(main, p) {
    var id = p.get("id");
    var t0 = performance.now();
    var row = findRow(id, p.get("ds"));
    if (row === undefined) return unknownTrajectory(main, id);
    main.appendChild(el("p", { class: "loading" }, "Loading the trajectory…"));
    detail(row).then(function (t) {
      clear(main);
      main.appendChild(backLink());
      var article = el("article", { class: "trajectory", "data-id": t.id });
      add(article, [
        el("h2", { class: "question" }, t.question || app.idx.tasks.question[t.task] || "(no question)"),
        provenanceLine(t),
        outcomeBox(t),
        linksBack(t),
        reviewBox(t.review),
        otherRuns(t),
      ]);
      var steps = t.steps || [];
      if (!steps.length) article.appendChild(el("div", { class: "problem warning" }, "This trajectory has no steps recorded."));
      steps.forEach(function (step) { article.appendChild(stepCard(step, { idPrefix: "step-" })); });
      main.appendChild(article);
      app.perf.trajectoryMs = performance.now() - t0;
    }, function (err) { clear(main); main.appendChild(backLink()); main.appendChild(el("div", { class: "problem error" }, err.message)); });
  }

  function runLabel(r) {
    var c = app.cols.correct[r];
    return app.idx.datasets[app.cols.ds[r]].name + " · sample " + app.cols.sample[r] + " · " +
      (c === 1 ? "✓ correct" : c === 0 ? "✗ wrong" : "ungraded") + " · " + app.cols.steps[r] + " steps";
  }

  function reference(r, than) {
    // should run r be the reference (A) when compared with run `than`? teacher first, then correct
    var score = function (x) {
      return ((app.idx.datasets[app.cols.ds[x]].kinds || [])[0] === "teacher" ? 2 : 0) + (app.cols.correct[x] === 1 ? 1 : 0);
    };
    return score(r) > score(than);
  }

  function otherRuns(t) {
    var rows = app.taskRows[t.task].filter(function (r) { return r !== t.row; });
    if (!rows.length) return null;
    var list = el("ul", { class: "others" });
    rows.slice(0, 50).forEach(function (r) {
      var id = app.idx.rows.id[r];
      list.appendChild(el("li", null, verdict(app.cols.correct[r]), " ",
        el("a", { href: trajHash(r) }, runLabel(r)), " · ",
        el("a", { class: "compare-link", href: reference(r, t.row) ? compareHash(r, t.row) : compareHash(t.row, r) },
          "compare side by side")));
    });
    if (rows.length > 50) list.appendChild(el("li", { class: "muted" }, (rows.length - 50) + " more in the table"));
    return el("details", { class: "other-runs", open: true },
      el("summary", null, "The same task in " + rows.length + " other trajector" + (rows.length === 1 ? "y" : "ies") + " · ",
        el("a", { href: hashFor({ view: "list", task: app.idx.tasks.id[t.task] }) }, "show them in the table")), list);
  }

  // ------------------------------------------------------------------ side by side

  function divergence(a, b) {
    // mirrors trajkit.view.compare.divergence over the step signatures ("sig") of the page data
    var n = Math.max(a.length, b.length);
    for (var i = 0; i < n; i++) {
      if (i >= b.length) return { step: i, reason: "ended" };
      if (i >= a.length) return { step: i, reason: "continued" };
      if (a[i].sig !== b[i].sig) return { step: i, reason: stepReason(b[i]) };
    }
    return null;
  }

  function stepReason(step) {
    if (step.error && step.error.type) return step.error.type;
    if (step.final_answer !== null && step.final_answer !== undefined) return "answered";
    return "different_action";
  }

  function reasonLabel(reason) { return REASONS[reason] || pretty(reason); }

  function defaultPair(task) {
    var rows = app.taskRows[task] || [];
    if (!rows.length) return null;
    var kinds = app.idx.datasets.map(function (d) { return (d.kinds || [])[0]; });
    var a = rows.filter(function (r) { return kinds[app.cols.ds[r]] === "teacher" && app.cols.correct[r] === 1; })[0];
    if (a === undefined) a = rows.filter(function (r) { return app.cols.correct[r] === 1; })[0];
    if (a === undefined) a = rows[0];
    var b = rows.filter(function (r) { return app.cols.ds[r] !== app.cols.ds[a]; })[0];
    if (b === undefined) b = rows.filter(function (r) { return r !== a; })[0];
    return b === undefined ? null : [a, b];
  }

  function viewCompare(main, p) {
    var t0 = performance.now();
    var a = findRow(p.get("a"), p.get("da")), b = findRow(p.get("b"), p.get("db"));
    if (a === undefined || b === undefined) {
      var task = app.taskNo.get(p.get("task"));
      if (task === undefined && a !== undefined) task = app.cols.task[a];
      var pair = task === undefined ? null : defaultPair(task);
      if (!pair) {
        main.appendChild(backLink());
        main.appendChild(el("div", { class: "problem warning" }, "Nothing to compare: side by side needs two trajectories of the same task (give two runs over the same tasks to trajkit view)."));
        return;
      }
      history.replaceState(null, "", compareHash(pair[0], pair[1]));
      a = pair[0]; b = pair[1];
    }
    main.appendChild(el("p", { class: "loading" }, "Loading both trajectories…"));
    Promise.all([detail(a), detail(b)]).then(function (pair) {
      clear(main);
      renderCompare(main, pair[0], pair[1]);
      app.perf.compareMs = performance.now() - t0;
    }, function (err) { clear(main); main.appendChild(el("div", { class: "problem error" }, err.message)); });
  }

  function renderCompare(main, A, B) {
    main.appendChild(backLink());
    var sameTask = A.task === B.task;
    var article = el("article", { class: "compare" });
    article.appendChild(el("h2", { class: "question" }, A.question || app.idx.tasks.question[A.task] || "(no question)"));
    if (!sameTask) article.appendChild(el("div", { class: "problem warning" }, "These two trajectories are of different tasks."));
    var rows = app.taskRows[A.task];
    function picker(current, other, side) {
      var sel = el("select", { "aria-label": "run " + side, onchange: function () {
        var pick = { a: A.row, b: B.row };
        pick[side] = parseInt(sel.value, 10);
        location.hash = compareHash(pick.a, pick.b);
      } }, rows.map(function (r) { return el("option", { value: r }, runLabel(r)); }));
      sel.value = String(current.row);
      return sel;
    }
    var swap = el("a", { class: "button", href: compareHash(B.row, A.row), title: "use the other run as the reference" }, "⇄ swap");
    var d = divergence(A.steps || [], B.steps || []);
    var grid = el("div", { class: "sbs" });
    add(grid, [
      el("div", { class: "sbs-head" }, el("span", { class: "side" }, "A (reference)"), picker(A, B, "a"),
        el("a", { href: trajHash(A.row) }, "open"), outcomeMini(A)),
      el("div", { class: "sbs-gutter head" }, swap),
      el("div", { class: "sbs-head" }, el("span", { class: "side" }, "B"), picker(B, A, "b"),
        el("a", { href: trajHash(B.row) }, "open"), outcomeMini(B)),
    ]);
    var summary = d
      ? el("div", { class: "divergence-summary diverged" }, "B first leaves A's path at step " + d.step + ": " + reasonLabel(d.reason) + ".",
        el("a", { href: "#div-" + d.step, class: "jump" }, " jump there"))
      : el("div", { class: "divergence-summary same" }, "B never leaves A's path: the same action at every step.");
    article.appendChild(summary);
    var n = Math.max((A.steps || []).length, (B.steps || []).length);
    for (var i = 0; i < n; i++) {
      var sa = (A.steps || [])[i], sb = (B.steps || [])[i];
      if (d && d.step === i) {
        grid.appendChild(el("div", { class: "divergence-mark", id: "div-" + i, role: "note" },
          "▼ first divergence at step " + i + " — B: " + reasonLabel(d.reason)));
      }
      var same = sa && sb && sa.sig === sb.sig;
      var cls = d && i === d.step ? " diverged" : d && i > d.step ? " after" : "";
      grid.appendChild(el("div", { class: "sbs-cell" + cls }, sa ? stepCard(sa, { compact: true }) : el("div", { class: "no-step" }, "no step " + i)));
      grid.appendChild(el("div", { class: "sbs-gutter" + cls, title: same ? "same action" : "different" }, same ? "=" : "≠"));
      grid.appendChild(el("div", { class: "sbs-cell" + cls }, sb ? stepCard(sb, { compact: true }) : el("div", { class: "no-step" }, "no step " + i)));
    }
    article.appendChild(grid);
    var gold = A.gold;
    article.appendChild(el("div", { class: "gold-line" }, el("span", { class: "label" }, "gold answer "),
      gold === null || gold === undefined ? el("span", { class: "muted" }, "none") : el("code", null, gold)));
    main.appendChild(article);
  }

  function outcomeMini(t) {
    var o = t.outcome || {};
    return el("div", { class: "mini-outcome" }, verdict(o.correct), " ", pretty(o.status), " · answer ",
      o.final_answer === null || o.final_answer === undefined ? el("span", { class: "muted" }, "none") : el("code", null, shorten(o.final_answer, 80)),
      " · " + fmtInt((t.steps || []).length) + " steps · " + fmtInt(t.usage ? t.usage.total_tokens : null) + " tokens");
  }

  // ------------------------------------------------------------------ divergence summary

  function viewDivergence(main, p) {
    var t0 = performance.now();
    main.appendChild(el("p", { class: "loading" }, "Loading the divergence data…"));
    divergenceData().then(function (data) {
      clear(main);
      renderDivergence(main, p, data);
      app.perf.divergenceMs = performance.now() - t0;
    }, function (err) { clear(main); main.appendChild(el("div", { class: "problem error" }, err.message)); });
  }

  function renderDivergence(main, p, data) {
    var ds = app.idx.datasets;
    main.appendChild(el("h2", null, "Where runs leave each other"));
    main.appendChild(el("p", { class: "intro" },
      "For every task both runs did, B's trajectories are aligned step by step with A's reference path (A's first correct " +
      "trajectory on the task, else its first). The count is at the first step where B does something else, by what B did there."));
    var pairs = data.pairs || [];
    if (!pairs.length) {
      main.appendChild(el("div", { class: "problem warning" }, ds.length < 2
        ? "Only one dataset is shown: give trajkit view two or more runs over the same tasks (e.g. a teacher run and an eval run)."
        : "No two datasets share a task, so there is nothing to align."));
      return;
    }
    var kind = function (k) { return (ds[k].kinds || [])[0]; };
    var differs = function (x) { return x.items.some(function (it) { return it[5] >= 0; }); };
    var model = function (k) { return (ds[k].models || []).join(","); };
    // default: teacher -> student, else two different models, else any pair whose runs differ
    var pick = pairs.filter(function (x) { return ds[x.a].name === p.get("a") && ds[x.b].name === p.get("b"); })[0] ||
      pairs.filter(function (x) { return kind(x.a) === "teacher" && kind(x.b) === "student"; })[0] ||
      pairs.filter(function (x) { return model(x.a) !== model(x.b) && differs(x); })[0] ||
      pairs.filter(differs)[0] || pairs[0];
    var anySolved = pick.items.some(function (it) { return it[3] === 1; });
    var solved = p.get("solved") === null ? anySolved : p.get("solved") !== "0";
    if (!anySolved && p.get("solved") === null) {
      main.appendChild(el("div", { class: "problem info" },
        "A solved none of the tasks both runs did: B is compared with A's (incorrect) paths."));
    }
    var sel = el("select", { "aria-label": "pair of runs", onchange: function () {
      var x = pairs[parseInt(sel.value, 10)];
      location.hash = hashFor({ view: "divergence", a: ds[x.a].name, b: ds[x.b].name });
    } }, pairs.map(function (x, k) { return el("option", { value: k }, "A: " + ds[x.a].name + "  →  B: " + ds[x.b].name); }));
    sel.value = String(pairs.indexOf(pick));
    var box = el("input", { type: "checkbox", checked: solved, onchange: function () {
      location.hash = hashFor({ view: "divergence", a: ds[pick.a].name, b: ds[pick.b].name, solved: box.checked ? "1" : "0" });
    } });
    main.appendChild(el("div", { class: "controls" }, el("label", null, "runs ", sel),
      el("label", { class: "check" }, box, "only tasks A solved (A's path is correct)")));

    var items = pick.items.filter(function (it) { return !solved || it[3] === 1; });
    var tasks = new Set(items.map(function (it) { return it[0]; }));
    if (!items.length) {
      main.appendChild(el("div", { class: "problem info" }, solved
        ? "A solved none of the tasks both runs did, so there is no correct path to leave. Untick the box to compare against A's paths anyway."
        : "The two runs share no task."));
      return;
    }
    var never = items.filter(function (it) { return it[5] < 0; });
    var counts = {}, reasons = {}, maxStep = 0;
    items.forEach(function (it) {
      if (it[5] < 0) return;
      counts[it[5] + "|" + it[6]] = (counts[it[5] + "|" + it[6]] || 0) + 1;
      reasons[it[6]] = (reasons[it[6]] || 0) + 1;
      if (it[5] > maxStep) maxStep = it[5];
    });
    var reasonList = Object.keys(reasons).sort(function (x, y) { return reasons[y] - reasons[x]; });
    var top = null;
    Object.keys(counts).forEach(function (k) { if (!top || counts[k] > counts[top]) top = k; });
    var bCorrect = items.filter(function (it) { return it[4] === 1; }).length;
    main.appendChild(el("p", { class: "headline" },
      fmtInt(items.length) + " trajectories of " + ds[pick.b].name + " on " + fmtInt(tasks.size) + " tasks" +
      (solved ? " that " + ds[pick.a].name + " solved" : "") + " (" + fmtInt(bCorrect) + " correct). " +
      fmtInt(never.length) + " never leave A's path" +
      (top ? "; the most common first divergence is at step " + top.split("|")[0] + " (" + reasonLabel(top.split("|")[1]) + ")." : ".")));

    var chosen = { step: p.get("step"), reason: p.get("reason") };
    var head = el("tr", null, el("th", null, "first divergence"), reasonList.map(function (r) { return el("th", { class: "num" }, reasonLabel(r)); }),
      el("th", { class: "num" }, "all"));
    var body = el("tbody");
    var peak = 0, peakAll = never.length;
    Object.keys(counts).forEach(function (k) { peak = Math.max(peak, counts[k]); });
    for (var st = 0; st <= maxStep; st++) {
      peakAll = Math.max(peakAll, reasonList.reduce(function (sum, r) { return sum + (counts[st + "|" + r] || 0); }, 0));
    }
    function cell(step, reason, n) {
      var href = hashFor({ view: "divergence", a: ds[pick.a].name, b: ds[pick.b].name, solved: solved ? "1" : "0", step: step, reason: reason });
      var top = reason ? peak : peakAll;
      var heat = n && top ? Math.round(10 + 45 * Math.min(1, n / top)) : 0;
      return el("td", { class: "num heat", style: n ? "--heat:" + heat + "%" : null },
        n ? el("a", { href: href }, fmtInt(n)) : el("span", { class: "muted" }, "·"));
    }
    for (var s = 0; s <= maxStep; s++) {
      var total = 0;
      var tr = el("tr", null, el("th", null, "step " + s));
      reasonList.forEach(function (r) { var n = counts[s + "|" + r] || 0; total += n; tr.appendChild(cell(s, r, n)); });
      tr.appendChild(cell(s, "", total));
      body.appendChild(tr);
    }
    var neverRow = el("tr", { class: "never" }, el("th", null, "never"));
    reasonList.forEach(function () { neverRow.appendChild(el("td", { class: "num" }, el("span", { class: "muted" }, "·"))); });
    neverRow.appendChild(cell("never", "", never.length));
    body.appendChild(neverRow);
    main.appendChild(el("div", { class: "table-wrap" }, el("table", { class: "divergence" }, el("thead", null, head), body)));

    if (chosen.step !== null) {
      var shown = items.filter(function (it) {
        if (chosen.step === "never") return it[5] < 0;
        return String(it[5]) === chosen.step && (!chosen.reason || it[6] === chosen.reason);
      });
      main.appendChild(el("h3", null, fmtInt(shown.length) + " trajectories: " + (chosen.step === "never" ? "never diverge"
        : "first divergence at step " + chosen.step + (chosen.reason ? " (" + reasonLabel(chosen.reason) + ")" : ""))));
      var list = el("table", { class: "items" }, el("thead", null, el("tr", null,
        ["A", "B", "question", ""].map(function (h) { return el("th", null, h); }))));
      var lb = el("tbody");
      shown.slice(0, 200).forEach(function (it) {
        lb.appendChild(el("tr", null, el("td", null, verdict(it[3])), el("td", null, verdict(it[4])),
          el("td", null, shorten(app.idx.tasks.question[it[0]], 140)),
          el("td", null, el("a", { class: "compare-link", href: compareHash(it[1], it[2]) }, "side by side"))));
      });
      list.appendChild(lb);
      main.appendChild(list);
      if (shown.length > 200) main.appendChild(el("p", { class: "muted" }, "The first 200 are listed."));
    }
  }

  window.trajkitViewer = { divergence: divergence, highlight: highlight };
})();
