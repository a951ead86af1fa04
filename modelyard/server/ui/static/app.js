// modelyard UI: small conveniences (charts: charts.js). No build step.
(function () {
  "use strict";
  // A URL built by a script, kept in the page's workspace as the server's links are (ui/links.py marks the
  // page <body data-workspace="prod">): modelyardLink("/runs/ID") on a prod page is "/runs/ID?workspace=prod".
  window.modelyardLink = function (url) {
    var ws = document.body && document.body.getAttribute("data-workspace");
    var hash = url.indexOf("#"), path = hash < 0 ? url : url.slice(0, hash), rest = hash < 0 ? "" : url.slice(hash);
    if (!ws || /[?&]workspace=/.test(path)) return url;
    return path + (path.indexOf("?") < 0 ? "?" : "&") + "workspace=" + encodeURIComponent(ws) + rest;
  };
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

  // Groups of the runs table: <button data-group-toggle="G" aria-expanded> folds the rows
  // <tr data-group="G"> (a class, so that nested rows keep their own hidden state).
  document.addEventListener("click", function (ev) {
    var button = ev.target.closest && ev.target.closest("button[data-group-toggle]");
    if (!button) return;
    var open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", open ? "true" : "false");
    button.textContent = open ? "\u25BE" : "\u25B8";
    button.setAttribute("aria-label", button.getAttribute("aria-label").replace(/^(Fold|Unfold)/, open ? "Fold" : "Unfold"));
    document.querySelectorAll('tr[data-group="' + button.getAttribute("data-group-toggle") + '"]').forEach(function (row) {
      row.classList.toggle("group-folded", !open);
    });
  });
})();
