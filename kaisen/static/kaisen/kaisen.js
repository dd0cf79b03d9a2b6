/* Kaisen portal behaviour. Loaded from 'self' only (strict CSP): no inline scripts or handlers. */
(function () {
  "use strict";
  var root = document.documentElement;
  root.classList.add("js");
  var KEY = "kaisen.sidebar";
  var narrow = function () { return window.matchMedia("(max-width: 991.98px)").matches; };

  // Applied before the body is drawn, so a collapsed menu does not flash open.
  try {
    if (localStorage.getItem(KEY) === "collapsed") { root.classList.add("sidebar-collapsed"); }
  } catch (e) { /* storage may be disabled */ }

  function toggleSidebar() {
    if (narrow()) {
      root.classList.toggle("sidebar-open");
      return;
    }
    var collapsed = root.classList.toggle("sidebar-collapsed");
    try { localStorage.setItem(KEY, collapsed ? "collapsed" : "open"); } catch (e) { /* ignore */ }
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-kaisen-toggle='sidebar']").forEach(function (button) {
      button.addEventListener("click", function () {
        toggleSidebar();
        var open = narrow() ? root.classList.contains("sidebar-open") : !root.classList.contains("sidebar-collapsed");
        button.setAttribute("aria-expanded", open ? "true" : "false");
      });
    });
    var backdrop = document.querySelector(".sidebar-backdrop");
    if (backdrop) { backdrop.addEventListener("click", function () { root.classList.remove("sidebar-open"); }); }

    // Table rows that lead somewhere: a click anywhere on the row follows its main link.
    document.querySelectorAll("tr[data-href]").forEach(function (row) {
      row.addEventListener("click", function (event) {
        if (event.target.closest("a, button, input, select, label")) { return; }
        if (window.getSelection && String(window.getSelection()).length) { return; }
        window.location.href = row.getAttribute("data-href");
      });
    });

    // Selects that apply immediately (the form keeps a submit button for use without JavaScript).
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () { if (select.form) { select.form.requestSubmit(); } });
    });

    // Copy-to-clipboard buttons: data-copy-target="#element-id".
    document.querySelectorAll("[data-copy-target]").forEach(function (button) {
      button.addEventListener("click", function () {
        var target = document.querySelector(button.getAttribute("data-copy-target"));
        if (!target || !navigator.clipboard) { return; }
        navigator.clipboard.writeText(target.textContent.trim()).then(function () {
          var done = button.getAttribute("data-copied-label");
          if (done) { button.textContent = done; }
          button.classList.add("btn-success");
        });
      });
    });

    // Forms sent once: a second click (or Enter) while the first submit is on its way does nothing. The
    // server is idempotent anyway (the idempotency key of a procedure form); this only spares the request.
    document.querySelectorAll("form[data-once]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (form.classList.contains("is-submitting")) { event.preventDefault(); return; }
        form.classList.add("is-submitting");
      });
    });
    // A page shown again from the browser's back-forward cache must be usable again.
    window.addEventListener("pageshow", function () {
      document.querySelectorAll("form.is-submitting").forEach(function (form) { form.classList.remove("is-submitting"); });
    });

    // Submit buttons that ask first: data-confirm-click="question".
    document.querySelectorAll("[data-confirm-click]").forEach(function (button) {
      button.addEventListener("click", function (event) {
        if (!window.confirm(button.getAttribute("data-confirm-click"))) { event.preventDefault(); }
      });
    });

    // A block shown only while a checkbox is ticked: data-toggle-with="checkbox-id" (visible without JavaScript).
    document.querySelectorAll("[data-toggle-with]").forEach(function (block) {
      var box = document.getElementById(block.getAttribute("data-toggle-with"));
      if (!box) { return; }
      var sync = function () { block.classList.toggle("is-hidden", !box.checked); };
      box.addEventListener("change", sync);
      sync();
    });

    // Forms that ask before doing something that cannot be undone: data-confirm="question".
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
      });
    });
  });
})();
