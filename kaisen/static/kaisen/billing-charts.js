/* Charts of the Charges pages (X-PLOT, S-BILL-2). Data comes from <script type="application/json"> blocks
   written by json_script (the CSP allows no inline script); each <canvas data-chart data-source> names its block. */
(function () {
  "use strict";
  var COLORS = { daily: "#1f6feb", domestic: "#1f6feb", international: "#8250df", mobile: "#1a7f43", sms: "#bf8700", other: "#8c959f" };

  function money(value, currency) {
    var n = Number(value || 0);
    if (currency === "USD") { return "US$" + n.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 }); }
    return "¥" + n.toLocaleString("ja-JP", { maximumFractionDigits: 2 });
  }

  function draw(canvas) {
    var source = document.getElementById(canvas.getAttribute("data-source"));
    if (!source || !window.Chart) { return; }
    var data = JSON.parse(source.textContent);
    var datasets = data.series.map(function (s) {
      return { type: "bar", label: s.label, data: s.data, backgroundColor: COLORS[s.key] || "#57606a", stack: "charges",
               borderRadius: 2, order: 2 };
    });
    if (data.line) {
      datasets.push({ type: "line", label: data.line.label, data: data.line.data, borderColor: "#14202e", stack: "line",
                      backgroundColor: "#14202e", tension: 0, pointRadius: 3, order: 1, spanGaps: false,
                      yAxisID: data.line.axis === "y2" ? "y2" : "y" });
    }
    new window.Chart(canvas, {
      data: { labels: data.labels, datasets: datasets },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { stacked: true, grid: { display: false } },
          y: { stacked: true, beginAtZero: true, ticks: { callback: function (v) { return money(v, data.currency); } } },
          y2: { display: !!(data.line && data.line.axis === "y2"), position: "right", beginAtZero: true,
                grid: { drawOnChartArea: false }, ticks: { callback: function (v) { return money(v, data.currency); } } }
        },
        plugins: {
          legend: { position: "bottom", labels: { boxWidth: 12, boxHeight: 12 } },
          tooltip: { callbacks: { label: function (ctx) { return ctx.dataset.label + ": " + money(ctx.parsed.y, data.currency); } } }
        }
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("canvas[data-chart]").forEach(draw);
  });
})();
