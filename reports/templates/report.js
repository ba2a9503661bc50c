/* mqttsec report: filters (kept in the URL fragment) and the cell detail panel.
   Text from results is only ever put on the page with textContent, never as HTML. */
(function () {
  "use strict";
  var KEYS = ["outcome", "family", "severity"];
  var rows = Array.prototype.slice.call(document.querySelectorAll("#matrix tr.row"));
  var families = Array.prototype.slice.call(document.querySelectorAll("#matrix tr.family"));
  var search = document.getElementById("q");

  function boxes(key) {
    return Array.prototype.slice.call(
      document.querySelectorAll('[data-filter="' + key + '"] input[type=checkbox]'));
  }

  function selected(key) {
    var out = {};
    boxes(key).forEach(function (b) { if (b.checked) { out[b.value] = true; } });
    return out;
  }

  function readHash() {
    var params = new URLSearchParams(location.hash.replace(/^#/, ""));
    KEYS.forEach(function (key) {
      var raw = params.get(key);
      var wanted = raw === null ? null : raw.split(",");
      boxes(key).forEach(function (b) { b.checked = wanted === null || wanted.indexOf(b.value) >= 0; });
    });
    search.value = params.get("q") || "";
  }

  function writeHash() {
    var params = new URLSearchParams();
    KEYS.forEach(function (key) {
      var all = boxes(key);
      var on = all.filter(function (b) { return b.checked; }).map(function (b) { return b.value; });
      if (on.length !== all.length) { params.set(key, on.join(",")); }
    });
    if (search.value) { params.set("q", search.value); }
    var hash = params.toString().replace(/%2C/g, ",");
    try {
      history.replaceState(null, "", hash ? "#" + hash : location.pathname + location.search);
    } catch (e) {
      location.hash = hash;
    }
  }

  function apply() {
    var outcome = selected("outcome"), family = selected("family"), severity = selected("severity");
    var allOutcomes = boxes("outcome").every(function (b) { return b.checked; });
    var q = search.value.trim().toLowerCase();
    var shown = 0, perFamily = {};
    rows.forEach(function (row) {
      var hit = family[row.dataset.family] && severity[row.dataset.severity] &&
        row.dataset.outcomes.split(" ").some(function (o) { return outcome[o]; }) &&
        (!q || row.dataset.scenario.toLowerCase().indexOf(q) >= 0);
      row.hidden = !hit;
      if (hit) {
        shown += 1;
        perFamily[row.dataset.family] = true;
        row.querySelectorAll("td.cell button").forEach(function (b) {
          b.parentNode.classList.toggle("dim", !allOutcomes && !outcome[b.dataset.outcome]);
        });
      }
    });
    families.forEach(function (f) { f.hidden = !perFamily[f.dataset.family]; });
    document.getElementById("shown").textContent = shown + " of " + rows.length + " rows";
    document.getElementById("empty").hidden = shown > 0;
    document.documentElement.dataset.shown = String(shown);
  }

  function changed() { writeHash(); apply(); }

  document.getElementById("filters").addEventListener("change", changed);
  search.addEventListener("input", changed);
  document.getElementById("reset").addEventListener("click", function () {
    KEYS.forEach(function (key) { boxes(key).forEach(function (b) { b.checked = true; }); });
    search.value = "";
    changed();
  });
  window.addEventListener("hashchange", function () { readHash(); apply(); });

  var panel = document.getElementById("panel");
  var current = null;
  function set(id, text) { document.getElementById(id).textContent = text; }
  function show(button) {
    var row = button.closest("tr");
    var d = button.dataset;
    if (current) { current.classList.remove("selected"); }
    current = button;
    button.classList.add("selected");
    var chip = document.getElementById("p-chip");
    chip.className = "chip o-" + d.outcome;
    chip.textContent = button.querySelector(".sym").textContent;
    set("p-scenario", row.dataset.scenario);
    set("p-target", d.target);
    set("p-version", row.querySelector(".ver").textContent);
    set("p-outcome", d.outcome);
    set("p-severity", row.dataset.severity);
    set("p-spec", d.spec || "–");
    set("p-duration", d.duration);
    set("p-tests", d.tests || "–");
    set("p-detail", d.detail);
    panel.hidden = false;
  }
  function hide() {
    panel.hidden = true;
    if (current) { current.classList.remove("selected"); current = null; }
  }
  document.getElementById("matrix").addEventListener("click", function (event) {
    var button = event.target.closest("td.cell button");
    if (button) { show(button); }
  });
  document.getElementById("panel-close").addEventListener("click", hide);
  document.addEventListener("keydown", function (event) { if (event.key === "Escape") { hide(); } });

  readHash();
  apply();
})();
