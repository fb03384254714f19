// Keys shared by the review console's pages: ? shows the list of shortcuts, / goes to the
// search, g then q to the queue. A key typed into a field, or with a modifier, is the field's.
(function () {
  var dialog = document.getElementById("shortcuts");
  var pendingG = false;
  window.takedownKeys = {
    applies: function (event) {
      var tag = (event.target.tagName || "").toLowerCase();
      if (tag === "input" || tag === "textarea" || tag === "select") { return false; }
      if (event.ctrlKey || event.metaKey || event.altKey) { return false; }
      return !(dialog && dialog.open);
    }
  };
  document.addEventListener("keydown", function (event) {
    if (event.key === "?" && dialog && !(event.target.tagName || "").match(/^(INPUT|TEXTAREA|SELECT)$/)) {
      event.preventDefault();
      if (dialog.open) { dialog.close(); } else { dialog.showModal(); }
      return;
    }
    if (!window.takedownKeys.applies(event)) { return; }
    if (pendingG) {
      pendingG = false;
      if (event.key === "q") { window.location = "/console/queue"; }
      return;
    }
    if (event.key === "g") { pendingG = true; }
    else if (event.key === "/") { event.preventDefault(); window.location = "/console/search"; }
  });
})();
