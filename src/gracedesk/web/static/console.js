/* gracedesk console: suggested phrases into the draft, and HTMX error fragments shown in place.
   Loaded from /static (no CDN); needs only the vendored htmx. */
(function () {
  "use strict";

  if (window.htmx) {
    // Swap 4xx/5xx fragments (e.g. "your session has ended") into their target too.
    window.htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "[45]..", swap: true, error: true },
    ];
  }

  var touched = false; // has the agent placed the caret in the draft?

  function insertPhrase(button) {
    var draft = document.getElementById("draft");
    if (!draft) return;
    var phrase = button.getAttribute("data-phrase") || "";
    var value = draft.value;
    var start = touched ? draft.selectionStart : value.length;
    var end = touched ? draft.selectionEnd : value.length;
    var before = value.slice(0, start);
    var after = value.slice(end);
    var pad = before && !/\s$/.test(before) ? " " : "";
    draft.value = before + pad + phrase + after;
    var caret = (before + pad + phrase).length;
    draft.focus();
    draft.setSelectionRange(caret, caret);
    touched = true;
    // let the live coach see the new text (the draft's hx-trigger listens to keyup)
    draft.dispatchEvent(new KeyboardEvent("keyup", { bubbles: true }));
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) return;
    if (target.id === "draft") touched = true;
    var button = target.closest("button.phrase");
    if (!button) return;
    event.preventDefault();
    insertPhrase(button);
  });

  document.addEventListener("keyup", function (event) {
    if (event.isTrusted && event.target instanceof Element && event.target.id === "draft") {
      touched = true;
    }
  });
})();
