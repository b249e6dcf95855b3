// Live updates over Server-Sent Events (GET /events, api/live.py). The server sends only ids and code words; this
// script decides which parts of the page are affected and re-fetches the page itself, replacing those parts with
// the server-rendered (already escaped) HTML of the same id. Pages work fully without it.
//
//   data-live-on="alert task"     on an element with an id: refresh it when such an event arrives
//   data-live-incident="12"       …only for events about incident 12
//   data-live-every="60"          …and every 60 s anyway (deadlines count down without any event)
//   data-live-banner="mention"    a hidden banner counting new mentions ("N 条新信息") instead of moving the list
//   #live-status                  the 实时 / 已断开 indicator in the top bar
//
// A part holding a form field the user is typing in, or has changed, is left alone until they are done.
(function () {
  "use strict";
  var KINDS = ["alert", "incident", "task", "timeline", "notification", "mention"];
  var DEBOUNCE_MS = 300;
  var BUSY_RETRY_MS = 2000;
  var RECONNECT_MS = 30000;
  var source = null;
  var pending = {};
  var timer = null;
  var inflight = false;
  var newArticles = {};
  var newCount = 0;

  function setStatus(state) {
    document.documentElement.setAttribute("data-live", state);
    var el = document.getElementById("live-status");
    if (!el) { return; }
    el.hidden = false;
    el.className = "live-status live-" + state;
    el.textContent = state === "on" ? "实时" : "已断开";
    el.title = state === "on" ? "页面内容实时更新" : (state === "retrying" ? "实时更新已断开，正在重连" :
      "实时更新已断开，请刷新页面");
  }

  function wants(el, kind, data) {
    var kinds = (el.getAttribute("data-live-on") || "").split(/\s+/);
    if (kinds.indexOf(kind) < 0 && kind !== "reset") { return false; }
    var incident = el.getAttribute("data-live-incident");
    return !incident || kind === "reset" || String(data.incident_id) === incident;
  }

  function busy(el) {
    var active = document.activeElement;
    if (active && el.contains(active) && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName)) { return true; }
    var fields = el.querySelectorAll("input:not([type=hidden]), textarea");
    for (var i = 0; i < fields.length; i++) {
      var f = fields[i];
      if ((f.type === "checkbox" || f.type === "radio") ? f.checked !== f.defaultChecked : f.value !== f.defaultValue) {
        return true;
      }
    }
    return false;
  }

  function schedule(delay) {
    if (timer === null) { timer = setTimeout(refresh, delay); }
  }

  // The element itself stays (app.js's fallback polling holds it); its content is swapped, keeping which
  // <details> were open.
  function replace(el, fresh) {
    var opened = [];
    var before = el.querySelectorAll("details");
    for (var i = 0; i < before.length; i++) { opened.push(before[i].open); }
    var copy = document.importNode(fresh, true);
    var after = copy.querySelectorAll("details");
    if (after.length === before.length) {
      for (var j = 0; j < after.length; j++) { after[j].open = opened[j]; }
    }
    el.className = copy.className;
    el.replaceChildren.apply(el, Array.prototype.slice.call(copy.childNodes));
  }

  function refresh() {
    timer = null;
    if (inflight) { schedule(DEBOUNCE_MS); return; }
    var ids = Object.keys(pending);
    var todo = [];
    var waiting = false;
    for (var i = 0; i < ids.length; i++) {
      var el = document.getElementById(ids[i]);
      if (!el) { delete pending[ids[i]]; } else if (busy(el)) { waiting = true; } else { todo.push(ids[i]); }
    }
    if (waiting) { schedule(BUSY_RETRY_MS); }
    if (!todo.length) { return; }
    todo.forEach(function (id) { delete pending[id]; });
    inflight = true;
    fetch(location.pathname + location.search, { credentials: "same-origin", redirect: "manual",
                                                 headers: { "X-Requested-With": "fetch" } })
      .then(function (resp) { return resp.ok ? resp.text() : null; })
      .then(function (html) {
        if (html === null) { return; }
        var doc = new DOMParser().parseFromString(html, "text/html");
        todo.forEach(function (id) {
          var el = document.getElementById(id);
          var fresh = doc.getElementById(id);
          if (!el || !fresh) { return; }
          if (busy(el)) { pending[id] = true; schedule(BUSY_RETRY_MS); return; }
          replace(el, fresh);
        });
        document.documentElement.setAttribute("data-live-refreshed", String(Date.now()));
      })
      .catch(function () { todo.forEach(function (id) { pending[id] = true; }); schedule(BUSY_RETRY_MS); })
      .then(function () { inflight = false; });
  }

  function noteMention(data) {
    var banner = document.querySelector("[data-live-banner=mention]");
    if (!banner || newArticles[data.article_id]) { return; }
    newArticles[data.article_id] = true;
    newCount += 1;
    var link = banner.querySelector("a") || banner;
    link.textContent = newCount + " 条新信息，点击查看";
    banner.hidden = false;
  }

  function onEvent(kind, data) {
    if (kind === "mention") { noteMention(data); }
    var regions = document.querySelectorAll("[data-live-on][id]");
    var any = false;
    for (var i = 0; i < regions.length; i++) {
      if (wants(regions[i], kind, data)) { pending[regions[i].id] = true; any = true; }
    }
    if (any) { schedule(DEBOUNCE_MS); }
  }

  function connect(afterGap) {
    var url = document.body.getAttribute("data-live-url");
    if (!url || url.charAt(0) !== "/" || url.charAt(1) === "/" || typeof EventSource === "undefined") { return; }
    source = new EventSource(url);
    source.onopen = function () {
      setStatus("on");
      if (afterGap) { onEvent("reset", {}); afterGap = false; }  // a new connection knows no cursor: catch up
    };
    source.onerror = function () {
      if (source.readyState === EventSource.CLOSED) {  // refused (signed out, too many tabs): try later
        setStatus("off");
        source = null;
        setTimeout(function () { connect(true); }, RECONNECT_MS);
      } else {
        setStatus("retrying");  // the browser reconnects by itself, resuming with Last-Event-ID
      }
    };
    KINDS.concat(["reset"]).forEach(function (kind) {
      source.addEventListener(kind, function (ev) {
        var data = {};
        try { data = JSON.parse(ev.data || "{}"); } catch (e) { data = {}; }
        onEvent(kind, data);
      });
    });
    source.addEventListener("signed_out", function () {
      source.close();
      source = null;
      setStatus("off");
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var banner = document.querySelector("[data-live-banner=mention]");
    if (banner) {
      banner.addEventListener("click", function (ev) { ev.preventDefault(); location.reload(); });
    }
    var ticking = document.querySelectorAll("[data-live-on][data-live-every][id]");
    Array.prototype.forEach.call(ticking, function (el) {
      var seconds = Math.max(15, parseInt(el.getAttribute("data-live-every"), 10) || 60);
      var id = el.id;
      setInterval(function () {
        if (!document.hidden) { pending[id] = true; schedule(DEBOUNCE_MS); }
      }, seconds * 1000);
    });
    connect(false);
  });
  window.addEventListener("pagehide", function () { if (source) { source.close(); source = null; } });
  window.addEventListener("pageshow", function (ev) { if (ev.persisted && !source) { connect(true); } });
})();
