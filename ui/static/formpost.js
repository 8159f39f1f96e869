// OAuth 2.0 Form Post Response Mode: submit the response form as soon as the page has
// loaded. Without JavaScript the user presses the form's Continue button instead.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector("form[data-auto-submit]");
  if (form) {
    form.submit();
  }
});
