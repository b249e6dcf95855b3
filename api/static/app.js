// Auto-refresh of live regions: an element with data-refresh-url is replaced every few seconds with the
// server-rendered (already escaped) partial from that URL. Pages work fully without this script. While live.js
// holds a live-update stream the polling slows to once a minute (the fallback when the stream is down).
(function () {
  "use strict";
  function start(el) {
    var url = el.getAttribute("data-refresh-url");
    var seconds = parseInt(el.getAttribute("data-refresh-seconds") || "5", 10);
    if (!url || url.charAt(0) !== "/" || url.charAt(1) === "/") { return; }
    var busy = false;
    var last = 0;
    var timer = setInterval(function () {
      if (busy || document.hidden) { return; }
      // while live updates (live.js) are on, they refresh the region on every change: poll only for the clock
      if (document.documentElement.getAttribute("data-live") === "on" && Date.now() - last < 60000) { return; }
      last = Date.now();
      busy = true;
      fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" }, redirect: "manual" })
        .then(function (resp) {
          if (resp.type === "opaqueredirect" || resp.status === 401 || resp.status === 403) {
            clearInterval(timer);  // signed out: stop; a manual reload shows the login page
            return null;
          }
          return resp.ok ? resp.text() : null;
        })
        .then(function (html) {
          if (html !== null && html !== undefined) {
            var doc = new DOMParser().parseFromString("<div>" + html + "</div>", "text/html");
            el.replaceChildren.apply(el, Array.prototype.slice.call(doc.body.firstChild.childNodes));
          }
        })
        .catch(function () { /* transient network error: try again next tick */ })
        .then(function () { busy = false; });
    }, Math.max(2, seconds) * 1000);
  }
  document.addEventListener("DOMContentLoaded", function () {
    var live = document.querySelectorAll("[data-refresh-url]");
    for (var i = 0; i < live.length; i++) { start(live[i]); }
  });
})();
