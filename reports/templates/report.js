// camscan report: sort and filter tables. Reads textContent and data-* only; never writes
// markup (no innerHTML), so device text in the page stays text.
(function () {
  "use strict";
  var collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

  function cellKey(row, index) {
    var cell = row.cells[index];
    if (!cell) { return ""; }
    return cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent.trim();
  }

  function sortBy(table, index, numeric, ascending) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellKey(a, index), y = cellKey(b, index), order;
      if (numeric && x !== "" && y !== "" && !isNaN(Number(x)) && !isNaN(Number(y))) {
        order = Number(x) - Number(y);
      } else {
        order = collator.compare(x, y);
      }
      return ascending ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
      if (i === index) { th.setAttribute("aria-sort", ascending ? "ascending" : "descending"); }
      else { th.removeAttribute("aria-sort"); }
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    if (!table.tHead || !table.tBodies.length) { return; }
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, index) {
      th.tabIndex = 0;
      th.title = "Sort by this column";
      var activate = function () {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        sortBy(table, index, th.getAttribute("data-type") === "num", ascending);
      };
      th.addEventListener("click", activate);
      th.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); activate(); }
      });
    });
  });

  function items(container) {
    if (container.tagName === "TABLE") { return Array.prototype.slice.call(container.tBodies[0].rows); }
    return Array.prototype.slice.call(container.children);
  }

  function applyFilter(id) {
    var container = document.getElementById(id);
    if (!container) { return; }
    var text = document.querySelector('[data-filter-for="' + id + '"]');
    var severity = document.querySelector('[data-severity-for="' + id + '"]');
    var words = text ? text.value.toLowerCase().split(/\s+/).filter(Boolean) : [];
    var wanted = severity ? severity.value : "";
    var all = items(container), shown = 0;
    all.forEach(function (item) {
      var haystack = item.textContent.toLowerCase();
      var match = words.every(function (w) { return haystack.indexOf(w) !== -1; }) &&
        (!wanted || item.getAttribute("data-severity") === wanted);
      item.hidden = !match;
      if (match) { shown += 1; }
    });
    var counter = document.querySelector('[data-count-for="' + id + '"]');
    if (counter) { counter.textContent = "(" + shown + " of " + all.length + ")"; }
  }

  var ids = {};
  Array.prototype.forEach.call(document.querySelectorAll("[data-filter-for], [data-severity-for]"), function (control) {
    var id = control.getAttribute("data-filter-for") || control.getAttribute("data-severity-for");
    ids[id] = true;
    control.addEventListener("input", function () { applyFilter(id); });
    control.addEventListener("change", function () { applyFilter(id); });
  });

  // A shareable view: report.html#q=CS120&severity=error pre-fills every filter box.
  var params = new URLSearchParams(location.hash.replace(/^#/, ""));
  if (params.has("q") || params.has("severity")) {
    Array.prototype.forEach.call(document.querySelectorAll("[data-filter-for]"), function (box) {
      box.value = params.get("q") || "";
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-severity-for]"), function (select) {
      var value = params.get("severity") || "";
      if (Array.prototype.some.call(select.options, function (o) { return o.value === value; })) { select.value = value; }
    });
  }
  Object.keys(ids).forEach(applyFilter);

  // Printing shows the evidence that <details> hides on screen.
  window.addEventListener("beforeprint", function () {
    Array.prototype.forEach.call(document.querySelectorAll("details"), function (d) { d.open = true; });
  });
  document.documentElement.setAttribute("data-report-script", "ready");
}());
