// "For you" seed search: results as you type (the site's JSON search API), each with an Add
// button that posts the same form the page has without JavaScript.
(function () {
  var input = document.querySelector("[data-seed-search]");
  var list = document.querySelector("[data-seed-results]");
  if (!input || !list) return;
  var timer = null, last = "";
  function show(papers) {
    list.textContent = "";
    papers.forEach(function (p) {
      var li = document.createElement("li");
      var b = document.createElement("button");
      b.type = "submit"; b.name = "paper"; b.value = p.id; b.className = "link-button";
      b.textContent = "Add";
      var t = document.createElement("span");
      t.textContent = " " + p.title + " ";
      var id = document.createElement("span");
      id.className = "muted"; id.textContent = p.id;
      li.appendChild(b); li.appendChild(t); li.appendChild(id);
      list.appendChild(li);
    });
  }
  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var q = input.value.trim();
      if (q === last || q.length < 2) return;
      last = q;
      fetch("/api/papers/search?limit=10&q=" + encodeURIComponent(q), {headers: {"Accept": "application/json"}})
        .then(function (r) { return r.ok ? r.json() : []; })
        .then(function (rows) {
          if (input.value.trim() !== q) return;
          show((rows || []).map(function (r) { var p = r.paper || r; return {id: p.id, title: p.title}; }));
        })
        .catch(function () {});
    }, 200);
  });
})();
