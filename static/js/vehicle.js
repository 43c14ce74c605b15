// The vehicle page's charts (uPlot) and map (Leaflet), drawn from JSON the server put in the page
// (json_script), so that no inline script is needed under the Content-Security-Policy.
(function () {
  "use strict";

  function readJson(id) {
    var element = document.getElementById(id);
    return element ? JSON.parse(element.textContent) : null;
  }

  // The time axis on the 24-hour clock, days as "30 Nov" (fleet/formatting.py writes times the same way). Each row:
  // the tick spacing it applies from, the tick's label, then the label added when the year or day changes. Ticks less
  // than a minute apart carry the whole time ("14:05:20"): seconds alone (":20") do not tell a manager when.
  var D = 86400, H = 3600, M = 60;
  var TIME_AXIS = [
    [D * 365, "{YYYY}", null, null, null, null, null, null, 1],
    [D * 28, "{MMM}", "\n{YYYY}", null, null, null, null, null, 1],
    [D, "{D} {MMM}", "\n{YYYY}", null, null, null, null, null, 1],
    [H, "{HH}:{mm}", "\n{D} {MMM} {YYYY}", null, "\n{D} {MMM}", null, null, null, 1],
    [M, "{HH}:{mm}", "\n{D} {MMM} {YYYY}", null, "\n{D} {MMM}", null, null, null, 1],
    [1, "{HH}:{mm}:{ss}", "\n{D} {MMM} {YYYY}", null, "\n{D} {MMM}", null, null, null, 1],
  ];
  // Pixels between ticks: "14:05:20" needs more room than "14:05", or a phone's labels would touch.
  function timeAxisSpace(u, axis, min, max) {
    return max - min < 30 * M ? 70 : 50;
  }

  // The value axis as wide as its longest label needs (at least 60 px): "100,000" for an odometer is not cut off.
  function valueAxisSize(u, values, axisIndex, cycle) {
    var axis = u.axes[axisIndex];
    if (cycle > 1) return axis._size;
    var longest = (values || []).reduce(function (found, value) {
      return String(value).length > found.length ? String(value) : found;
    }, "");
    u.ctx.font = axis.font[0];
    var text = longest ? u.ctx.measureText(longest).width / window.devicePixelRatio : 0;
    return Math.max(60, Math.ceil(axis.ticks.size + axis.gap + text + 4));
  }

  // Dates in the fleet's time zone rather than the browser's.
  function zonedDate(zone) {
    return function (seconds) {
      return zone ? window.uPlot.tzDate(new Date(seconds * 1e3), zone) : new Date(seconds * 1e3);
    };
  }

  function drawCharts() {
    var charts = readJson("chart-data");
    if (!charts || !window.uPlot) return;
    document.querySelectorAll("[data-chart]").forEach(function (figure) {
      var chart = charts[figure.getAttribute("data-chart")];
      if (!chart) return;
      var width = Math.max(280, figure.clientWidth || 320);
      var holder = figure.closest("[data-time-zone]");
      // The server may fix the time axis ("x_range") and the floor of the value axis ("y_min", e.g. 0 for energy).
      var scales = { x: { time: true } };
      if (chart.x_range) scales.x.range = chart.x_range;
      if (chart.y_min !== undefined) {
        scales.y = {
          range: function (u, min, max) {
            return [chart.y_min, max > chart.y_min ? max + (max - chart.y_min) * 0.1 : chart.y_min + 1];
          },
        };
      }
      // Kept on the figure so that a test (or a console) can read what the axes show.
      figure.plot = new window.uPlot(
        {
          width: width,
          height: 180,
          legend: { show: false },
          tzDate: zonedDate(holder && holder.getAttribute("data-time-zone")),
          scales: scales,
          series: [{}, { label: chart.label, stroke: "#1f6feb", width: 2, fill: "rgba(31,111,235,0.08)" }],
          axes: [{ values: TIME_AXIS, space: timeAxisSpace }, { size: valueAxisSize }],
        },
        chart.data,
        figure
      );
    });
  }

  function drawMap() {
    var container = document.getElementById("map");
    if (!container || !window.L) return;
    var track = readJson("track-data") || [];
    var position = readJson("position-data");
    var tiles = readJson("map-tiles") || {};
    var map = window.L.map(container, { attributionControl: !!tiles.url });
    if (tiles.url) {
      window.L.tileLayer(tiles.url, { attribution: tiles.attribution || "", maxZoom: 19 }).addTo(map);
    }
    var points = track.map(function (p) { return [p[0], p[1]]; });
    if (position && (!points.length || points[points.length - 1][0] !== position[0])) points.push(position);
    if (points.length > 1) {
      window.L.polyline(points, { color: "#1f6feb", weight: 3, opacity: 0.8 }).addTo(map);
    }
    points.forEach(function (point, index) {
      var last = index === points.length - 1;
      window.L.circleMarker(point, {
        radius: last ? 8 : 3, color: last ? "#cf222e" : "#1f6feb", fillOpacity: last ? 0.9 : 0.5,
      }).addTo(map);
    });
    if (points.length === 1) map.setView(points[0], 13);
    else if (points.length) map.fitBounds(points, { padding: [20, 20] });
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawCharts();
    drawMap();
  });
})();
