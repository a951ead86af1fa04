// modelyard trace page: a virtualised span tree with a waterfall. The page carries every span as
// columns (ids, parent index, name, type, status, start and duration in µs); only the rows in view
// are in the DOM, so a trace of 32,000 spans draws as fast as one of 30. No build step.
(function () {
  "use strict";
  var ROW = 24, OVERSCAN = 12;

  function fmt(us) {
    if (us < 0) return "…";
    if (us < 1000) return us + " µs";
    if (us < 1e6) return (us / 1000).toFixed(us < 1e4 ? 2 : 1) + " ms";
    return (us / 1e6).toFixed(2) + " s";
  }

  function init() {
    var tree = document.getElementById("span-tree");
    var data = document.getElementById("span-outline");
    if (!tree || !data) return;
    var o = JSON.parse(data.textContent);
    var n = o.ids.length, total = Math.max(o.total, 1);
    document.getElementById("span-total").textContent = fmt(o.total);
    // Children lists (spans come sorted by start time, so children are too); orphans are roots.
    var kids = new Array(n), roots = [], depth = new Int32Array(n), open = new Uint8Array(n);
    for (var i = 0; i < n; i++) {
      var p = o.parent[i];
      if (p < 0 || p === i) roots.push(i); else (kids[p] || (kids[p] = [])).push(i);
    }
    for (i = 0; i < n; i++) open[i] = 1;
    var visible = [], selected = -1, match = null;
    // Depth-first order of the open spans (iterative: a deep chain would overflow the stack).
    function flatten() {
      visible = [];
      var stack = [];
      for (var r = roots.length - 1; r >= 0; r--) { stack.push(roots[r]); depth[roots[r]] = 0; }
      while (stack.length) {
        var s = stack.pop();
        visible.push(s);
        var k = kids[s];
        if (k && open[s]) for (var j = k.length - 1; j >= 0; j--) { depth[k[j]] = depth[s] + 1; stack.push(k[j]); }
      }
      spacer.style.height = visible.length * ROW + "px";
    }
    var spacer = tree.querySelector(".span-spacer");
    var layer = document.createElement("div");
    layer.className = "span-rows";
    tree.appendChild(layer);

    function row(s, pos) {
      var el = document.createElement("div");
      el.className = "span-row" + (s === selected ? " selected" : "") + (o.status[s] === "ERROR" ? " error" : "")
        + (match && match[s] ? " match" : "");
      el.setAttribute("role", "treeitem");
      el.setAttribute("aria-level", depth[s] + 1);
      if (kids[s]) el.setAttribute("aria-expanded", open[s] ? "true" : "false");
      el.dataset.i = s;
      el.style.top = pos * ROW + "px";
      var name = document.createElement("span");
      name.className = "col-name";
      name.style.paddingLeft = Math.min(depth[s], 40) * 12 + 4 + "px";
      var tw = document.createElement("span");
      tw.className = "twisty";
      tw.textContent = kids[s] ? (open[s] ? "▾" : "▸") : "";
      name.appendChild(tw);
      name.appendChild(document.createTextNode(o.name[s]));
      if (o.type[s]) { var t = document.createElement("span"); t.className = "span-type"; t.textContent = o.type[s]; name.appendChild(t); }
      if (kids[s] && !open[s]) { var c = document.createElement("span"); c.className = "meta"; c.textContent = " (" + kids[s].length + ")"; name.appendChild(c); }
      var bar = document.createElement("span");
      bar.className = "col-bar";
      var b = document.createElement("i");
      var d = o.dur[s] < 0 ? total - o.start[s] : o.dur[s];
      b.style.left = (o.start[s] / total * 100) + "%";
      b.style.width = Math.max(d / total * 100, 0.2) + "%";
      bar.appendChild(b);
      var dur = document.createElement("span");
      dur.className = "col-dur";
      dur.textContent = fmt(o.dur[s]);
      el.appendChild(name); el.appendChild(bar); el.appendChild(dur);
      return el;
    }

    var drawn = -1, drawnEnd = -1;
    function draw(force) {
      var top = tree.scrollTop, h = tree.clientHeight || 600;
      var first = Math.max(0, Math.floor(top / ROW) - OVERSCAN);
      var last = Math.min(visible.length, Math.ceil((top + h) / ROW) + OVERSCAN);
      if (!force && first === drawn && last === drawnEnd) return;
      drawn = first; drawnEnd = last;
      var frag = document.createDocumentFragment();
      for (var k = first; k < last; k++) frag.appendChild(row(visible[k], k));
      layer.replaceChildren(frag);
    }

    function select(s) {
      selected = s;
      draw(true);
      var url = "/traces/" + encodeURIComponent(tree.dataset.trace) + "/spans/" + o.ids[s];
      if (window.htmx) window.htmx.ajax("GET", url, { target: "#span-detail", select: "#span-detail", swap: "outerHTML" });
    }

    function reveal(s) {
      for (var p = o.parent[s]; p >= 0 && p !== s; p = o.parent[p]) open[p] = 1;
      flatten();
      var pos = visible.indexOf(s);
      if (pos >= 0) tree.scrollTop = Math.max(0, pos * ROW - tree.clientHeight / 3);
    }

    tree.addEventListener("scroll", function () { draw(false); }, { passive: true });
    tree.addEventListener("click", function (ev) {
      var el = ev.target.closest(".span-row");
      if (!el) return;
      var s = +el.dataset.i;
      if (ev.target.classList.contains("twisty") && kids[s]) { open[s] = open[s] ? 0 : 1; flatten(); draw(true); return; }
      select(s);
    });
    tree.addEventListener("keydown", function (ev) {
      var pos = visible.indexOf(selected);
      if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
        pos = Math.max(0, Math.min(visible.length - 1, pos + (ev.key === "ArrowDown" ? 1 : -1)));
        ev.preventDefault(); reveal(visible[pos]); select(visible[pos]);
      } else if ((ev.key === "ArrowLeft" || ev.key === "ArrowRight") && selected >= 0 && kids[selected]) {
        open[selected] = ev.key === "ArrowRight" ? 1 : 0; ev.preventDefault(); flatten(); draw(true);
      }
    });
    document.getElementById("spans-expand").addEventListener("click", function () { open.fill(1); flatten(); draw(true); });
    document.getElementById("spans-collapse").addEventListener("click", function () {
      for (var k = 0; k < n; k++) open[k] = kids[k] ? 0 : 1;
      flatten(); tree.scrollTop = 0; draw(true);
    });
    var find = document.getElementById("span-find"), found = document.getElementById("span-found"), timer = 0;
    find.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var q = find.value.trim().toLowerCase();
        if (!q) { match = null; found.textContent = ""; draw(true); return; }
        match = new Uint8Array(n);
        var count = 0, firstHit = -1;
        for (var k = 0; k < n; k++) if (o.name[k].toLowerCase().indexOf(q) >= 0) { match[k] = 1; count++; if (firstHit < 0) firstHit = k; }
        found.textContent = count + " found";
        if (firstHit >= 0) reveal(firstHit);
        draw(true);
      }, 200);
    });
    flatten();
    draw(true);
    tree.dataset.ready = String(n);
    if (n) select(roots.length ? roots[0] : 0);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();
