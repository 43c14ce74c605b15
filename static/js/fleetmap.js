// The fleet map (Leaflet): every vehicle's last position, drawn from the JSON the server put in the page
// (json_script, so no inline script under the Content-Security-Policy). htmx swaps that JSON every minute; the map
// redraws the markers and keeps its view. Below CLUSTER_BELOW_ZOOM vehicles closer than CELL pixels are one circle.
(function () {
  "use strict";

  var COLOURS = { driving: "#1f6feb", charging: "#1a7f37", parked: "#6e7781", asleep: "#bf8700", unknown: "#afb8c1" };
  var CELL = 48;
  var CLUSTER_BELOW_ZOOM = 13;
  var map, markers, fitted = false;

  function readJson(id) {
    var element = document.getElementById(id);
    return element ? JSON.parse(element.textContent) : null;
  }

  // A vehicle: [id, nickname, year, make, model, latitude, longitude, state, minutes since its data was recorded].
  function name(data, v) {
    return v[1] || [v[2], data.makes[v[3]] || v[3], v[4]].filter(function (part) { return part; }).join(" ");
  }

  function vehicleMarker(data, vehicle) {
    var marker = window.L.circleMarker([vehicle[5], vehicle[6]], {
      radius: 7, color: "#fff", weight: 2, fillColor: COLOURS[vehicle[7]] || COLOURS.unknown, fillOpacity: 0.95,
    });
    var link = document.createElement("a");
    link.href = data.link.replace("/0/", "/" + vehicle[0] + "/");
    link.textContent = name(data, vehicle);
    var box = document.createElement("div");
    box.appendChild(link);
    var state = document.createElement("div");
    var age = vehicle[8];
    state.textContent = (data.states[vehicle[7]] || "") + (age !== null ? " · data from " + age + " min ago" : "");
    box.appendChild(state);
    marker.bindPopup(box);
    return marker;
  }

  function clusterMarker(group) {
    var lat = 0, lon = 0;
    group.forEach(function (v) { lat += v[5]; lon += v[6]; });
    var size = group.length < 10 ? 28 : group.length < 100 ? 34 : 42;
    var marker = window.L.marker([lat / group.length, lon / group.length], {
      icon: window.L.divIcon({ className: "cluster", html: String(group.length), iconSize: [size, size] }),
      title: group.length + " vehicles",
    });
    marker.on("click", function () {
      var bounds = window.L.latLngBounds(group.map(function (v) { return [v[5], v[6]]; }));
      map.fitBounds(bounds, { padding: [30, 30], maxZoom: CLUSTER_BELOW_ZOOM });
    });
    return marker;
  }

  function draw() {
    var data = readJson("fleet-map-data");
    if (!data || !map) return;
    markers.clearLayers();
    data.places.forEach(function (place) {
      window.L.circle([place[2], place[3]], { radius: place[4], color: "#8250df", weight: 2, fillOpacity: 0.08 })
        .bindTooltip(place[0]).addTo(markers);
    });
    var zoom = map.getZoom();
    if (zoom >= CLUSTER_BELOW_ZOOM) {
      data.vehicles.forEach(function (v) { vehicleMarker(data, v).addTo(markers); });
    } else {
      var cells = {};
      data.vehicles.forEach(function (v) {
        var point = map.project([v[5], v[6]], zoom);
        var key = Math.floor(point.x / CELL) + ":" + Math.floor(point.y / CELL);
        (cells[key] = cells[key] || []).push(v);
      });
      Object.keys(cells).forEach(function (key) {
        var group = cells[key];
        (group.length === 1 ? vehicleMarker(data, group[0]) : clusterMarker(group)).addTo(markers);
      });
    }
  }

  function fit() {
    var data = readJson("fleet-map-data");
    var points = (data ? data.vehicles : []).map(function (v) { return [v[5], v[6]]; });
    (data ? data.places : []).forEach(function (p) { points.push([p[2], p[3]]); });
    if (points.length === 1) map.setView(points[0], 13);
    else if (points.length) map.fitBounds(points, { padding: [20, 20] });
    else map.setView([20, 0], 2);
    fitted = true;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var container = document.getElementById("fleet-map");
    if (!container || !window.L) return;
    var tiles = readJson("map-tiles") || {};
    map = window.L.map(container, { attributionControl: !!tiles.url });
    if (tiles.url) {
      window.L.tileLayer(tiles.url, { attribution: tiles.attribution || "", maxZoom: 19 }).addTo(map);
    }
    markers = window.L.layerGroup().addTo(map);
    map.on("zoomend", draw);
    fit();
    draw();
  });

  // The refreshed JSON has replaced the old one (outerHTML swap): redraw from it.
  document.addEventListener("htmx:afterSettle", function () {
    if (!map) return;
    if (!fitted) fit();
    draw();
  });
})();
