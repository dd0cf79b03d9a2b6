/* Charts of the usage pages (X-PLOT, M-DL-5). Data comes from <script type="application/json"> blocks written by
   json_script (the CSP allows no inline script); each <canvas data-usage-chart data-source> names its block.
   Block: {labels, bars: {label, data}, line?: {label, data}, reference?: {label, value}, y_bars, y_line?}. */
(function () {
  "use strict";

  function num(v, digits) {
    return Number(v || 0).toLocaleString(undefined, { maximumFractionDigits: digits });
  }

  function draw(canvas) {
    var source = document.getElementById(canvas.getAttribute("data-source"));
    if (!source || !window.Chart) { return; }
    var data = JSON.parse(source.textContent);
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
    new window.Chart(canvas, {
      data: { labels: data.labels, datasets: datasets },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        interaction: { mode: "index", intersect: false },
        scales: scales,
        plugins: {
          legend: { position: "bottom", labels: { boxWidth: 12, boxHeight: 12 } },
          tooltip: { callbacks: { label: function (ctx) { return ctx.dataset.label + ": " + num(ctx.parsed.y, 2); } } }
        }
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("canvas[data-usage-chart]").forEach(draw);
  });
})();
