// The receipt's "Print" button. A static file rather than an onclick attribute: the public
// Content-Security-Policy allows no inline script (cms/security_headers.py).
(function () {
  "use strict";
  document.querySelectorAll("[data-print-page]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
})();
