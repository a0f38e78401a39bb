// Progressive enhancement for upvote buttons: submit the same form with fetch and update the
// count in place. Without JavaScript the form POSTs and the server redirects back.
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.classList.contains("upvote-form")) return;
    event.preventDefault();
    var button = form.querySelector("button");
    if (button) button.disabled = true;
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    })
      .then(function (response) {
        if (response.status === 401) { window.location.href = "/signin"; return null; }
        if (!response.ok) { form.submit(); return null; }
        return response.json();
      })
      .then(function (data) {
        if (!data) return;
        form.classList.toggle("voted", data.upvoted);
        form.querySelector("input[name=vote]").value = data.upvoted ? "0" : "1";
        var count = form.querySelector(".upvote-count");
        if (count) count.textContent = String(data.upvotes);
        if (button) {
          button.setAttribute("aria-pressed", data.upvoted ? "true" : "false");
          button.title = data.upvoted ? "Remove your upvote" : "Upvote";
        }
      })
      .catch(function () { form.submit(); })
      .finally(function () { if (button) button.disabled = false; });
  });
})();
