// Every page: say so when part of the page could not be updated. htmx leaves the page as it was when a
// request fails (the server answered with an error, or did not answer), which reads as "nothing
// happened"; a status box or a beat plot that silently stops updating is worse than a message.
(function () {
  "use strict";

  function notice() {
    return document.getElementById("update-failed");
  }

  function hide(box) {
    box.hidden = true;
    box.removeAttribute("role");
  }

  function show(text) {
    var box = notice();
    if (!box) return;
    box.querySelector("[data-text]").textContent = text;
    box.setAttribute("role", "alert"); // an alert only while it says something
    box.hidden = false;
  }

  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    var what = status === 404
      ? "it is not in this recording, or no longer exists"
      : status === 403
        ? "your account may not open it"
        : "the server answered with an error (" + status + ")";
    show("Part of this page could not be updated: " + what + ". Reload the page to try again.");
  });

  document.addEventListener("htmx:sendError", function () {
    show("Part of this page could not be updated: the server did not answer. Check the connection, then reload the page.");
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    // a later request that worked clears the notice (a poll that recovered after a restart)
    var box = notice();
    if (box && !box.hidden && event.detail.successful) hide(box);
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("#update-failed [data-dismiss]") : null;
    if (button) hide(notice());
  });
})();
