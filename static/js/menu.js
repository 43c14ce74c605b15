// On a phone the navigation folds behind a Menu button (fleet.css, "Phone"), so that a page starts with its own
// content rather than two screens' worth of links. Without this script the navigation simply stays open.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var button = document.querySelector(".nav-toggle");
    var bar = document.querySelector(".topbar");
    if (!button || !bar) return;
    button.hidden = false;
    bar.classList.add("folds");
    button.addEventListener("click", function () {
      button.setAttribute("aria-expanded", String(bar.classList.toggle("open")));
    });
  });
})();
