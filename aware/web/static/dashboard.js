/* Municipality dashboard charts (Chart.js, served by the app). Counts from 1 to 4 arrive as
 * "<5" and are drawn as gaps: the tables beside the charts show "<5". */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var S = JSON.parse(document.getElementById("report-strings").textContent);
  var printLink = document.getElementById("print-link");
  if (printLink) printLink.addEventListener("click", function (e) { e.preventDefault(); window.print(); });
  if (!window.Chart) return;
  Chart.defaults.animation = false; // printable straight away
  var colours = ["#12263f", "#c40000", "#e07000", "#1e7b34", "#6b3fa0", "#0077aa", "#7a7a7a", "#b08900"];

  function num(v) { return typeof v === "number" ? v : null; }

  function chart(id, config) {
    var el = document.getElementById(id);
    if (!el) return;
    var c = new Chart(el, config);
    el.dataset.rendered = "true";
    return c;
  }

  var v = data.victims;
  chart("chart-victims", {
    type: "bar",
    data: {
      labels: [S.high_concern, S.with_active_device, S.waiting, S.refused, S.never_applied],
      datasets: [{ label: S.victims, backgroundColor: colours[0],
        data: [v.high_concern, v.with_active_device, v.waiting, v.refused, v.never_applied].map(num) }],
    },
    options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true } } },
  });

  var months = [];
  var types = [];
  data.alarms_by_month.forEach(function (r) {
    if (months.indexOf(r.month) < 0) months.push(r.month);
    if (types.indexOf(r.type) < 0) types.push(r.type);
  });
  months.sort();
  chart("chart-alarms", {
    type: "bar",
    data: {
      labels: months,
      datasets: types.map(function (t, i) {
        return {
          label: S.types[t] || t,
          backgroundColor: colours[i % colours.length],
          data: months.map(function (m) {
            var total = 0, any = false;
            data.alarms_by_month.forEach(function (r) {
              if (r.month === m && r.type === t && typeof r.count === "number") { total += r.count; any = true; }
            });
            return any ? total : null;
          }),
        };
      }),
    },
    options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } },
  });

  var a = data.acceptance;
  chart("chart-acceptance", {
    type: "bar",
    data: {
      labels: [S.within10, S.within40],
      datasets: [
        { label: S.share, backgroundColor: colours[3], data: [a.share_10s, a.share_40s].map(function (x) { return x === null ? null : x * 100; }) },
        { label: S.target, backgroundColor: colours[6], data: [a.target_10s * 100, a.target_40s * 100] },
      ],
    },
    options: { scales: { y: { beginAtZero: true, max: 100 } } },
  });

  if (data.comparison && data.comparison.length > 1) {
    chart("chart-comparison", {
      type: "bar",
      data: {
        labels: data.comparison.map(function (r) { return r.name || r.municipality; }),
        datasets: [
          { label: S.high_concern, backgroundColor: colours[0], data: data.comparison.map(function (r) { return num(r.high_concern); }) },
          { label: S.with_active_device, backgroundColor: colours[3], data: data.comparison.map(function (r) { return num(r.with_active_device); }) },
          { label: S.waiting, backgroundColor: colours[2], data: data.comparison.map(function (r) { return num(r.waiting); }) },
        ],
      },
      options: { scales: { y: { beginAtZero: true } } },
    });
  }
})();
