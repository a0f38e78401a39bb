// Finding your way, as progressive enhancement (every page works without this file):
// search suggestions as you type, keyboard shortcuts on lists (j/k/o/u, / and ? for help),
// month navigation inside the date picker, and "copy" buttons. No inline scripts or styles,
// so a strict Content-Security-Policy ('self') allows it.
(function () {
  "use strict";

  function typing(target) {
    if (!target || !target.tagName) return false;
    var tag = target.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  // --- search suggestions ------------------------------------------------------------------
  var suggestSeq = 0;

  function setupSuggest(input) {
    var box = document.createElement("ul");
    var listId = input.id + "-suggestions";
    box.id = listId;
    box.className = "suggestions";
    box.setAttribute("role", "listbox");
    box.hidden = true;
    input.parentNode.classList.add("suggest-host");
    input.parentNode.appendChild(box);
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", listId);
    input.setAttribute("autocomplete", "off");
    var timer = null;
    var active = -1;

    function options() { return box.querySelectorAll("[role=option]"); }
    function close() {
      box.hidden = true;
      active = -1;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
    }
    function highlight(index) {
      var opts = options();
      if (!opts.length) return;
      active = (index + opts.length) % opts.length;
      for (var i = 0; i < opts.length; i++) opts[i].setAttribute("aria-selected", i === active ? "true" : "false");
      input.setAttribute("aria-activedescendant", opts[active].id);
      opts[active].scrollIntoView({ block: "nearest" });
    }
    function option(kind, label, detail, url, n) {
      var li = document.createElement("li");
      li.id = listId + "-" + n;
      li.setAttribute("role", "option");
      li.className = "suggestion suggestion-" + kind;
      li.dataset.url = url;
      var main = document.createElement("span");
      main.className = "suggestion-label";
      main.textContent = label;
      li.appendChild(main);
      if (detail) {
        var small = document.createElement("span");
        small.className = "suggestion-detail";
        small.textContent = detail;
        li.appendChild(small);
      }
      li.addEventListener("mousedown", function (event) {
        event.preventDefault();
        window.location.href = url;
      });
      return li;
    }
    function render(data) {
      box.textContent = "";
      var n = 0;
      (data.authors || []).forEach(function (a) {
        box.appendChild(option("author", a.name, a.papers + (a.papers === 1 ? " paper" : " papers"), a.url, n++));
      });
      (data.papers || []).forEach(function (p) {
        box.appendChild(option("paper", p.title, p.id, p.url, n++));
      });
      if (!n) { close(); return; }
      box.hidden = false;
      active = -1;
      input.setAttribute("aria-expanded", "true");
    }
    function fetchSuggestions() {
      var q = input.value;
      if (q.trim().length < 2) { close(); return; }
      var seq = ++suggestSeq;
      fetch("/api/suggest?q=" + encodeURIComponent(q), { headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) { if (data && seq === suggestSeq && document.activeElement === input) render(data); })
        .catch(function () {});
    }
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(fetchSuggestions, 90);
    });
    input.addEventListener("keydown", function (event) {
      if (box.hidden) return;
      if (event.key === "ArrowDown") { event.preventDefault(); highlight(active + 1); }
      else if (event.key === "ArrowUp") { event.preventDefault(); highlight(active - 1); }
      else if (event.key === "Escape") { close(); }
      else if (event.key === "Enter" && active >= 0) {
        event.preventDefault();
        window.location.href = options()[active].dataset.url;
      }
    });
    input.addEventListener("blur", function () { setTimeout(close, 150); });
  }

  // --- keyboard shortcuts on lists ----------------------------------------------------------
  var current = -1;

  function cards() { return document.querySelectorAll(".paper-list .paper-card"); }

  function move(step) {
    var all = cards();
    if (!all.length) return;
    if (current >= 0 && current < all.length) all[current].classList.remove("kbd-current");
    current = Math.max(0, Math.min(all.length - 1, current + step));
    var card = all[current];
    card.classList.add("kbd-current");
    var link = card.querySelector(".paper-title a");
    if (link) link.focus({ preventScroll: true });
    card.scrollIntoView({ block: "nearest", behavior: "smooth" });
  }

  function selectedCard() {
    var all = cards();
    return current >= 0 && current < all.length ? all[current] : null;
  }

  function help() {
    var dialog = document.getElementById("kbd-help");
    if (!dialog) return;
    if (dialog.open) dialog.close(); else dialog.showModal();
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    var card;
    switch (event.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "o":
        card = selectedCard();
        var link = card && card.querySelector(".paper-title a");
        if (link) window.location.href = link.href;
        break;
      case "u":
        card = selectedCard();
        var form = card && card.querySelector("form.upvote-form");
        if (form) { if (form.requestSubmit) form.requestSubmit(); else form.submit(); }
        break;
      case "/":
        var box = document.getElementById("search-q") || document.getElementById("site-search");
        if (box) { event.preventDefault(); box.focus(); box.select(); }
        break;
      case "?": help(); break;
      default: return;
    }
  });

  // --- date picker: previous / next month in place ------------------------------------------
  document.addEventListener("click", function (event) {
    var nav = event.target.closest && event.target.closest("[data-cal-nav]");
    if (nav) {
      var holder = nav.closest("[data-calendar]");
      event.preventDefault();
      fetch(nav.getAttribute("href") + "?fragment=1")
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (!html || !holder) return;
          var tpl = document.createElement("template");
          tpl.innerHTML = html;
          var fresh = tpl.content.querySelector("[data-calendar]");
          if (fresh) {
            holder.replaceWith(fresh);
            var first = fresh.querySelector("[data-cal-nav]");
            if (first) first.focus();
          }
        })
        .catch(function () { window.location.href = nav.getAttribute("href"); });
      return;
    }
    var copy = event.target.closest && event.target.closest("[data-copy]");
    if (copy) {
      var source = document.querySelector(copy.getAttribute("data-copy"));
      if (!source || !navigator.clipboard) return;
      var text = "value" in source ? source.value : source.textContent;
      navigator.clipboard.writeText(text).then(function () {
        var label = copy.textContent;
        copy.textContent = "Copied";
        setTimeout(function () { copy.textContent = label; }, 1500);
      });
    }
  });
  // a picker closes with Escape and when clicking elsewhere
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.querySelectorAll("details.date-picker[open]").forEach(function (d) { d.open = false; });
  });
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.date-picker[open]").forEach(function (d) {
      if (!d.contains(event.target)) d.open = false;
    });
  });

  function init() {
    ["site-search", "search-q"].forEach(function (id) {
      var input = document.getElementById(id);
      if (input) setupSuggest(input);
    });
    document.querySelectorAll("[data-copy]").forEach(function (b) {
      if (navigator.clipboard) b.hidden = false;
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
