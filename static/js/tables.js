// On a phone every table of the pages is shown as a stack of cards, one per row (fleet.css, "Phone"): a card has no
// column headings above it, so each cell is labelled here with its column's heading, which the stylesheet shows
// beside the value. Rows that htmx swaps in later (live tables, command log) are labelled as they arrive.
(function () {
  "use strict";
  var TABLES = ".container table:not(.u-legend)";

  function headings(table) {
    var row = table.tHead && table.tHead.rows[0];
    var names = [];
    if (!row) return names;
    Array.prototype.forEach.call(row.cells, function (cell) {
      var name = cell.textContent.replace(/[▴▾]/g, "").trim();
      for (var span = 0; span < cell.colSpan; span++) names.push(name);
    });
    return names;
  }

  function label(root) {
    var tables = root.matches && root.matches(TABLES) ? [root] : root.querySelectorAll(TABLES);
    Array.prototype.forEach.call(tables, function (table) {
      var names = headings(table);
      Array.prototype.forEach.call(table.tBodies, function (body) {
        Array.prototype.forEach.call(body.rows, function (row) {
          var column = 0;
          Array.prototype.forEach.call(row.cells, function (cell) {
            if (!cell.hasAttribute("data-label")) cell.setAttribute("data-label", cell.colSpan > 1 ? "" : names[column] || "");
            // An empty cell would leave its label alone on a card.
            var empty = !cell.textContent.trim() && !cell.querySelector("input, button, select, img, svg, canvas");
            cell.toggleAttribute("data-empty", empty);
            column += cell.colSpan;
          });
        });
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { label(document); });
  // A swapped-in row belongs to a table that is already labelled: relabel the whole page, which is cheap.
  document.addEventListener("htmx:load", function () { label(document); });
})();
