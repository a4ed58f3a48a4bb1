// driftwatch: small progressive enhancements. Every page works without
// this script; it only adds conveniences.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // The tenant switcher submits when a tenant is chosen.
  document.querySelectorAll("form.tenant-switch select").forEach(function (sel) {
    sel.addEventListener("change", function () { sel.form.submit(); });
    var button = sel.form.querySelector("button");
    if (button) { button.hidden = true; }
  });

  // Copy buttons copy the text of their target element.
  document.querySelectorAll("button.copy[data-copy]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var target = document.getElementById(btn.getAttribute("data-copy"));
      if (!target || !navigator.clipboard) { return; }
      navigator.clipboard.writeText(target.textContent).then(function () {
        var old = btn.textContent;
        btn.textContent = "Copied";
        setTimeout(function () { btn.textContent = old; }, 1500);
      });
    });
  });

  // Forms that need a confirmation (revert, reject, cancel) ask first.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { ev.preventDefault(); }
    });
  });

  // "/" focuses the search box; "j" and "k" move through inbox rows.
  document.addEventListener("keydown", function (ev) {
    var t = ev.target;
    if (ev.ctrlKey || ev.metaKey || ev.altKey || (t && /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) { return; }
    if (ev.key === "/") {
      var q = document.getElementById("nav-search");
      if (q) { ev.preventDefault(); q.focus(); }
      return;
    }
    if (ev.key !== "j" && ev.key !== "k") { return; }
    var links = Array.prototype.slice.call(document.querySelectorAll("table.drift-rows a.row-link"));
    if (links.length === 0) { return; }
    var i = links.indexOf(document.activeElement);
    i = ev.key === "j" ? Math.min(links.length - 1, i + 1) : Math.max(0, i - 1);
    links[i].focus();
  });
})();
