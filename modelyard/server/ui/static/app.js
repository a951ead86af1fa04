// modelyard UI: small conveniences (charts: charts.js). No build step.
(function () {
  "use strict";
  // Forms asking for confirmation: <form data-confirm="Delete X?">.
  document.addEventListener("submit", function (ev) {
    var msg = ev.target.getAttribute && ev.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) { ev.preventDefault(); ev.stopImmediatePropagation(); }
  }, true);

})();
