// Counts which search result a citizen follows (search.analytics): a beacon with the signed
// search token and the service's code, nothing about the citizen. Without JavaScript, or when
// the browser has no sendBeacon, the link simply works and nothing is counted.
(function () {
  "use strict";
  var list = document.querySelector(".result-list[data-click-token]");
  if (!list || !navigator.sendBeacon) return;
  list.addEventListener("click", function (event) {
    var link = event.target.closest("a");
    var result = link && link.closest("li[data-code]");
    if (!result) return;
    var data = new FormData();
    data.append("t", list.dataset.clickToken);
    data.append("code", result.dataset.code);
    navigator.sendBeacon(list.dataset.clickUrl, data);
  });
})();
