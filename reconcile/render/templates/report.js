// The report's filters, search and lazily filled rows. Reads only the page itself:
// no network, no storage, no markup built from strings (values stay text).
(function () {
  "use strict";
  var list = document.getElementById("tickets");
  var controls = document.getElementById("controls");
  var search = document.getElementById("search");
  var shown = document.getElementById("shown");
  var none = document.getElementById("none");
  var rows = Array.prototype.slice.call(list.querySelectorAll(".chunk > li"));
  var statuses = rows.map(function (row) { return row.getAttribute("data-status"); });
  var haystacks = rows.map(function (row) { return row.getAttribute("data-search"); });
  var wanted = null;

  // The filter is one attribute of the list (a CSS rule hides the other statuses), so
  // changing it touches one element; the search sets `hidden` on the rows it leaves out.
  function update() {
    var terms = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    var count = 0;
    for (var i = 0; i < rows.length; i++) {
      var found = true;
      for (var t = 0; found && t < terms.length; t++) {
        found = haystacks[i].indexOf(terms[t]) !== -1;
      }
      if (rows[i].hidden === found) rows[i].hidden = !found;
      if (found && (!wanted || wanted.indexOf(statuses[i]) !== -1)) count++;
    }
    shown.textContent = "Showing " + count + " of " + rows.length + " tickets";
    none.hidden = count !== 0;
  }

  function choose(radio) {
    var value = radio.getAttribute("data-statuses");
    wanted = value ? value.split(" ") : null;
    list.setAttribute("data-filter", radio.value);
    update();
  }

  // A row's fields wait in a <template> until the row is first opened.
  function fill(details) {
    var template = details.querySelector(":scope > template");
    if (template) {
      details.appendChild(template.content);
      template.remove();
    }
  }

  function shownDetails() {
    var found = [];
    for (var i = 0; i < rows.length; i++) {
      var details = rows[i].firstElementChild;
      var shown = !rows[i].hidden && (!wanted || wanted.indexOf(statuses[i]) !== -1);
      if (shown && details.tagName === "DETAILS") found.push(details);
    }
    return found;
  }

  list.addEventListener("toggle", function (event) {
    if (event.target.open) fill(event.target);
  }, true);

  controls.addEventListener("change", function (event) {
    if (event.target.name === "filter") choose(event.target);
  });
  search.addEventListener("input", update);
  search.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && search.value) {
      search.value = "";
      update();
      event.preventDefault();
    }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "/" && document.activeElement !== search && !event.ctrlKey && !event.metaKey && !event.altKey) {
      event.preventDefault();
      search.focus();
      search.select();
    }
  });
  document.getElementById("expand").addEventListener("click", function () {
    shownDetails().forEach(function (details) { fill(details); details.open = true; });
  });
  document.getElementById("collapse").addEventListener("click", function () {
    shownDetails().forEach(function (details) { details.open = false; });
  });

  // Printing shows every shown row opened; the rows opened for it close again after.
  var openedForPrint = [];
  window.addEventListener("beforeprint", function () {
    openedForPrint = shownDetails().filter(function (details) { return !details.open; });
    openedForPrint.forEach(function (details) { fill(details); details.open = true; });
  });
  window.addEventListener("afterprint", function () {
    openedForPrint.forEach(function (details) { details.open = false; });
    openedForPrint = [];
  });

  controls.hidden = false;
  var checked = controls.querySelector("input[name=filter]:checked");
  if (checked) choose(checked); else update();
})();
