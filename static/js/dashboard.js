// Live fragments (tiles, vehicle table, command status) poll with htmx. A hidden tab does not poll: htmx's trigger
// filters would need eval, which the Content-Security-Policy forbids, so the pause lives here instead. When the tab
// becomes visible again, each paused fragment refreshes at once.
(function () {
  "use strict";
  document.addEventListener("htmx:beforeRequest", function (event) {
    var source = event.detail && event.detail.elt;
    if (document.hidden && source && source.hasAttribute && source.hasAttribute("data-pause-when-hidden")) {
      event.preventDefault();
      source.setAttribute("data-missed-refresh", "");
    }
  });
  document.addEventListener("visibilitychange", function () {
    if (document.hidden || !window.htmx) return;
    document.querySelectorAll("[data-missed-refresh]").forEach(function (element) {
      element.removeAttribute("data-missed-refresh");
      window.htmx.trigger(element, "fleet:refresh");
    });
  });
})();
