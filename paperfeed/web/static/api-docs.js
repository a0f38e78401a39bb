// Starts Swagger UI on /api/docs (a file, not an inline script: the site's CSP allows 'self').
(function () {
  "use strict";
  var el = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({
    url: el.getAttribute("data-openapi"),
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    presets: [window.SwaggerUIBundle.presets.apis, window.SwaggerUIBundle.SwaggerUIStandalonePreset],
  });
})();
