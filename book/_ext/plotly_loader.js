/* plotly.js for the pages of the book that hold a Plotly figure (book_assets.py adds this
 * script to those pages only, and copies it and plotly.js into _static).
 *
 * plotly.min.js weighs 4.8 MB; its gzip copy (plotly.min.js.gz, 1.5 MB) is fetched and
 * inflated here (DecompressionStream), so the page costs a third as much on any server,
 * one that does not compress included. Where that cannot work (a page opened from the disk,
 * a browser without DecompressionStream, a failed fetch) the plain plotly.min.js is loaded.
 * The figures wait for `window.agreementPlotly`, a promise of the Plotly object
 * (agreement_core.widgets.PlotlyHTML).
 */
(function () {
  "use strict";

  var here = document.currentScript.src;

  function url(name) {
    return new URL(name, here).href;
  }

  function plain() {
    return new Promise(function (resolve, reject) {
      var script = document.createElement("script");
      script.src = url("plotly.min.js");
      script.onload = function () {
        resolve(window.Plotly);
      };
      script.onerror = reject;
      document.head.appendChild(script);
    });
  }

  function inflated() {
    if (typeof DecompressionStream === "undefined" || location.protocol === "file:") {
      return Promise.reject(new Error("no DecompressionStream, or no fetch from the disk"));
    }
    return fetch(url("plotly.min.js.gz"))
      .then(function (response) {
        if (!response.ok) {
          throw new Error("plotly.min.js.gz: HTTP " + response.status);
        }
        return response.arrayBuffer();
      })
      .then(function (buffer) {
        var bytes = new Uint8Array(buffer);
        // A server that sends .gz files with Content-Encoding: gzip has inflated it already.
        if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) {
          return new TextDecoder().decode(bytes);
        }
        var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
        return new Response(stream).text();
      })
      .then(function (code) {
        var script = document.createElement("script");
        script.text = code; // runs as the plain file would, defining window.Plotly
        document.head.appendChild(script);
        if (!window.Plotly) {
          throw new Error("plotly.js did not define Plotly");
        }
        return window.Plotly;
      });
  }

  window.agreementPlotly = inflated().catch(plain);
})();
