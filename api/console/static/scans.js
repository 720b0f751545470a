/* The charts of the console's scans page (api/console/scans.py): each <div
   data-chart=NAME> draws the series NAME of the JSON block #scan-data with the bundled
   Apache ECharts; each <div data-map=NAME data-src=URL> fetches the GeoJSON at URL (this
   server's, built by tools/build_maps.py, features named by region code), registers it
   with ECharts and fills it with the units first scanned in each region (the data's
   NAME list). The tables under the charts hold the same figures, so the page is whole
   without this script. No inline script, no HTML tooltips (the CSP allows neither):
   tooltips are drawn on the canvas. */
(function () {
  "use strict";
  var block = document.getElementById("scan-data");
  if (!block || typeof echarts === "undefined") { return; }
  var data = JSON.parse(block.textContent);
  var names = { probe: data.words.serials };
  /* the choropleth classes of the first-regions table (scans.css .lv1 to .lv5) */
  var LEVELS = ["#eef4fc", "#d4e4f7", "#a9c8ee", "#6fa3e0", "#2f6fc4"];
  var charts = [];
  document.querySelectorAll("[data-chart]").forEach(function (el) {
    var series = data[el.getAttribute("data-chart")];
    if (!series || series.values.length === 0) { return; }
    var line = el.getAttribute("data-kind") === "line";
    el.classList.add("drawn");
    var chart = echarts.init(el, null, { renderer: "canvas" });
    chart.setOption({
      animation: false,
      grid: { left: line ? 48 : 150, right: 24, top: 16, bottom: 32 },
      tooltip: { trigger: "axis", renderMode: "richText" },
      xAxis: line
        ? { type: "category", data: series.labels }
        : { type: "value", minInterval: 1 },
      yAxis: line
        ? { type: "value", minInterval: 1 }
        : { type: "category", data: series.labels.slice().reverse(),
            axisLabel: { width: 140, overflow: "truncate" } },
      series: [{
        name: names[el.getAttribute("data-chart")] || data.words.scans,
        type: line ? "line" : "bar",
        data: line ? series.values : series.values.slice().reverse(),
        color: "#0b4fb3",
        barMaxWidth: 28
      }]
    });
    charts.push(chart);
  });

  /* Five classes as the table has them: a region's units as a fifth of the largest
     (class i holds the whole numbers above top*(i-1)/5 up to top*i/5; empty ones go). */
  function pieces(top) {
    return LEVELS.map(function (color, i) {
      var low = Math.floor(top * i / 5), high = Math.floor(top * (i + 1) / 5);
      var label = low + 1 === high ? String(high) : (low + 1) + "–" + high;
      return { gt: low, lte: high, color: color, label: label };
    }).filter(function (p) { return p.lte > p.gt; });
  }

  function drawMap(el, name, items, geojson) {
    echarts.registerMap(name, geojson);
    el.classList.add("drawn");
    var top = Math.max.apply(null, items.map(function (d) { return d.value; }));
    var labels = {};
    items.forEach(function (d) { labels[d.name] = d.label; });
    var chart = echarts.init(el, null, { renderer: "canvas" });
    chart.setOption({
      animation: false,
      title: { text: data.words["map." + name], left: 8, top: 6,
               textStyle: { fontSize: 13, fontWeight: "normal", color: "#3c4043" } },
      tooltip: {
        trigger: "item", renderMode: "richText",
        formatter: function (p) {
          var label = labels[p.name] || p.name;
          return isNaN(p.value) ? label : label + ": " + p.value + " " + data.words.units;
        }
      },
      visualMap: {
        type: "piecewise", pieces: pieces(top), left: 8, bottom: 8, itemWidth: 14,
        itemHeight: 10, textStyle: { fontSize: 11 }
      },
      series: [{
        name: data.words.units, type: "map", map: name,
        /* zoom in on small provinces, but only once the map is clicked: until then the
           wheel scrolls the page, as it does everywhere else */
        roam: false, scaleLimit: { min: 1, max: 10 },
        top: 32, bottom: 8, left: 8, right: 8,
        itemStyle: { areaColor: "#f1f3f4", borderColor: "#9aa0a6", borderWidth: 0.5 },
        emphasis: { label: { show: false }, itemStyle: { areaColor: "#fbbc04" } },
        select: { disabled: true },
        data: items
      }]
    });
    var roaming = false;
    function roam(on) {
      if (on === roaming) { return; }
      roaming = on;
      chart.setOption({ series: [{ roam: on }] });
      el.classList.toggle("roaming", on);
    }
    chart.getZr().on("click", function () { roam(true); });
    el.addEventListener("mouseleave", function () { roam(false); });
    /* a touch screen has no pointer to leave: a tap elsewhere gives the page back */
    document.addEventListener("pointerdown", function (e) {
      if (!el.contains(e.target)) { roam(false); }
    }, { passive: true });
    charts.push(chart);
  }

  document.querySelectorAll("[data-map]").forEach(function (el) {
    var name = el.getAttribute("data-map");
    var items = data[name];
    if (!items || items.length === 0) { return; }
    fetch(el.getAttribute("data-src"), { credentials: "omit" })
      .then(function (r) {
        if (!r.ok) { throw new Error("map " + name + ": HTTP " + r.status); }
        return r.json();
      })
      .then(function (geojson) { drawMap(el, name, items, geojson); })
      .catch(function (e) { console.warn(String(e)); });  /* the table stands */
  });
  window.addEventListener("resize", function () {
    charts.forEach(function (c) { c.resize(); });
  });
})();
