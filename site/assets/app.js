// Webex Quality: progressive enhancement only. The pages work without this file; it adds sorting of
// tables marked "sortable" (click a header) and filtering of the meetings list by text, verdict
// cause and office.
(function () {
  "use strict";
  function cellValue(row, index) {
    var cell = row.children[index];
    return cell ? (cell.getAttribute("data-sort") || cell.textContent.trim()) : "";
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.querySelectorAll("thead th").forEach(function (th, index) {
      th.tabIndex = 0;
      th.setAttribute("aria-sort", "none");
      function sort() {
        var body = table.tBodies[0];
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = cellValue(a, index), y = cellValue(b, index);
          var nx = parseFloat(x), ny = parseFloat(y);
          var order = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
          return ascending ? order : -order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
        table.querySelectorAll("thead th").forEach(function (other) { other.setAttribute("aria-sort", "none"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      }
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (event) { if (event.key === "Enter") { sort(); } });
    });
  });
  // The meetings list's filters: title/host/date text, verdict and cause, all at once. The form is
  // hidden without this script (the table shows every row, with its verdict and cause).
  var form = document.getElementById("filters");
  if (form) {
    var text = document.getElementById("filter");
    var verdict = document.getElementById("verdict-filter");
    var cause = document.getElementById("cause-filter");
    var office = document.getElementById("office-filter");
    var shown = document.getElementById("shown");
    var apply = function () {
      var needle = text.value.toLowerCase();
      var count = 0;
      document.querySelectorAll("#meetings tbody tr").forEach(function (row) {
        var hide = (needle !== "" && row.textContent.toLowerCase().indexOf(needle) < 0) ||
          (verdict.value !== "" && row.getAttribute("data-verdict") !== verdict.value) ||
          (cause.value !== "" && row.getAttribute("data-cause") !== cause.value) ||
          (office && office.value !== "" &&
            (row.getAttribute("data-offices") || "").indexOf(" " + office.value + " ") < 0);
        row.hidden = hide;
        if (!hide) { count += 1; }
      });
      shown.textContent = count + " shown";
    };
    [text, verdict, cause, office].forEach(function (input) {
      if (input) { input.addEventListener("input", apply); }
    });
    form.addEventListener("submit", function (event) { event.preventDefault(); });
    form.hidden = false;
  }
})();
