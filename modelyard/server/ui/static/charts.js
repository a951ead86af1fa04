// modelyard UI charts: the chart board, the metric page, the run page's and the compare page's charts.
// Histories are drawn with uPlot; bars, scatter and parallel coordinates as small SVG. No build step.
(function () {
  "use strict";
  // The same palette and run -> colour rule as modelyard/server/ui/charts.py (run_color).
  var PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
    "#17becf", "#393b79", "#ad494a", "#637939", "#8c6d31", "#7b4173", "#3182bd", "#e6550d", "#31a354",
    "#756bb1", "#636363"];
  var MAX_X = 1500;   // x positions per line chart (beyond: bucketed)
  var MAX_TIP = 12;   // rows of the hover box
  var SVGNS = "http://www.w3.org/2000/svg";

  function crc32(text) {
    var bytes = new TextEncoder().encode(text), crc = -1;
    for (var i = 0; i < bytes.length; i++) {
      crc ^= bytes[i];
      for (var k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xEDB88320 & -(crc & 1));
    }
    return (crc ^ -1) >>> 0;
  }

  function colorOf(id) {
    var head = String(id).slice(0, 8);
    var n = /^[0-9a-fA-F]{8}$/.test(head) ? parseInt(head, 16) : crc32(String(id));
    return PALETTE[n % PALETTE.length];
  }

  function fmt(v) {
    if (v === null || v === undefined || v === "") return "—";
    if (typeof v !== "number") return String(v);
    if (!isFinite(v)) return String(v);
    var a = Math.abs(v);
    if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(3);
    return String(parseFloat(v.toPrecision(5)));
  }

  // A link built here, in the page's workspace (app.js).
  function inWorkspace(url) { return window.modelyardLink ? window.modelyardLink(url) : url; }

  function el(tag, attrs, parent, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  function svgEl(tag, attrs, parent, text) {
    var node = document.createElementNS(SVGNS, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  // ---- data -------------------------------------------------------------------------------
  var cache = {};

  function fetchSeries(key, ids, points, names) {
    var qs = new URLSearchParams();
    qs.append("key", key);
    ids.forEach(function (id) { qs.append("run", id); });
    qs.append("max", String(points));
    if (!names) qs.append("names", "0");
    var url = "/ui/series?" + qs.toString();
    if (!cache[url]) {
      cache[url] = fetch(url, { headers: { Accept: "application/json" } }).then(function (resp) {
        return resp.json().then(function (body) {
          if (!resp.ok || body.error) throw new Error(body.error || body.message || ("status " + resp.status));
          var byRun = {};
          body.runs.forEach(function (r) { byRun[r.run_id] = r; });
          return byRun;
        });
      });
      cache[url].catch(function () { delete cache[url]; });
    }
    return cache[url];
  }

  // Histories of several metrics in one request (/ui/histories): what a board's line panels draw.
  // historyOf(key, ...) answers from the batch asked for by prefetch, or asks for that key alone.
  var batches = {};

  function same(a, b) { return a.length === b.length && a.every(function (x, i) { return x === b[i]; }); }

  function batchKey(key, ids, points, times) { return [key, points, times ? 1 : 0, ids.join(",")].join("|"); }

  function prefetch(keys, ids, points, times) {
    keys = keys.filter(function (k, i) { return keys.indexOf(k) === i && !batches[batchKey(k, ids, points, times)]; });
    if (!keys.length || !ids.length) return;
    var qs = new URLSearchParams();
    keys.forEach(function (k) { qs.append("key", k); });
    ids.forEach(function (id) { qs.append("run", id); });
    qs.append("max", String(points));
    qs.append("times", times ? "1" : "0");
    var early = window.modelyardEarly, asked;
    if (early && early.answer && !times && early.points === points && same(early.keys, keys) && same(early.runs, ids)) {
      asked = early.answer;  // asked for by the page's head already
      early.answer = null;
    } else asked = fetch("/ui/histories?" + qs.toString(), { headers: { Accept: "application/json" } });
    var all = asked.then(function (resp) {
      return resp.json().then(function (body) {
        if (!resp.ok || body.error) throw new Error(body.error || body.message || ("status " + resp.status));
        return body.metrics;
      });
    });
    keys.forEach(function (k) {
      var bk = batchKey(k, ids, points, times);
      batches[bk] = all.then(function (metrics) {
        var byRun = {};
        (metrics[k] || []).forEach(function (r) { byRun[r.run_id] = r; });
        return byRun;
      });
      batches[bk].catch(function () { delete batches[bk]; });
    });
  }

  function historyOf(key, ids, points, times) {
    var bk = batchKey(key, ids, points, times);
    if (!batches[bk] && !times && batches[batchKey(key, ids, points, true)]) return batches[batchKey(key, ids, points, true)];
    if (!batches[bk]) prefetch([key], ids, points, times);
    return batches[bk];
  }

  function valueOf(run, token) {
    var i = token.indexOf(":"), kind = token.slice(0, i), key = token.slice(i + 1);
    var found = (run[kind] || {})[key];
    return found === undefined ? null : found;
  }

  function asNumber(v) {
    if (v === null || v === undefined || v === "") return null;
    var n = typeof v === "number" ? v : Number(v);
    return isFinite(n) ? n : null;
  }

  // Groups of runs by a token's value, in sorted order, each with a distinct colour.
  function groupsOf(runs, token) {
    var byValue = {}, order = [];
    runs.forEach(function (r) {
      var v = valueOf(r, token);
      var name = v === null ? "(none)" : String(v);
      if (!byValue[name]) { byValue[name] = []; order.push(name); }
      byValue[name].push(r);
    });
    order.sort();
    var key = token.slice(token.indexOf(":") + 1);
    return order.map(function (name, i) {
      return { id: "group:" + name, label: key + "=" + name + " (" + byValue[name].length + ")",
               color: PALETTE[i % PALETTE.length], runs: byValue[name], value: name };
    });
  }

  // ---- line charts (uPlot) -----------------------------------------------------------------
  function xyOf(d, xmode) {
    if (xmode === "step") return { xs: d.steps, ys: d.values };  // the server sends them in step order
    var t0 = Math.min.apply(null, d.times), pts = [];
    var xs = d.times.map(function (t) { return xmode === "time" ? t / 1000 : (t - t0) / 1000; });
    for (var i = 0; i < xs.length; i++) pts.push([xs[i], d.values[i]]);
    pts.sort(function (a, b) { return a[0] - b[0]; });
    return { xs: pts.map(function (p) { return p[0]; }), ys: pts.map(function (p) { return p[1]; }) };
  }

  // Exponential moving average with the start-up bias removed (TensorBoard's smoothing).
  function smooth(ys, weight) {
    if (!weight) return ys;
    var last = 0, n = 0;
    return ys.map(function (y) {
      if (y === null || !isFinite(y)) return null;
      last = last * weight + (1 - weight) * y;
      n += 1;
      return last / (1 - Math.pow(weight, n));
    });
  }

  function interp(xs, ys, x) {
    if (!xs.length || x < xs[0] || x > xs[xs.length - 1]) return null;
    var lo = 0, hi = xs.length - 1;
    while (hi - lo > 1) { var mid = (lo + hi) >> 1; if (xs[mid] <= x) lo = mid; else hi = mid; }
    if (xs[lo] === x) return ys[lo];
    if (xs[hi] === x) return ys[hi];
    if (ys[lo] === null || ys[hi] === null) return null;
    return ys[lo] + (ys[hi] - ys[lo]) * (x - xs[lo]) / (xs[hi] - xs[lo]);
  }

  // The x positions of several series: their union, bucketed to MAX_X when larger.
  function sameXs(a, b) {
    if (a === b) return true;
    if (a.length !== b.length) return false;
    for (var i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  function unionX(list) {
    // The common case: every run has the same x positions (the same sampled steps).
    if (list.length && list[0].xs.length <= MAX_X && list.every(function (s) { return sameXs(s.xs, list[0].xs); })) {
      var first = list[0].xs, sorted = true;
      for (var j = 1; j < first.length; j++) if (first[j] <= first[j - 1]) { sorted = false; break; }
      if (sorted) return { xs: first, bucket: null };
    }
    var seen = {}, xs = [];
    list.forEach(function (s) { s.xs.forEach(function (x) { if (!seen[x]) { seen[x] = 1; xs.push(x); } }); });
    xs.sort(function (a, b) { return a - b; });
    if (xs.length <= MAX_X) return { xs: xs, bucket: null };
    var lo = xs[0], width = (xs[xs.length - 1] - lo) / (MAX_X - 1), out = [];
    for (var i = 0; i < MAX_X; i++) out.push(lo + i * width);
    return { xs: out, bucket: function (x) { return Math.round((x - lo) / width); } };
  }

  function alignOn(u, s) {
    if (!u.bucket && sameXs(u.xs, s.xs)) return s.ys.slice();
    var ys = new Array(u.xs.length).fill(null);
    if (u.bucket) { for (var i = 0; i < s.xs.length; i++) ys[u.bucket(s.xs[i])] = s.ys[i]; return ys; }
    var index = {};
    u.xs.forEach(function (x, j) { index[x] = j; });
    for (var k = 0; k < s.xs.length; k++) ys[index[s.xs[k]]] = s.ys[k];
    return ys;
  }

  function stats(ys) {
    var min = null, max = null, last = null;
    ys.forEach(function (y) {
      if (y === null || !isFinite(y)) return;
      if (min === null || y < min) min = y;
      if (max === null || y > max) max = y;
      last = y;
    });
    return { min: min, max: max, last: last };
  }

  // The min / max / last of each series, in a folded box: its table is built when first opened
  // (a board of 10 panels over 100 runs would otherwise build 1,000 rows nobody looks at).
  function statsTable(parent, rows) {
    var details = el("details", { "class": "panel-stats" }, parent);
    el("summary", {}, details, "min / max / last");
    var build = function () {
      if (!details.open || details.dataset.built) return;
      details.dataset.built = "1";
      fillStats(details, rows());
    };
    details.addEventListener("toggle", build);
  }

  function fillStats(details, rows) {
    var table = el("table", { "class": "kv stats" }, details);
    var head = el("tr", {}, el("thead", {}, table));
    ["", "min", "max", "last"].forEach(function (h) { el("th", { scope: "col" }, head, h); });
    var body = el("tbody", {}, table);
    rows.forEach(function (r) {
      var tr = el("tr", {}, body);
      var th = el("th", { scope: "row" }, tr);
      el("span", { "class": "swatch", style: "background:" + r.color }, th);
      th.appendChild(document.createTextNode(r.label));
      [r.stats.min, r.stats.max, r.stats.last].forEach(function (v) { el("td", { "class": "num" }, tr, fmt(v)); });
    });
  }

  function tooltip(u, box, xmode) {
    var idx = u.cursor.idx;
    if (idx === null || idx === undefined) { box.hidden = true; return; }
    var rows = [];
    for (var i = 1; i < u.series.length; i++) {
      var s = u.series[i];
      if (s.meta && s.meta.hidden) continue;
      var v = u.data[i][idx];
      if (v !== null && v !== undefined) rows.push({ label: s.label, color: s.meta ? s.meta.color : s.stroke, v: v });
    }
    if (!rows.length) { box.hidden = true; return; }
    rows.sort(function (a, b) { return b.v - a.v; });
    box.textContent = "";
    var x = u.data[0][idx];
    el("div", { "class": "tip-x" }, box, xmode === "time" ? new Date(x * 1000).toLocaleString()
      : (xmode === "relative" ? fmt(x) + " s" : "step " + fmt(x)));
    rows.slice(0, MAX_TIP).forEach(function (r) {
      var line = el("div", {}, box);
      el("span", { "class": "swatch", style: "background:" + r.color }, line);
      line.appendChild(document.createTextNode(r.label + ": "));
      el("strong", {}, line, fmt(r.v));
    });
    if (rows.length > MAX_TIP) el("div", { "class": "meta" }, box, "+" + (rows.length - MAX_TIP) + " more");
    box.hidden = false;
    var left = u.cursor.left + 14, width = box.offsetWidth;
    if (left + width > u.over.clientWidth) left = Math.max(0, u.cursor.left - width - 14);
    box.style.left = left + "px";
    box.style.top = Math.max(0, u.cursor.top - 10) + "px";
  }

  // Charts that zoom together (same kind of x axis on one board).
  var linked = {};

  function link(group, plot, target) {
    if (!group) return;
    (linked[group] = linked[group] || []).push({ plot: plot, target: target });
  }

  function zoomOthers(group, source, min, max) {
    (linked[group] || []).forEach(function (entry) {
      if (entry.plot === source || !document.body.contains(entry.target)) return;
      if (min === null) entry.plot.setData(entry.plot.data, true);
      else entry.plot.setScale("x", { min: min, max: max });
      entry.target.dataset.zoomed = min === null ? "" : "1";
    });
  }

  // series: [{id, label, color, xs, ys, band?: "hi"|"lo"}] (a band: the min-max of the mean before it);
  // opts: {xmode, smoothing, log, height, zoomGroup}
  function drawLine(target, series, opts) {
    target.textContent = "";
    var u = unionX(series);
    var data = [u.xs], specs = [{ label: opts.xmode }], bands = [];
    series.forEach(function (s) {
      if (opts.smoothing && !s.band) {  // the raw values, faint, behind the smoothed line
        var raw = alignOn(u, s);
        if (opts.log) raw = raw.map(function (y) { return y !== null && y > 0 ? y : null; });
        data.push(raw);
        specs.push({ label: s.label + " (raw)", stroke: s.color + "40", width: 1, spanGaps: true, points: { show: false },
                     meta: { color: s.color, hidden: true } });
      }
      var ys = alignOn(u, { xs: s.xs, ys: smooth(s.ys, opts.smoothing) });
      if (opts.log) ys = ys.map(function (y) { return y !== null && y > 0 ? y : null; });
      data.push(ys);
      specs.push({ label: s.label, stroke: s.color, width: s.band ? 0 : 1.6, spanGaps: true,
                   points: { show: !s.band && s.xs.length < 40, size: 4 },
                   meta: { color: s.color, hidden: !!s.band } });
      if (s.band === "hi") bands.push({ series: [data.length - 1, data.length], fill: s.color + "33" });
    });
    var width = Math.max(opts.width || target.clientWidth, 260), height = opts.height || 240;
    var box = el("div", { "class": "plot-tip", hidden: "" });
    var plot = new uPlot({
      width: width, height: height, series: specs, bands: bands, legend: { show: false },
      scales: { x: { time: opts.xmode === "time" }, y: opts.log ? { distr: 3 } : {} },
      // A hover dot per series is a DOM element each: past 20 series the hover box alone tells the values.
      cursor: { drag: { x: true, y: false, setScale: true }, points: { size: 6, show: specs.length <= 21 } },
      axes: [{ label: opts.xmode === "step" ? "step" : opts.xmode === "relative" ? "seconds" : "" }, { size: 60 }],
      hooks: {
        setCursor: [function (p) { tooltip(p, box, opts.xmode); }],
        setSelect: [function (p) {
          if (p.select.width < 2) return;
          var min = p.posToVal(p.select.left, "x"), max = p.posToVal(p.select.left + p.select.width, "x");
          target.dataset.zoomed = "1";
          target.dataset.xmin = String(min);
          target.dataset.xmax = String(max);
          zoomOthers(opts.zoomGroup, p, min, max);
        }],
      },
    }, data, target);
    plot.over.appendChild(box);
    plot.over.addEventListener("mouseleave", function () { box.hidden = true; });
    plot.over.addEventListener("dblclick", function () {
      target.dataset.zoomed = "";
      zoomOthers(opts.zoomGroup, plot, null, null);
    });
    link(opts.zoomGroup, plot, target);
    target.dataset.kind = "line";
    target.dataset.series = String(series.filter(function (s) { return !s.band; }).length);
    target.dataset.points = String(series.reduce(function (n, s) { return n + s.xs.length; }, 0));
    target.dataset.xmin = String(u.xs[0]);
    target.dataset.xmax = String(u.xs[u.xs.length - 1]);
    new ResizeObserver(function () {
      var w = Math.max(target.clientWidth, 260);
      if (Math.abs(w - plot.width) > 2) plot.setSize({ width: w, height: height });
    }).observe(target);
    return plot;
  }

  // Runs' histories as line series, or (grouped) each group's mean with a min-max band.
  function lineSeries(runs, byRun, xmode, groups) {
    var per = {};
    runs.forEach(function (r) { if (byRun[r.id]) per[r.id] = xyOf(byRun[r.id], xmode); });
    if (!groups) {
      return runs.filter(function (r) { return per[r.id]; }).map(function (r) {
        return { id: r.id, label: r.label, color: r.color, xs: per[r.id].xs, ys: per[r.id].ys };
      });
    }
    var out = [];
    groups.forEach(function (g) {
      var members = g.runs.filter(function (r) { return per[r.id]; }).map(function (r) { return per[r.id]; });
      if (!members.length) return;
      var u = unionX(members), mean = [], lo = [], hi = [];
      u.xs.forEach(function (x) {
        var sum = 0, n = 0, mn = null, mx = null;
        members.forEach(function (m) {
          var y = interp(m.xs, m.ys, x);
          if (y === null || !isFinite(y)) return;
          sum += y; n += 1;
          if (mn === null || y < mn) mn = y;
          if (mx === null || y > mx) mx = y;
        });
        mean.push(n ? sum / n : null); lo.push(mn); hi.push(mx);
      });
      out.push({ id: g.id, label: g.label + " mean", color: g.color, xs: u.xs, ys: mean });
      out.push({ id: g.id + ":hi", label: g.label + " max", color: g.color, xs: u.xs, ys: hi, band: "hi" });
      out.push({ id: g.id + ":lo", label: g.label + " min", color: g.color, xs: u.xs, ys: lo, band: "lo" });
    });
    return out;
  }

  // ---- bars (SVG) ---------------------------------------------------------------------------
  // About n round ticks (1, 2 or 5 times a power of ten) within [lo, hi].
  function niceTicks(lo, hi, n) {
    if (!(hi > lo)) return [lo];
    var raw = (hi - lo) / n, mag = Math.pow(10, Math.floor(Math.log10(raw))), step = mag;
    [1, 2, 5, 10].some(function (m) { step = m * mag; return step >= raw; });
    var out = [];
    for (var t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9 && out.length <= 2 * n; t += step) {
      out.push(Math.abs(t) < step * 1e-9 ? 0 : parseFloat(t.toPrecision(12)));
    }
    return out;
  }

  // rows: [{label, color, value, lo?, hi?}]
  function drawBars(target, rows) {
    target.textContent = "";
    rows = rows.filter(function (r) { return r.value !== null; });
    if (!rows.length) { el("p", { "class": "empty" }, target, "No values."); return; }
    var width = Math.max(target.clientWidth, 260), rowH = 22, labelW = Math.min(200, width * 0.38), pad = 8;
    var height = rows.length * rowH + 28;
    var lo = 0, hi = 0;
    rows.forEach(function (r) {
      lo = Math.min(lo, r.value, r.lo === undefined ? r.value : r.lo);
      hi = Math.max(hi, r.value, r.hi === undefined ? r.value : r.hi);
    });
    if (lo === hi) hi = lo + 1;
    var ticks = niceTicks(lo, hi, 4), step = ticks.length > 1 ? ticks[1] - ticks[0] : 0;
    if (step > 0) {  // widen the domain to round numbers so that the last tick is past the longest bar
      lo = Math.floor(lo / step + 1e-9) * step;
      hi = Math.ceil(hi / step - 1e-9) * step;
      ticks = niceTicks(lo, hi, 4);
    }
    var plotW = width - labelW - 70;
    var sx = function (v) { return labelW + pad + (v - lo) / (hi - lo) * plotW; };
    var said = rows.slice(0, 20).map(function (r) { return r.label + ": " + fmt(r.value); }).join("; ");
    var svg = svgEl("svg", { "class": "bars", viewBox: "0 0 " + width + " " + height, role: "img",
                             "aria-label": said + (rows.length > 20 ? "; and " + (rows.length - 20) + " more" : "") }, target);
    ticks.forEach(function (t) {
      svgEl("line", { x1: sx(t), x2: sx(t), y1: 0, y2: height - 22, "class": "grid" }, svg);
      svgEl("text", { x: sx(t), y: height - 8, "class": "tick", "text-anchor": "middle" }, svg, fmt(t));
    });
    rows.forEach(function (r, i) {
      var y = i * rowH + 3, g = svgEl("g", { "class": "bar" }, svg);
      svgEl("title", {}, g, r.label + ": " + fmt(r.value) + (r.lo !== undefined ? " (min " + fmt(r.lo) + ", max " + fmt(r.hi) + ")" : ""));
      var name = r.label.length > 28 ? r.label.slice(0, 27) + "…" : r.label;
      svgEl("text", { x: labelW, y: y + 13, "class": "bar-label", "text-anchor": "end" }, g, name);
      var x0 = sx(Math.min(0, r.value)), x1 = sx(Math.max(0, r.value));
      svgEl("rect", { x: x0, y: y, width: Math.max(1, x1 - x0), height: rowH - 6, fill: r.color }, g);
      if (r.lo !== undefined) {
        svgEl("line", { x1: sx(r.lo), x2: sx(r.hi), y1: y + (rowH - 6) / 2, y2: y + (rowH - 6) / 2, "class": "whisker" }, g);
      }
      svgEl("text", { x: Math.max(x1, r.hi !== undefined ? sx(r.hi) : x1) + 4, y: y + 13, "class": "bar-value" }, g, fmt(r.value));
    });
    target.dataset.kind = "bar";
    target.dataset.bars = String(rows.length);
  }

  // ---- scatter and parallel coordinates (SVG) -------------------------------------------------
  function scaleOf(values, lo, hi) {
    var nums = values.map(asNumber), present = values.filter(function (v) { return v !== null; });
    var numeric = present.length && nums.every(function (n, i) { return values[i] === null || n !== null; });
    if (numeric) {
      var fs = nums.filter(function (n) { return n !== null; });
      var mn = Math.min.apply(null, fs), mx = Math.max.apply(null, fs);
      var span = mx === mn ? 1 : mx - mn;
      return { pos: function (v) { var n = asNumber(v); return n === null ? null : lo + (n - mn) / span * (hi - lo); },
               ticks: niceTicks(mn, mx, 4).map(function (t) { return [lo + (t - mn) / span * (hi - lo), fmt(t)]; }) };
    }
    var cats = present.map(String).filter(function (c, i, a) { return a.indexOf(c) === i; }).sort();
    var step = cats.length > 1 ? (hi - lo) / (cats.length - 1) : 0;
    var at = function (c) { return cats.length > 1 ? lo + cats.indexOf(c) * step : (lo + hi) / 2; };
    return { pos: function (v) { return v === null ? null : at(String(v)); },
             ticks: cats.slice(0, 12).map(function (c) { return [at(c), c]; }) };
  }

  function short(token) { return token.slice(token.indexOf(":") + 1); }

  function drawScatter(target, runs, xKey, yKey, colorFor) {
    target.textContent = "";
    var width = Math.max(target.clientWidth, 260), height = 280, pad = 48;
    var xs = runs.map(function (r) { return valueOf(r, xKey); }), ys = runs.map(function (r) { return valueOf(r, yKey); });
    var sx = scaleOf(xs, pad, width - 16), sy = scaleOf(ys, height - pad + 10, 28);
    var svg = svgEl("svg", { "class": "scatter", viewBox: "0 0 " + width + " " + height, role: "img",
                             "aria-label": "Scatter of " + short(yKey) + " against " + short(xKey) }, target);
    svgEl("line", { x1: pad, x2: width - 16, y1: height - pad + 10, y2: height - pad + 10, "class": "axis" }, svg);
    svgEl("line", { x1: pad, x2: pad, y1: 22, y2: height - pad + 10, "class": "axis" }, svg);
    sx.ticks.forEach(function (t) { svgEl("text", { x: t[0], y: height - pad + 24, "class": "tick", "text-anchor": "middle" }, svg, t[1]); });
    sy.ticks.forEach(function (t) { svgEl("text", { x: pad - 4, y: t[0] + 3, "class": "tick", "text-anchor": "end" }, svg, t[1]); });
    svgEl("text", { x: (width + pad) / 2, y: height - 6, "class": "axis-label", "text-anchor": "middle" }, svg, short(xKey));
    svgEl("text", { x: 4, y: 12, "class": "axis-label" }, svg, short(yKey));
    var n = 0;
    runs.forEach(function (r, i) {
      var cx = sx.pos(xs[i]), cy = sy.pos(ys[i]);
      if (cx === null || cy === null) return;
      var c = svgEl("circle", { cx: cx, cy: cy, r: 5, fill: colorFor(r), "class": "point" }, svg);
      svgEl("title", {}, c, r.label + ": " + short(xKey) + "=" + fmt(xs[i]) + ", " + short(yKey) + "=" + fmt(ys[i]));
      n += 1;
    });
    target.dataset.kind = "scatter";
    target.dataset.points = String(n);
  }

  function drawParallel(target, runs, axes, colorFor) {
    target.textContent = "";
    var width = Math.max(target.clientWidth, 260), height = 300, top = 24, bottom = height - 28;
    var step = (width - 80) / Math.max(axes.length - 1, 1);
    var svg = svgEl("svg", { "class": "parallel", viewBox: "0 0 " + width + " " + height, role: "img",
                             "aria-label": "Parallel coordinates of " + axes.map(short).join(", ") }, target);
    var scales = axes.map(function (a) { return scaleOf(runs.map(function (r) { return valueOf(r, a); }), bottom, top); });
    axes.forEach(function (a, i) {
      var x = 40 + i * step;
      svgEl("line", { x1: x, x2: x, y1: top, y2: bottom, "class": "axis" }, svg);
      svgEl("text", { x: x, y: 14, "class": "axis-label", "text-anchor": "middle" }, svg, short(a));
      scales[i].ticks.forEach(function (t) { svgEl("text", { x: x + 4, y: t[0] + 3, "class": "tick" }, svg, t[1]); });
    });
    var n = 0;
    runs.forEach(function (r) {
      var pts = [];
      axes.forEach(function (a, i) {
        var y = scales[i].pos(valueOf(r, a));
        if (y !== null) pts.push((40 + i * step) + "," + y);
      });
      if (pts.length < 2) return;
      var line = svgEl("polyline", { points: pts.join(" "), stroke: colorFor(r), "class": "pc-line" }, svg);
      svgEl("title", {}, line, r.label);
      n += 1;
    });
    target.dataset.kind = "parallel";
    target.dataset.lines = String(n);
  }

  // ---- the board (also the metric page) ---------------------------------------------------------
  function Board(root, data) {
    this.root = root;
    this.data = data;
    this.runs = data.runs;
    data.runs.forEach(function (r) { r.color = r.color || colorOf(r.id); });
    this.layout = JSON.parse(JSON.stringify(data.layout || { panels: [] }));
    this.layout.panels = this.layout.panels || [];
    this.hidden = {};
    this.status = document.getElementById("layout-status");
    this.single = root.classList.contains("metric-page");
    this.setup();
    this.render();
  }

  Board.prototype.visible = function () {
    var hidden = this.hidden;
    return this.runs.filter(function (r) { return !hidden[r.id]; });
  };

  Board.prototype.groups = function (runs) {
    return this.layout.group_by ? groupsOf(runs, this.layout.group_by) : null;
  };

  Board.prototype.colorFor = function () {
    var token = this.layout.group_by, groups = this.groups(this.runs), byValue = {};
    if (!groups) return function (r) { return r.color; };
    groups.forEach(function (g) { byValue[g.value] = g.color; });
    return function (r) { var v = valueOf(r, token); return byValue[v === null ? "(none)" : String(v)]; };
  };

  Board.prototype.changed = function () {
    this.dirty = true;
    if (this.status) this.status.textContent = "Unsaved changes.";
  };

  Board.prototype.setup = function () {
    var self = this, keys = this.data.keys || { metrics: [], params: [], tags: [] };
    var toggles = document.getElementById("run-toggles");
    this.runs.forEach(function (r) {
      var li = el("li", {}, toggles), label = el("label", {}, li);
      var box = el("input", { type: "checkbox", checked: "", "aria-label": "Show " + r.label }, label);
      el("span", { "class": "swatch", style: "background:" + r.color }, label);
      label.appendChild(document.createTextNode(" "));
      el("a", { href: inWorkspace("/runs/" + r.id) }, label, r.label);
      box.addEventListener("change", function () {
        if (box.checked) delete self.hidden[r.id]; else self.hidden[r.id] = true;
        self.render();
      });
    });
    var group = document.getElementById("group-by");
    if (group) {
      var runs = this.runs;
      var paramKeys = keys.params.length ? keys.params : Object.keys(runs.reduce(function (a, r) { Object.assign(a, r.params); return a; }, {})).sort();
      var tagKeys = keys.tags.length ? keys.tags : Object.keys(runs.reduce(function (a, r) { Object.assign(a, r.tags); return a; }, {})).sort();
      [["params", paramKeys], ["tags", tagKeys]].forEach(function (kind) {
        if (!kind[1].length) return;
        var og = el("optgroup", { label: kind[0] }, group);
        kind[1].forEach(function (k) { el("option", { value: kind[0] + ":" + k }, og, k); });
      });
      group.value = this.layout.group_by || "";
      group.addEventListener("change", function () {
        self.layout.group_by = group.value;
        if (self.data.group_cookie) {  // the runs table of this experiment groups the same way
          var path = "/experiments/" + encodeURIComponent(self.data.experiment_id);
          document.cookie = self.data.group_cookie + "=" + (group.value ? encodeURIComponent(group.value) + "; max-age=31536000"
            : "; max-age=0") + "; path=" + path + "; samesite=lax";
        }
        self.changed();
        self.render();
      });
    }
    var form = document.getElementById("add-chart-form");
    if (form) {
      var metricSel = form.querySelector("[name=metric]");
      keys.metrics.forEach(function (k) { el("option", {}, metricSel, k); });
      var tokens = [];
      ["metrics", "params", "tags"].forEach(function (kind) { keys[kind].forEach(function (k) { tokens.push(kind + ":" + k); }); });
      ["x_key", "y_key", "axes"].forEach(function (name) {
        var sel = form.querySelector("[name=" + name + "]");
        tokens.forEach(function (t) { el("option", { value: t }, sel, t); });
      });
      if (tokens.length > 1) form.querySelector("[name=y_key]").value = tokens[1];
      var type = form.querySelector("[name=type]");
      var sync = function () { form.dataset.type = type.value; };
      type.addEventListener("change", sync);
      sync();
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        var panel = { type: type.value };
        if (panel.type === "line" || panel.type === "bar") panel.metric = metricSel.value;
        if (panel.type === "scatter") { panel.x_key = form.querySelector("[name=x_key]").value; panel.y_key = form.querySelector("[name=y_key]").value; }
        if (panel.type === "parallel") {
          panel.axes = Array.prototype.map.call(form.querySelector("[name=axes]").selectedOptions, function (o) { return o.value; });
          if (panel.axes.length < 2) { alert("Choose at least two axes (Ctrl-click to choose several)."); return; }
        }
        if ((panel.type === "line" || panel.type === "bar") && !panel.metric) return;
        self.layout.panels.push(panel);
        self.changed();
        self.render();
        document.getElementById("add-chart").open = false;
        var cards = self.root.querySelectorAll(".panel");
        var last = cards[cards.length - 1];
        if (last && last.scrollIntoView) last.scrollIntoView({ block: "nearest" });
      });
    }
    var save = document.getElementById("save-layout");
    if (save) save.addEventListener("click", function () { self.save(); });
    var reset = document.getElementById("reset-layout");
    if (reset) reset.addEventListener("click", function () { self.reset(); });
  };

  Board.prototype.post = function (url, body) {
    var token = document.getElementById("csrf").value;
    body.append("csrf_token", token);
    return fetch(url, { method: "POST", body: body, headers: { "X-CSRF-Token": token, Accept: "application/json" } })
      .then(function (resp) {
        return resp.text().then(function (text) {
          var parsed = null;
          try { parsed = JSON.parse(text); } catch (e) { parsed = null; }
          if (!resp.ok) throw new Error((parsed && parsed.message) || ("the server answered " + resp.status));
          return parsed;
        });
      });
  };

  Board.prototype.save = function () {
    var self = this, body = new URLSearchParams();
    body.append("layout", JSON.stringify(this.layout));
    this.status.textContent = "Saving…";
    this.post(this.data.save_url, body).then(function (answer) {
      self.dirty = false;
      var by = answer.board.updated_by;
      self.status.textContent = "Saved" + (by ? " by " + by : "") + ": everyone who opens this experiment sees this board.";
      self.root.dataset.saved = "1";
    }).catch(function (err) { self.status.textContent = "Not saved: " + err.message; });
  };

  Board.prototype.reset = function () {
    var self = this;
    this.post(this.data.reset_url, new URLSearchParams()).then(function () { window.location.reload(); })
      .catch(function (err) { self.status.textContent = "Not reset: " + err.message; });
  };

  Board.prototype.render = function () {
    var self = this, main = document.getElementById("panels"), system = document.getElementById("system-panels");
    linked = {};
    main.textContent = "";
    if (system) system.textContent = "";
    var inSystem = 0, ids = this.runs.map(function (r) { return r.id; });
    var lines = this.layout.panels.filter(function (p) { return p.type === "line" && p.metric; });
    // One request for every line panel's histories (those on a time axis with their wall times).
    prefetch(lines.filter(function (p) { return (p.x || "step") === "step"; }).map(function (p) { return p.metric; }),
             ids, this.data.points, false);
    prefetch(lines.filter(function (p) { return (p.x || "step") !== "step"; }).map(function (p) { return p.metric; }),
             ids, this.data.points, true);
    var cards = this.layout.panels.map(function (panel, i) {
      var isSystem = system && panel.metric && panel.metric.indexOf("system/") === 0;
      if (isSystem) inSystem += 1;
      return self.card(isSystem ? system : main, panel, i);
    });
    if (system) system.parentNode.hidden = inSystem === 0;
    // Every card in place first, then their widths read at once (one layout), then the charts drawn.
    var widths = cards.map(function (c) { return c.plot.clientWidth; });
    cards.forEach(function (c, i) { self.draw(c.panel, c.plot, c.below, widths[i]); });
    if (!this.layout.panels.length) el("p", { "class": "empty" }, main, "No charts: add one with “+ Add chart”.");
  };

  Board.prototype.title = function (panel) {
    if (panel.title) return panel.title;
    if (panel.type === "scatter") return short(panel.y_key) + " vs " + short(panel.x_key);
    if (panel.type === "parallel") return "Parallel coordinates";
    return panel.metric;
  };

  Board.prototype.card = function (parent, panel, index) {
    var self = this;
    var card = el("figure", { "class": "panel", "data-type": panel.type, "data-metric": panel.metric || "" }, parent);
    var cap = el("figcaption", {}, card);
    if (panel.metric && !this.single) {
      var qs = new URLSearchParams();
      qs.append("key", panel.metric);
      this.visible().forEach(function (r) { qs.append("run", r.id); });
      el("a", { href: inWorkspace("/metric?" + qs.toString()), title: "Open the metric page" }, cap, this.title(panel));
    } else el("span", {}, cap, this.title(panel));
    var tools = el("span", { "class": "panel-tools" }, cap);
    var settings = el("details", { "class": "panel-settings" }, tools);
    if (this.single) settings.open = true;
    el("summary", { "aria-label": "Settings of " + this.title(panel), title: "Settings" }, settings, "⚙");
    this.settingsForm(el("div", { "class": "settings-form" }, settings), panel, card, index);
    if (!this.single) {
      var remove = el("button", { type: "button", "class": "link", "aria-label": "Remove " + this.title(panel), title: "Remove" }, tools, "✕");
      remove.addEventListener("click", function () { self.layout.panels.splice(index, 1); self.changed(); self.render(); });
    }
    var plot = el("div", { "class": "plot", role: "img", "aria-label": this.title(panel) }, card);
    var below = el("div", { "class": "below" }, card);
    return { panel: panel, plot: plot, below: below };
  };

  Board.prototype.settingsForm = function (box, panel, card, index) {
    var self = this;
    var redraw = function () {
      self.changed();
      var plot = card.querySelector(".plot"), below = card.querySelector(".below");
      card.dataset.type = panel.type;
      self.draw(panel, plot, below);
    };
    var field = function (label, input) { var l = el("label", {}, box, label + " "); l.appendChild(input); return input; };
    if (panel.type === "line" || panel.type === "bar") {
      var type = field("Type", el("select", {}));
      [["line", "Line"], ["bar", "Bar (latest)"]].forEach(function (o) { el("option", { value: o[0] }, type, o[1]); });
      type.value = panel.type;
      type.addEventListener("change", function () { panel.type = type.value; self.changed(); self.render(); });
    }
    if (panel.type === "line") {
      var x = field("X axis", el("select", {}));
      [["step", "Step"], ["time", "Wall time"], ["relative", "Relative time"]].forEach(function (o) { el("option", { value: o[0] }, x, o[1]); });
      x.value = panel.x || "step";
      x.addEventListener("change", function () { panel.x = x.value; redraw(); });
      var sm = field("Smoothing", el("input", { type: "range", min: "0", max: "0.99", step: "0.01" }));
      sm.value = String(panel.smoothing || 0);
      var out = el("output", {}, box, String(panel.smoothing || 0));
      sm.addEventListener("input", function () { out.textContent = sm.value; });
      sm.addEventListener("change", function () { panel.smoothing = parseFloat(sm.value) || 0; redraw(); });
      var log = field("Log scale", el("input", { type: "checkbox" }));
      log.checked = !!panel.log;
      log.addEventListener("change", function () { panel.log = log.checked; redraw(); });
    }
    if (panel.type === "scatter") {
      var tokens = this.tokens();
      ["x_key", "y_key"].forEach(function (name) {
        var sel = field(name === "x_key" ? "X" : "Y", el("select", {}));
        tokens.forEach(function (t) { el("option", { value: t }, sel, t); });
        sel.value = panel[name];
        sel.addEventListener("change", function () { panel[name] = sel.value; redraw(); });
      });
    }
    if (panel.type === "parallel") {
      var axes = field("Axes", el("select", { multiple: "", size: "5" }));
      this.tokens().forEach(function (t) {
        var o = el("option", { value: t }, axes, t);
        if (panel.axes.indexOf(t) >= 0) o.selected = true;
      });
      axes.addEventListener("change", function () {
        var chosen = Array.prototype.map.call(axes.selectedOptions, function (o) { return o.value; });
        if (chosen.length >= 2) { panel.axes = chosen; redraw(); }
      });
    }
  };

  Board.prototype.tokens = function () {
    var keys = this.data.keys || { metrics: [], params: [], tags: [] }, out = [];
    ["metrics", "params", "tags"].forEach(function (kind) { keys[kind].forEach(function (k) { out.push(kind + ":" + k); }); });
    return out;
  };

  Board.prototype.latestRows = function (runs, metric) {
    var groups = this.groups(runs);
    if (!groups) {
      return runs.map(function (r) { return { label: r.label, color: r.color, value: asNumber(r.metrics[metric]) }; });
    }
    return groups.map(function (g) {
      var vals = g.runs.map(function (r) { return asNumber(r.metrics[metric]); }).filter(function (v) { return v !== null; });
      if (!vals.length) return { label: g.label, color: g.color, value: null };
      var sum = vals.reduce(function (a, b) { return a + b; }, 0);
      return { label: g.label + " mean", color: g.color, value: sum / vals.length,
               lo: Math.min.apply(null, vals), hi: Math.max.apply(null, vals) };
    });
  };

  Board.prototype.draw = function (panel, plot, below, width) {
    var self = this, runs = this.visible();
    below.textContent = "";
    plot.dataset.drawn = "";
    if (!runs.length) { plot.textContent = ""; el("p", { "class": "empty" }, plot, "No runs shown."); plot.dataset.drawn = "1"; return; }
    if (panel.type === "bar") { drawBars(plot, this.latestRows(runs, panel.metric)); plot.dataset.drawn = "1"; return; }
    if (panel.type === "scatter") { drawScatter(plot, runs, panel.x_key, panel.y_key, this.colorFor()); plot.dataset.drawn = "1"; return; }
    if (panel.type === "parallel") { drawParallel(plot, runs, panel.axes, this.colorFor()); plot.dataset.drawn = "1"; return; }
    plot.textContent = "Loading…";
    // Measured now, while every panel waits for its data: reading it after other panels have
    // drawn would lay the page out again for each panel.
    if (!width) width = plot.clientWidth;
    var xmode0 = panel.x || "step";
    historyOf(panel.metric, this.runs.map(function (r) { return r.id; }), this.data.points, xmode0 !== "step").then(function (byRun) {
      var shown = runs.filter(function (r) { return byRun[r.id]; });
      var history = shown.some(function (r) { return byRun[r.id].steps.length > 1; });
      if (!history) {  // single values: a line through one point per run says nothing
        drawBars(plot, self.latestRows(shown.length ? shown : runs, panel.metric));
        plot.dataset.single = "1";
        el("p", { "class": "meta" }, below, "One value per run: drawn as bars of the latest values.");
      } else {
        var xmode = panel.x || "step", groups = self.groups(shown);
        var series = lineSeries(shown, byRun, xmode, groups);
        drawLine(plot, series, { xmode: xmode, smoothing: panel.smoothing || 0, log: !!panel.log, width: width,
                                 height: self.single ? 420 : 240, zoomGroup: "board:" + xmode });
        statsTable(below, function () {
          return series.filter(function (s) { return !s.band; }).map(function (s) {
            var raw = groups ? s.ys : byRun[s.id].values;
            return { label: s.label, color: s.color, stats: stats(raw) };
          });
        });
      }
      plot.dataset.drawn = "1";
    }).catch(function (err) {
      plot.textContent = "";
      el("p", { "class": "error" }, plot, "Could not load the chart: " + err.message);
      plot.dataset.drawn = "1";
    });
  };

  // ---- the run page and the compare page ------------------------------------------------------
  function drawRunMetric(target, runId, xmode) {
    var key = target.dataset.key;
    return fetchSeries(key, [runId], 1000, false).then(function (byRun) {
      var d = byRun[runId];
      if (!d) { target.textContent = ""; el("p", { "class": "empty" }, target, "No points."); return; }
      if (d.steps.length <= 1) {
        target.textContent = "";
        var one = el("div", { "class": "single-value" }, target);
        el("strong", {}, one, fmt(d.values[0]));
        el("span", { "class": "meta" }, one, " one value, step " + d.steps[0]);
        target.dataset.kind = "single";
      } else {
        var xy = xyOf(d, xmode);
        drawLine(target, [{ id: runId, label: key, color: colorOf(runId), xs: xy.xs, ys: xy.ys }],
                 { xmode: xmode, height: 240, zoomGroup: "run:" + xmode });
      }
      target.dataset.drawn = "1";
    }).catch(function (err) { target.textContent = "Could not load the chart: " + err.message; });
  }

  function runCharts(section) {
    var runId = section.dataset.run, select = section.querySelector("[data-run-x]");
    var drawAll = function () {
      linked = {};
      section.querySelectorAll("[data-plot=run-metric]").forEach(function (t) { drawRunMetric(t, runId, select ? select.value : "step"); });
    };
    drawAll();
    if (select) select.addEventListener("change", drawAll);
    var every = parseInt(section.dataset.live || "0", 10);
    if (every > 0) {
      setInterval(function () {
        if (document.hidden) return;
        Object.keys(cache).forEach(function (url) { if (url.indexOf("run=" + runId) >= 0) delete cache[url]; });
        drawAll();
      }, every * 1000);
    }
  }

  function historyChart(target) {
    fetch(target.dataset.src, { headers: { Accept: "application/json" } }).then(function (r) { return r.json(); }).then(function (body) {
      target.textContent = "";
      if (body.error) { el("p", { "class": "error" }, target, body.error); return; }
      if (!body.runs.length) { el("p", { "class": "empty" }, target, "No points."); return; }
      var names = {};
      body.runs.forEach(function (r) { names[r.name] = (names[r.name] || 0) + 1; });
      var label = function (r) { return names[r.name] > 1 ? r.name + " · " + r.run_id.slice(0, 7) : r.name; };
      if (body.runs.every(function (r) { return r.steps.length <= 1; })) {
        drawBars(target, body.runs.map(function (r) { return { label: label(r), color: colorOf(r.run_id), value: r.values[0] }; }));
      } else {
        drawLine(target, body.runs.map(function (r) {
          return { id: r.run_id, label: label(r), color: colorOf(r.run_id), xs: r.steps, ys: r.values };
        }), { xmode: "step", height: 280 });
      }
      target.dataset.drawn = "1";
    }).catch(function (err) { target.textContent = "Could not load the chart: " + err.message; });
  }

  function start() {
    var data = document.getElementById("board-data"), root = document.getElementById("board");
    if (data && root) window.modelyardBoard = new Board(root, JSON.parse(data.textContent));
    document.querySelectorAll("section.run-charts[data-run]").forEach(runCharts);
    scan();
    // Fragments swapped in by htmx may bring new charts.
    document.body.addEventListener("htmx:afterSettle", scan);
  }

  function scan() {
    document.querySelectorAll("[data-plot=history][data-src]:not([data-started])").forEach(function (t) {
      t.dataset.started = "1";
      historyChart(t);
    });
  }

  window.modelyardCharts = { colorOf: colorOf };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
