/* What every chart of Kaisen's pages shares (X-PLOT): its data, its look and when it is drawn.
   Data comes from a <script type="application/json"> block written by json_script (the CSP allows no inline
   script); each <canvas data-source="ID"> names its block, which has at least {labels: [...]}.
   A page's script calls KaisenCharts.drawAll(selector, build): once the page is loaded, every canvas matching
   selector is drawn with build(data) → {datasets, scales, format}, format(value) being the tooltip's text of a
   value. Load order: vendor/chartjs/chart.umd.min.js, this file, then the page's script (all with defer). */
(function () {
  "use strict";

  function draw(canvas, build) {
    var source = document.getElementById(canvas.getAttribute("data-source"));
    if (!source || !window.Chart) { return; }
    var data = JSON.parse(source.textContent);
    var spec = build(data);
    new window.Chart(canvas, {
      data: { labels: data.labels, datasets: spec.datasets },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        interaction: { mode: "index", intersect: false },
        scales: spec.scales,
        plugins: {
          legend: { position: "bottom", labels: { boxWidth: 12, boxHeight: 12 } },
          tooltip: { callbacks: { label: function (ctx) { return ctx.dataset.label + ": " + spec.format(ctx.parsed.y); } } }
        }
      }
    });
  }

  window.KaisenCharts = {
    drawAll: function (selector, build) {
      document.addEventListener("DOMContentLoaded", function () {
        document.querySelectorAll(selector).forEach(function (canvas) { draw(canvas, build); });
      });
    }
  };
})();
