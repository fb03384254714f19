// The banks page: a list's upload shows its progress; the page then shows what was imported.
// Without this script the forms post as they are, and the result is the same.
document.querySelectorAll("form.import").forEach((form) => {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const bar = form.querySelector("progress");
    const button = form.querySelector("button");
    const request = new XMLHttpRequest();
    request.open("POST", form.action);
    request.upload.addEventListener("progress", (progress) => {
      if (progress.lengthComputable) {
        bar.value = Math.round((100 * progress.loaded) / progress.total);
      }
    });
    request.addEventListener("load", () => {
      if (request.status >= 400) {
        // A refusal is a page of its own (the bank is gone, the file too large): show it.
        document.open();
        document.write(request.responseText);
        document.close();
        return;
      }
      window.location.assign(request.responseURL || "/console/banks");
    });
    request.addEventListener("error", () => {
      button.disabled = false;
      bar.hidden = true;
      window.alert("The upload failed; try again.");
    });
    bar.hidden = false;
    button.disabled = true;
    request.send(new FormData(form));
  });
});
