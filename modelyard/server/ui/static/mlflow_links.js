// MLflow's UI links (/#/experiments/1/runs/ID, /#/models/NAME/versions/N) land on our page for the same thing.
// Fragments never reach the server, so the page at "/" loads this and redirects before it draws.
(function () {
  "use strict";
  var ID = "([0-9A-Za-z_-]+)";
  var ROUTES = [
    [new RegExp("^#/experiments/" + ID + "/runs/" + ID + "(?:[/?].*)?$"), function (m) { return "/runs/" + m[2]; }],
    [new RegExp("^#/experiments/" + ID + "(?:[/?].*)?$"), function (m) { return "/experiments/" + m[1]; }],
    [/^#\/models\/([^/?]+)\/versions\/([0-9]+)(?:[/?].*)?$/, function (m) { return "/models/" + name(m[1]) + "/versions/" + m[2]; }],
    [/^#\/models\/([^/?]+)\/?$/, function (m) { return "/models/" + name(m[1]); }],
    [/^#\/models\/?$/, function () { return "/models"; }]
  ];

  function name(encoded) {
    try { return encodeURIComponent(decodeURIComponent(encoded)); } catch (e) { return encodeURIComponent(encoded); }
  }

  // The page's workspace (/?workspace=prod#/models/churn: prod's churn). This runs before <body> exists.
  function inWorkspace() {
    var ws = new URLSearchParams(window.location.search).get("workspace");
    return ws ? "?workspace=" + encodeURIComponent(ws) : "";
  }

  var hash = window.location.hash;
  if (window.location.pathname !== "/" || hash.indexOf("#/") !== 0) return;
  for (var i = 0; i < ROUTES.length; i++) {
    var m = ROUTES[i][0].exec(hash);
    if (m) { window.location.replace(ROUTES[i][1](m) + inWorkspace()); return; }
  }
})();
