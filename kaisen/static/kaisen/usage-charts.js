/* Charts of the usage pages (X-PLOT, M-DL-5), drawn by KaisenCharts (charts.js) on every
   <canvas data-usage-chart data-source>. Block: {labels, bars: {label, data}, line?: {label, data},
   reference?: {label, value}, y_bars, y_line?}. */
(function () {
  "use strict";

  function num(v, digits) {
    return Number(v || 0).toLocaleString(undefined, { maximumFractionDigits: digits });
  }

  window.KaisenCharts.drawAll("canvas[data-usage-chart]", function (data) {
    var datasets = [{ type: "bar", label: data.bars.label, data: data.bars.data, backgroundColor: "#1f6feb",
                      borderRadius: 3, yAxisID: "y", order: 2 }];
    var scales = {
      x: { grid: { display: false } },
      y: { beginAtZero: true, title: { display: true, text: data.y_bars },
           ticks: { callback: function (v) { return num(v, 1); } } }
    };
    if (data.line) {
      datasets.push({ type: "line", label: data.line.label, data: data.line.data, borderColor: "#bf8700",
                      backgroundColor: "#bf8700", tension: 0.25, pointRadius: 2, yAxisID: "y2", order: 1 });
      scales.y2 = { beginAtZero: true, position: "right", grid: { drawOnChartArea: false },
                    title: { display: true, text: data.y_line } };
    }
    if (data.reference) {
      datasets.push({ type: "line", label: data.reference.label,
                      data: data.labels.map(function () { return data.reference.value; }),
                      borderColor: "#8c959f", borderDash: [6, 4], borderWidth: 1.5, pointRadius: 0, yAxisID: "y", order: 0 });
    }
    return { datasets: datasets, scales: scales, format: function (v) { return num(v, 2); } };
  });
})();
