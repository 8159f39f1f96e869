// Gatehouse admin console. The pages work without this script; it only adds the copy buttons
// next to secrets shown once.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var input = document.getElementById(button.getAttribute("data-copy"));
    if (!input) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      var done = function () {
        button.textContent = "Copied";
        setTimeout(function () { button.textContent = "Copy"; }, 2000);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(done, function () {
          input.select();
        });
        return;
      }
      input.select();
      try {
        if (document.execCommand("copy")) {
          done();
        }
      } catch (e) {
        // The value stays selected for the user to copy.
      }
    });
  });
  document.querySelectorAll("input.mono[readonly]").forEach(function (input) {
    input.addEventListener("focus", function () { input.select(); });
  });
});
