// Progressive enhancement only: every page works without it.
document.addEventListener("DOMContentLoaded", function () {
  // changing the sort order re-runs the search
  document.querySelectorAll("select.autosubmit").forEach(function (sel) {
    sel.addEventListener("change", function () {
      if (sel.form) sel.form.requestSubmit ? sel.form.requestSubmit() : sel.form.submit();
    });
  });
  // keep URLs short and shareable: don't send empty filters or the default sort
  var form = document.getElementById("search-form");
  if (form) {
    form.addEventListener("submit", function () {
      Array.prototype.forEach.call(form.elements, function (el) {
        if (!el.name || el.name === "q") return;
        if (el.value === "" || (el.name === "sort" && el.value === "relevance")) el.disabled = true;
      });
      // re-enable after the navigation starts, so going Back shows the fields as they were
      setTimeout(function () {
        Array.prototype.forEach.call(form.elements, function (el) { el.disabled = false; });
      }, 0);
    });
  }
});
