/* The book's own behaviour (loaded on every page by _config.yml's html_js_files).
 *
 * 1. The chapter menu on phones. pydata-sphinx-theme 0.17 attaches its "open the sidebar"
 *    handler to the first `.primary-toggle` button of the page, and so does
 *    sphinx-book-theme 1.3 for collapsing it on wide screens; with sphinx-book-theme that
 *    first button is the theme header's, which the book theme hides, so the visible button
 *    of the article header does nothing (pydata-sphinx-theme issue #2451). Clicks on the
 *    visible buttons are passed on to the hidden one; the same for `.secondary-toggle`.
 * 2. Figures enlarge on click (or Enter): the PNG at its natural size in a dialog that
 *    scrolls, closed by a click, the close button or Escape. A figure with a phone version
 *    (a <picture>, agreement_core.plots.figure_html) enlarges to its wide version.
 */
(function () {
  "use strict";

  function ready(callback) {
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", callback);
    } else {
      callback();
    }
  }

  function isHidden(element) {
    return element.offsetParent === null && getComputedStyle(element).position !== "fixed";
  }

  function forwardSidebarToggles() {
    ["primary-toggle", "secondary-toggle"].forEach(function (name) {
      var buttons = Array.prototype.slice.call(document.querySelectorAll("button." + name));
      var first = buttons[0];
      buttons.slice(1).forEach(function (button) {
        button.addEventListener("click", function (event) {
          if (!isHidden(first)) {
            return; // the themes' own handlers sit on a visible button: nothing to mend
          }
          event.preventDefault();
          event.stopPropagation();
          first.click();
          button.blur();
        });
      });
    });
  }

  function enlargeableFigures() {
    var figures = document.querySelectorAll(".cell_output img");
    if (!figures.length) {
      return;
    }
    var dialog = document.createElement("dialog");
    dialog.className = "figure-lightbox";
    dialog.setAttribute("aria-label", "Enlarged figure");
    var close = document.createElement("button");
    close.type = "button";
    close.className = "figure-lightbox-close";
    close.setAttribute("aria-label", "Close the enlarged figure");
    close.textContent = "\u00d7";
    var large = document.createElement("img");
    dialog.appendChild(close);
    dialog.appendChild(large);
    document.body.appendChild(dialog);
    dialog.addEventListener("click", function (event) {
      if (event.target === dialog || event.target === close || event.target === large) {
        dialog.close();
      }
    });
    Array.prototype.forEach.call(figures, function (figure) {
      var link = figure.closest("a.image-reference");
      var target = link || figure;
      figure.classList.add("enlargeable");
      if (!link) {
        figure.tabIndex = 0;
        figure.setAttribute("role", "button");
      }
      target.setAttribute("title", "Enlarge the figure");
      function open(event) {
        event.preventDefault();
        large.src = figure.src || figure.currentSrc; // the <img>'s own: the wide version
        large.alt = figure.alt || "";
        dialog.showModal();
        close.focus();
      }
      target.addEventListener("click", open);
      if (!link) {
        figure.addEventListener("keydown", function (event) {
          if (event.key === "Enter" || event.key === " ") {
            open(event);
          }
        });
      }
    });
  }

  ready(forwardSidebarToggles);
  ready(enlargeableFigures);
})();
