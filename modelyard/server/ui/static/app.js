// modelyard UI: metric charts (uPlot) and small conveniences. No build step.
(function () {
  "use strict";
  var COLORS = ["#3b6fd8", "#d8573b", "#2a9d5c", "#9b59b6", "#e0a800", "#16a2b8", "#c2185b", "#6d4c41"];

  // Align each run's (steps, values) on the union of steps: uPlot's data layout.
  function align(runs) {
    var set = {}, xs = [];
    runs.forEach(function (r) { r.steps.forEach(function (s) { if (!set[s]) { set[s] = 1; xs.push(s); } }); });
    xs.sort(function (a, b) { return a - b; });
    var index = {}; xs.forEach(function (s, i) { index[s] = i; });
    var data = [xs];
    runs.forEach(function (r) {
      var ys = new Array(xs.length).fill(null);
      r.steps.forEach(function (s, i) { ys[index[s]] = r.values[i]; });
      data.push(ys);
    });
    return data;
  }

  function draw(el) {
    if (el.dataset.drawn) return;
    el.dataset.drawn = "1";
    fetch(el.dataset.src, { headers: { Accept: "application/json" } })
      .then(function (resp) { return resp.json(); })
      .then(function (body) {
        if (body.error) { el.innerHTML = ""; var p = document.createElement("p"); p.className = "error"; p.textContent = body.error; el.appendChild(p); return; }
        if (!body.runs.length) { el.innerHTML = '<p class="empty">No points.</p>'; return; }
        var series = [{ label: "step" }];
        body.runs.forEach(function (r, i) {
          series.push({ label: r.name, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: true,
                        points: { show: r.steps.length < 60 } });
        });
        var width = Math.max(el.clientWidth, 240);
        var height = el.classList.contains("small") ? 170 : 260;
        el.innerHTML = "";
        var plot = new uPlot({ width: width, height: height, series: series, scales: { x: { time: false } },
                               legend: { show: body.runs.length > 1 || !el.classList.contains("small") },
                               axes: [{ label: "step" }, {}] }, align(body.runs), el);
        el.dataset.points = String(body.runs.reduce(function (n, r) { return n + r.steps.length; }, 0));
        new ResizeObserver(function () { plot.setSize({ width: Math.max(el.clientWidth, 240), height: height }); }).observe(el);
      })
      .catch(function (err) { el.textContent = "Could not load the chart: " + err; });
  }

  var lazy = "IntersectionObserver" in window ? new IntersectionObserver(function (entries) {
    entries.forEach(function (e) { if (e.isIntersecting) { lazy.unobserve(e.target); draw(e.target); } });
  }, { rootMargin: "200px" }) : null;

  function scan(root) {
    (root || document).querySelectorAll("[data-chart]:not([data-drawn])").forEach(function (el) {
      if (lazy) lazy.observe(el); else draw(el);
    });
  }

  // Forms asking for confirmation: <form data-confirm="Delete X?">.
  document.addEventListener("submit", function (ev) {
    var msg = ev.target.getAttribute && ev.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) { ev.preventDefault(); ev.stopImmediatePropagation(); }
  }, true);

  // A form acting on the runs ticked in another form: <form data-selection="select-form">. The ticked
  // boxes are copied in as hidden fields when it is sent (before htmx reads the form).
  document.addEventListener("submit", function (ev) {
    var form = ev.target, owner = form.getAttribute && form.getAttribute("data-selection");
    if (!owner) return;
    form.querySelectorAll("input[data-copied]").forEach(function (el) { el.remove(); });
    document.querySelectorAll('input[form="' + owner + '"][name="run"]:checked').forEach(function (box) {
      var copy = document.createElement("input");
      copy.type = "hidden"; copy.name = "run"; copy.value = box.value; copy.setAttribute("data-copied", "");
      form.appendChild(copy);
    });
  }, true);

  // Nested runs under their parent: <button data-expand="PARENT_ID" aria-expanded> shows the rows
  // <tr data-parent="PARENT_ID" hidden>.
  document.addEventListener("click", function (ev) {
    var button = ev.target.closest && ev.target.closest("button[data-expand]");
    if (!button) return;
    var open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", open ? "true" : "false");
    button.textContent = open ? "\u25BE" : "\u25B8";
    document.querySelectorAll('tr[data-parent="' + button.getAttribute("data-expand") + '"]').forEach(function (row) {
      row.hidden = !open;
    });
  });

  function start() {
    scan(document);
    // Swapped-in fragments (htmx, live polling) bring new charts.
    new MutationObserver(function () { scan(document); }).observe(document.body, { childList: true, subtree: true });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
