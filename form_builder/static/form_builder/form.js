// Progressive enhancement of the server-side application steps (everything works without it):
// hide questions whose "show only if" condition does not hold, and narrow the soum list to the
// chosen aimag. The server re-checks both.
(function () {
  "use strict";
  var form = document.querySelector(".application-form");
  if (!form) return;

  function answerOf(key) {
    var values = [];
    form.querySelectorAll('[name="' + key + '"], [name^="' + key + '_"]').forEach(function (input) {
      if ((input.type === "checkbox" || input.type === "radio") && !input.checked) return;
      if (input.type === "checkbox" && input.name === key && input.value === "on") { values.push("true"); return; }
      if (input.value) values.push(input.value);
    });
    return values;
  }

  function holds(el) {
    var given = answerOf(el.dataset.showIfField);
    var op = el.dataset.showIfOp || "equals";
    var expected = (el.dataset.showIfValue || "").split(",").map(function (v) { return v.trim(); });
    if (op === "filled") return given.length > 0;
    if (op === "empty") return given.length === 0;
    if (op === "not_equals") return given.indexOf(expected[0]) === -1;
    return expected.some(function (v) { return given.indexOf(v) !== -1; });
  }

  function refresh() {
    form.querySelectorAll("[data-show-if-field]").forEach(function (el) {
      // Conditions on earlier steps were applied by the server; only this step's can change here.
      if (!form.querySelector('[name="' + el.dataset.showIfField + '"], [name^="' + el.dataset.showIfField + '_"]')) return;
      el.hidden = !holds(el);
    });
  }

  function narrowSoums(question) {
    var selects = question.querySelectorAll("select");
    if (selects.length < 2) return;
    var aimag = selects[0], soum = selects[1];
    function apply() {
      var name = aimag.options[aimag.selectedIndex] ? aimag.options[aimag.selectedIndex].text : "";
      soum.querySelectorAll("optgroup").forEach(function (group) {
        var show = !aimag.value || group.label === name;
        group.hidden = !show;
        group.disabled = !show;
      });
      var chosen = soum.options[soum.selectedIndex];
      if (chosen && chosen.parentElement.tagName === "OPTGROUP" && chosen.parentElement.disabled) soum.value = "";
    }
    aimag.addEventListener("change", apply);
    apply();
  }

  form.addEventListener("change", refresh);
  form.addEventListener("input", refresh);
  form.querySelectorAll('.question[data-type="place"]').forEach(narrowSoums);
  refresh();
  var summary = document.getElementById("error-summary");
  if (summary) summary.focus();
})();
