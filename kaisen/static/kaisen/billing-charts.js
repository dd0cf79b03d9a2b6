/* Charts of the Charges pages (X-PLOT, S-BILL-2), drawn by KaisenCharts (charts.js) on every
   <canvas data-chart data-source>. Block: {labels, series: [{key, label, data}], line?: {label, data, axis?},
   currency}. */
(function () {
  "use strict";
  var COLORS = { daily: "#1f6feb", domestic: "#1f6feb", international: "#8250df", mobile: "#1a7f43", sms: "#bf8700", other: "#8c959f" };

  function money(value, currency) {
    var n = Number(value || 0);
    if (currency === "USD") { return "US$" + n.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 }); }
    return "¥" + n.toLocaleString("ja-JP", { maximumFractionDigits: 2 });
  }

  window.KaisenCharts.drawAll("canvas[data-chart]", function (data) {
    var datasets = data.series.map(function (s) {
      return { type: "bar", label: s.label, data: s.data, backgroundColor: COLORS[s.key] || "#57606a", stack: "charges",
               borderRadius: 2, order: 2 };
    });
    if (data.line) {
      datasets.push({ type: "line", label: data.line.label, data: data.line.data, borderColor: "#14202e", stack: "line",
                      backgroundColor: "#14202e", tension: 0, pointRadius: 3, order: 1, spanGaps: false,
                      yAxisID: data.line.axis === "y2" ? "y2" : "y" });
    }
    function format(v) { return money(v, data.currency); }
    return {
      datasets: datasets,
      scales: {
        x: { stacked: true, grid: { display: false } },
        y: { stacked: true, beginAtZero: true, ticks: { callback: format } },
        y2: { display: !!(data.line && data.line.axis === "y2"), position: "right", beginAtZero: true,
              grid: { drawOnChartArea: false }, ticks: { callback: format } }
      },
      format: format
    };
  });
})();
