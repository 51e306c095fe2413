/* The case page's map: ban zones, and the contact-ban distance around the victim's home point
 * when the signed-in person may see it. Drawn without tiles (no tile server is needed). */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("case-map-data").textContent);
  var el = document.getElementById("case-map");
  if (!window.L || !el) return;
  var map = L.map(el, { attributionControl: false }).setView([52.1, 5.3], 7);
  var layers = L.featureGroup().addTo(map);
  data.zones.forEach(function (z) {
    var g = z.geometry;
    if (g.type === "Point" && g.radius_m) {
      L.circle([g.coordinates[1], g.coordinates[0]], { radius: g.radius_m, color: "#c40000" }).addTo(layers);
    } else {
      L.geoJSON(g, { style: { color: "#c40000" } }).addTo(layers);
    }
  });
  if (data.home) {
    var home = [data.home.lat, data.home.lon];
    L.circleMarker(home, { radius: 6, color: "#1e7b34" }).addTo(layers);
    data.contactBans.forEach(function (m) {
      if (m) L.circle(home, { radius: m, color: "#e07000", dashArray: "4 4" }).addTo(layers);
    });
  }
  var bounds = layers.getBounds();
  if (bounds.isValid()) map.fitBounds(bounds.pad(0.2));
})();
