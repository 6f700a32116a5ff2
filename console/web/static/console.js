// The console's one script: the queue's live rows and keyboard triage.
// Loaded from /static (no inline script: the CSP forbids it).
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="csrf"]');
  csrf = csrf ? csrf.getAttribute("content") : "";

  // post submits a form built here, carrying the session's CSRF token.
  function post(action, fields) {
    var f = document.createElement("form");
    f.method = "post";
    f.action = action;
    fields._csrf = csrf;
    Object.keys(fields).forEach(function (k) {
      var i = document.createElement("input");
      i.type = "hidden";
      i.name = k;
      i.value = fields[k];
      f.appendChild(i);
    });
    document.body.appendChild(f);
    f.submit();
  }

  var table = document.getElementById("alerts");
  if (!table) return;
  var body = table.tBodies[0];
  var selected = null; // the selected alert's key, kept across refreshes
  var here = location.pathname + location.search;

  function rows() { return Array.prototype.slice.call(body.querySelectorAll("tr.alert")); }
  function select(tr) {
    rows().forEach(function (r) { r.classList.remove("selected"); });
    if (!tr) { selected = null; return; }
    tr.classList.add("selected");
    selected = tr.getAttribute("data-key");
    tr.scrollIntoView({ block: "nearest" });
  }
  function current() { return body.querySelector("tr.alert.selected"); }

  body.addEventListener("click", function (e) {
    var tr = e.target.closest("tr.alert");
    if (!tr || e.target.closest("a")) return;
    select(tr);
  });
  body.addEventListener("dblclick", function (e) {
    var tr = e.target.closest("tr.alert");
    if (tr) location.href = "/alerts/" + encodeURIComponent(tr.getAttribute("data-key"));
  });

  var dialog = document.getElementById("quick-dismiss");
  function openDismiss(tr) {
    if (!dialog) return;
    dialog.querySelector("form").action = "/alerts/" + encodeURIComponent(tr.getAttribute("data-key")) + "/dismiss";
    dialog.querySelector(".which").textContent = tr.querySelector(".summary").textContent;
    dialog.classList.remove("hidden");
    dialog.querySelector("select").focus();
  }
  if (dialog) {
    dialog.querySelector(".cancel").addEventListener("click", function () { dialog.classList.add("hidden"); });
  }

  document.addEventListener("keydown", function (e) {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    var t = e.target.tagName;
    if (t === "INPUT" || t === "TEXTAREA" || t === "SELECT") {
      if (e.key === "Escape" && dialog) dialog.classList.add("hidden");
      return;
    }
    var all = rows(), tr = current(), i = all.indexOf(tr);
    switch (e.key) {
    case "j": select(all[Math.min(i + 1, all.length - 1)] || null); break;
    case "k": select(all[Math.max(i - 1, 0)] || null); break;
    case "Enter":
      if (tr) location.href = "/alerts/" + encodeURIComponent(tr.getAttribute("data-key"));
      break;
    case "c":
      // No window.confirm: triage is meant to be fast, and the flash on the
      // next page names the case and its desk.
      if (tr) {
        post("/alerts/" + encodeURIComponent(tr.getAttribute("data-key")) + "/confirm", { desk: "", note: "", next: here });
      }
      break;
    case "d": if (tr) { e.preventDefault(); openDismiss(tr); } break;
    case "Escape": if (dialog) dialog.classList.add("hidden"); break;
    default: return;
    }
  });

  // New alerts appear without a reload: the same filters, every 5 seconds.
  var src = table.getAttribute("data-rows");
  if (!src) return;
  function refresh() {
    fetch(src, { credentials: "same-origin", headers: { "Accept": "text/html" } }).then(function (r) {
      if (r.redirected || !r.ok) return null; // signed out: leave the page as it is
      return r.text();
    }).then(function (html) {
      if (html === null || html === undefined) return;
      var doc = new DOMParser().parseFromString("<table>" + html + "</table>", "text/html");
      var fresh = doc.querySelector("tbody");
      if (!fresh) return;
      body.replaceChildren.apply(body, Array.prototype.slice.call(fresh.childNodes));
      if (selected) {
        var again = body.querySelector('tr.alert[data-key="' + CSS.escape(selected) + '"]');
        if (again) again.classList.add("selected");
      }
      var counts = doc.querySelector("tfoot[data-counts]");
      if (counts) {
        counts.getAttribute("data-counts").split(",").forEach(function (kv) {
          var p = kv.split("="), el = document.querySelector('#counts [data-level="' + p[0] + '"]');
          if (el) el.textContent = p[1];
        });
      }
    }).catch(function () {});
  }
  setInterval(refresh, 5000);
})();
