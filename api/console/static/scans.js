/* The charts of the console's scans page (api/console/scans.py): each <div
   data-chart=NAME> draws the series NAME of the JSON block #scan-data with the bundled
   Apache ECharts. The tables under the charts hold the same figures, so the page is
   whole without this script. No inline script, no HTML tooltips (the CSP allows
   neither): tooltips are drawn on the canvas. */
(function () {
  "use strict";
  var block = document.getElementById("scan-data");
  if (!block || typeof echarts === "undefined") { return; }
  var data = JSON.parse(block.textContent);
  var names = { first: data.words.units, probe: data.words.serials };
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
  window.addEventListener("resize", function () {
    charts.forEach(function (c) { c.resize(); });
  });
})();
