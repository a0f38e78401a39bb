// Typeset the math of titles and abstracts with KaTeX (vendored under /static/katex/).
// The server marks each math span as <span class="tex" data-tex="TeX">readable text</span>
// (paperfeed/texmath.py), so without JavaScript, or when KaTeX cannot parse a span (a paper's
// own macro, say), the reader keeps the readable Unicode text. KaTeX is loaded only on pages
// that have math. It builds DOM nodes and sets styles through the CSSOM, so a strict
// Content-Security-Policy ('self', no inline scripts or styles) allows it.
(function () {
  "use strict";
  var spans = document.querySelectorAll(".tex[data-tex]");
  if (!spans.length) return;

  var css = document.createElement("link");
  css.rel = "stylesheet";
  css.href = "/static/katex/katex.min.css";
  document.head.appendChild(css);

  var script = document.createElement("script");
  script.src = "/static/katex/katex.min.js";
  script.onload = function () { typeset(document); };
  document.head.appendChild(script);

  function typeset(root) {
    var found = root.querySelectorAll(".tex[data-tex]:not(.tex-done)");
    for (var i = 0; i < found.length; i++) {
      var el = found[i];
      var readable = el.textContent;
      try {
        window.katex.render(el.getAttribute("data-tex"), el, {
          throwOnError: true,
          displayMode: el.classList.contains("tex-display"),
          maxSize: 10,
          maxExpand: 200,
          strict: "ignore",
        });
        el.classList.add("tex-done");
        el.setAttribute("title", readable);
      } catch (err) {
        el.classList.add("tex-done", "tex-failed");  // keep the readable text
      }
    }
  }
  // Content added later (the "for you" tab, search-as-you-type) can ask for typesetting.
  window.paperfeedTypeset = function (root) {
    if (window.katex) typeset(root || document);
  };
})();
