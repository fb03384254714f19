// The queue's keyboard: move through the rows (j/k, arrows), open one (o, Enter), choose it
// for a bulk action (x). Loaded after shortcuts.js's shared keys (?, /, g q).
(function () {
  var table = document.querySelector("#queue table.queue");
  if (!table) { return; }
  var rows = Array.prototype.slice.call(table.querySelectorAll("tbody tr[data-case]"));
  var current = -1;
  function select(i) {
    if (!rows.length) { return; }
    current = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach(function (row, n) {
      row.classList.toggle("current", n === current);
      row.setAttribute("aria-selected", n === current ? "true" : "false");
    });
    rows[current].scrollIntoView({block: "nearest"});
  }
  document.addEventListener("keydown", function (event) {
    if (window.takedownKeys && !window.takedownKeys.applies(event)) { return; }
    var key = event.key;
    if (key === "j" || key === "ArrowDown") { event.preventDefault(); select(current + 1); }
    else if (key === "k" || key === "ArrowUp") { event.preventDefault(); select(current - 1); }
    else if ((key === "o" || (key === "Enter" && event.target === document.body)) && current >= 0) {
      event.preventDefault();
      rows[current].querySelector("a").click();
    } else if (key === "x" && current >= 0) {
      var box = rows[current].querySelector("input[type=checkbox]");
      if (box) { box.checked = !box.checked; }
    }
  });
})();
