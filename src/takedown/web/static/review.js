// The case page: renew the claim while the page is open, fill the statement of reasons from
// the outcome's template, and the keyboard shortcuts. Nothing here ever shows media.
(function () {
  var root = document.getElementById("case");
  if (!root) { return; }
  var caseId = root.dataset.case;
  if (root.dataset.renew) {
    setInterval(function () {
      fetch("/console/cases/" + caseId + "/claim", {
        method: "POST",
        headers: {"X-Renew": "1", "X-CSRF-Token": root.dataset.csrf,
                  "Content-Type": "application/x-www-form-urlencoded"},
        body: "csrf_token=" + encodeURIComponent(root.dataset.csrf),
        credentials: "same-origin"
      });
    }, 5 * 60 * 1000);
  }
  var form = document.getElementById("decide");
  var statement = document.getElementById("statement");
  var reason = document.getElementById("reason");
  var edited = false;
  if (statement) { statement.addEventListener("input", function () { edited = true; }); }
  function fill() {
    if (!form || edited) { return; }
    var chosen = form.querySelector("input[name=outcome]:checked");
    if (!chosen) { return; }
    var t = form.querySelector("template[data-outcome=" + chosen.value + "]");
    if (!t) { return; }
    var category = document.getElementById("category").selectedOptions[0].text;
    statement.value = t.innerHTML.replace(/&amp;/g, "&")
      .replace("{reason}", (reason.value || "…").replace(/\.$/, ""))
      .replace("{rule}", category === "csam" ? "the law against child sexual abuse material" :
               category === "policy" ? "our rules" : "the law or our rules");
  }
  if (form) {
    form.addEventListener("change", fill);
    reason.addEventListener("input", fill);
  }
  document.addEventListener("keydown", function (event) {
    var tag = (event.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select" || event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (event.key === "n" && root.dataset.next) { window.location = root.dataset.next; }
    else if (event.key === "c") { var c = document.getElementById("claim"); if (c) { c.click(); } }
    else if (event.key === "r") { var r = document.querySelector("button.reveal"); if (r) { r.focus(); } }
    else if (event.key === "d" && form) { event.preventDefault(); form.querySelector("input[name=outcome]").focus(); }
    else if (event.key === "e" && form) {
      event.preventDefault();
      document.getElementById("outcome-escalate").checked = true;
      reason.focus();
    }
  });
})();
