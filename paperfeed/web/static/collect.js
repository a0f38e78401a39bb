// Progressive enhancement for collections (pages work without it): "Save" on cards saves
// with fetch and turns into "Saved"; a collection's owner drags papers to reorder them (the
// new order is posted to the same endpoint a script or the buttons use); "Copy link" copies a
// public collection's URL.
(function () {
  "use strict";

  function toast(html) {
    var box = document.createElement("div");
    box.className = "toast";
    box.setAttribute("role", "status");
    box.innerHTML = html;
    document.body.appendChild(box);
    setTimeout(function () { box.remove(); }, 4000);
  }

  function escapeHtml(text) {
    var div = document.createElement("div");
    div.textContent = text;
    return div.innerHTML;
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.classList.contains("save-form")) return;
    event.preventDefault();
    var button = document.querySelector('button[form="' + form.id + '"]');
    if (button) button.disabled = true;
    fetch(form.action, {
      method: "POST", body: new FormData(form),
      headers: { Accept: "application/json" }, credentials: "same-origin",
    }).then(function (response) {
      if (!response.ok) { form.submit(); return null; }
      return response.json();
    }).then(function (data) {
      if (!data) return;
      var link = document.createElement("a");
      link.className = "save-link saved";
      link.href = "/papers/" + data.paper + "#save";
      link.textContent = "Saved";
      if (button) button.replaceWith(link);
      form.remove();
      toast("Saved to <a href=\"" + data.url + "\">" + escapeHtml(data.collectionName) + "</a>");
    }).catch(function () { form.submit(); });
  });

  // The paper page's save box: the new-collection name only matters for "New collection…".
  var select = document.getElementById("save-collection");
  if (select) {
    var name = document.getElementById("save-new");
    var label = document.querySelector(".save-new-label");
    var sync = function () {
      var show = select.value === "new";
      name.hidden = !show; if (label) label.hidden = !show;
    };
    select.addEventListener("change", sync); sync();
  }

  document.querySelectorAll(".copy-button").forEach(function (button) {
    var input = document.querySelector(button.getAttribute("data-copy"));
    if (!input || !navigator.clipboard) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(input.value).then(function () {
        button.textContent = "Copied";
        setTimeout(function () { button.textContent = "Copy link"; }, 2000);
      });
    });
  });

  var list = document.getElementById("collection-items");
  if (!list || !list.dataset.reorder) return;
  var csrf = document.querySelector("input[name=csrf_token]");
  list.querySelectorAll(".drag-handle").forEach(function (h) { h.hidden = false; });
  var hint = document.querySelector(".reorder-hint");
  if (hint) hint.hidden = false;
  var dragged = null;

  function refreshButtons() {
    var items = list.querySelectorAll(".collection-item");
    items.forEach(function (li, i) {
      var up = li.querySelector("button[value=up]");
      var down = li.querySelector("button[value=down]");
      if (up) up.disabled = i === 0;
      if (down) down.disabled = i === items.length - 1;
    });
  }

  function saveOrder() {
    var body = new FormData();
    if (csrf) body.append("csrf_token", csrf.value);
    list.querySelectorAll(".collection-item").forEach(function (li) {
      body.append("paper", li.dataset.paper);
    });
    fetch(list.dataset.reorder, {
      method: "POST", body: body, headers: { Accept: "application/json" },
      credentials: "same-origin",
    }).then(function (response) {
      if (!response.ok) { window.location.reload(); return; }
      list.dataset.saved = String(Number(list.dataset.saved || 0) + 1);
      refreshButtons();
    }).catch(function () { window.location.reload(); });
  }

  list.addEventListener("dragstart", function (event) {
    var li = event.target.closest && event.target.closest(".collection-item");
    if (!li) return;
    dragged = li;
    li.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", li.dataset.paper);
  });
  list.addEventListener("dragover", function (event) {
    if (!dragged) return;
    event.preventDefault();
    var over = event.target.closest && event.target.closest(".collection-item");
    if (!over || over === dragged) return;
    var box = over.getBoundingClientRect();
    var after = event.clientY > box.top + box.height / 2;
    list.insertBefore(dragged, after ? over.nextSibling : over);
  });
  list.addEventListener("drop", function (event) { event.preventDefault(); });
  list.addEventListener("dragend", function () {
    if (!dragged) return;
    dragged.classList.remove("dragging");
    dragged = null;
    saveOrder();
  });
})();
