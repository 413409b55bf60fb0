"""Sphinx extension: what each page of the book loads, all of it from the book's own files.

- **plotly.js** (4.8 MB, copied from the plotly package into the output's ``_static``)
  only on the pages that hold a Plotly figure, not on every page, and there as its gzip copy
  (``plotly.min.js.gz``, 1.5 MB) that ``plotly_loader.js`` inflates in the browser: the page
  costs a third as much even where the server does not compress (the loader falls back to the
  plain file where that cannot work, e.g. a page opened from the disk). (Neither may be in
  ``book/_static``: Jupyter Book loads every ``.js`` file there on every page.)
- **Embedded images as files**: the PNGs that notebooks embed as data URIs (a figure's wide
  and phone versions, ``agreement_core.plots.figure_html``; the epoch scrubber's image grid
  of every epoch) are written to ``_images/`` and referred to by URL, so that a page loads
  only the images it shows: the phone version of a figure on a phone, the scrubber's grid of
  an epoch when the slider reaches it.
- **MathJax 3** (the ``tex-chtml`` component and what it loads on demand) from the
  ``sphinx-mathjax-offline`` package into ``_static/mathjax``; ``mathjax_path`` in
  ``_config.yml`` points there, so no page asks a CDN. Only pages with math load it.
- **No Font Awesome JavaScript**: pydata-sphinx-theme loads ``fontawesome.js`` (1.5 MB) on
  every page to turn its icons into SVG, although its stylesheet already draws the same
  icons with the Font Awesome web font. The script tag is removed from the written pages.
- **One viewport meta tag**: Sphinx's basic layout, docutils' HTML5 writer (the page's
  ``metatags``) and pydata-sphinx-theme's ``extrahead`` each write one; the written pages
  keep the first.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import importlib.util
import os
import re
import shutil
from pathlib import Path

#: Marks of a Plotly figure in a page's body (``plotly.io.to_html``'s output).
PLOTLY_MARKS = ("Plotly.newPlot", "plotly-graph-div")
#: The parts of the MathJax distribution the book serves (``tex-chtml.js`` and the files
#: it loads on demand: fonts, TeX extensions, the menu and accessibility components).
MATHJAX_PARTS = ("tex-chtml.js", "input", "output", "ui", "a11y", "sre", "adaptors")
MATHJAX_PACKAGE = "sphinx-mathjax-offline"
_FONTAWESOME = re.compile(r'\s*<script[^>]*src="[^"]*_static/scripts/fontawesome\.js[^"]*"'
                          r'[^>]*>\s*</script>')


def mathjax_dir() -> Path:
    """The MathJax 3 distribution shipped by the ``sphinx-mathjax-offline`` package."""
    spec = importlib.util.find_spec(MATHJAX_PACKAGE)
    folder = Path(spec.origin).parent / "static" / "mathjax" if spec and spec.origin else None
    if folder is None or not (folder / "tex-chtml.js").is_file():
        raise RuntimeError(f"MathJax not found: install the book's dependencies "
                           f"(pip install -e '.[book]' installs {MATHJAX_PACKAGE})")
    return folder


#: The loader of plotly.js (beside this file), copied to ``_static`` of the output.
PLOTLY_LOADER = Path(__file__).with_name("plotly_loader.js")
#: A PNG embedded as a data URI, in HTML or in JSON inside a script (where ``/`` may be
#: written ``\u002f``, as plotly's JSON encoder does).
_EMBEDDED_PNG = re.compile(r"data:image(?:/|\\u002f)png;base64,((?:[A-Za-z0-9+=]|/|\\u002f)+)")


def _plotly_where_used(app, pagename, templatename, context, doctree):
    # The builder's add_js_file, not the application's: that one would add it to every
    # page written after this one.
    if any(mark in context.get("body", "") for mark in PLOTLY_MARKS):
        app.builder.add_js_file("plotly_loader.js")


def embedded_pngs_to_files(body: str, images: Path, prefix: str) -> str:
    """``body`` with every PNG data URI replaced by ``prefix`` + the name of a file in
    ``images`` holding it (named by its content: the same image is one file).

    Parameters
    ----------
    body : str
        A page's HTML.
    images : Path
        The output's image folder (``_images``).
    prefix : str
        The folder's URL relative to the page (``"../_images/"``).
    """
    def to_file(match) -> str:
        data = base64.b64decode(match.group(1).replace("\\u002f", "/"))
        name = hashlib.sha256(data).hexdigest()[:40] + ".png"
        target = images / name
        if not target.exists():
            images.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{name}.{os.getpid()}")  # parallel writers
            partial.write_bytes(data)
            os.replace(partial, target)
        return prefix + name

    return _EMBEDDED_PNG.sub(to_file, body)


def _embedded_images_as_files(app, pagename, templatename, context, doctree):
    if app.builder.format != "html" or "body" not in context:
        return
    prefix = "../" * pagename.count("/") + "_images/"
    context["body"] = embedded_pngs_to_files(context["body"], Path(app.outdir) / "_images",
                                             prefix)


def plotly_js() -> Path:
    """plotly.js as the plotly package ships it (the version its Python side writes for)."""
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise RuntimeError(f"plotly.js not found at {path}")
    return path


def _copy_plotly(app):
    if app.builder.format != "html":
        return
    static = Path(app.outdir) / "_static"
    static.mkdir(parents=True, exist_ok=True)
    source = plotly_js()
    shutil.copyfile(source, static / "plotly.min.js")  # the loader's fallback
    shutil.copyfile(PLOTLY_LOADER, static / PLOTLY_LOADER.name)
    packed = static / "plotly.min.js.gz"
    if not packed.exists() or packed.stat().st_mtime < source.stat().st_mtime:
        # mtime 0: the same bytes at every build
        packed.write_bytes(gzip.compress(source.read_bytes(), compresslevel=9, mtime=0))


def _is_mathjax(script) -> bool:
    filename = str(getattr(script, "filename", script) or "")
    body = getattr(script, "attributes", {}).get("body", "") or ""
    return "mathjax/" in filename or body.lstrip().startswith("window.MathJax")


def _mathjax_where_used(app, pagename, templatename, context, doctree):
    # MyST-NB asks for every asset on every page (html_assets_policy "always"); MathJax
    # (1.2 MB and its fonts) is kept only where the page has math.
    if 'class="math' not in context.get("body", "") and "script_files" in context:
        context["script_files"] = [s for s in context["script_files"] if not _is_mathjax(s)]


def _copy_mathjax(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    source, target = mathjax_dir(), Path(app.outdir) / "_static" / "mathjax"
    for part in MATHJAX_PARTS:
        if (source / part).is_dir():
            shutil.copytree(source / part, target / part, dirs_exist_ok=True)
        else:
            target.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / part, target / part)


_VIEWPORT = re.compile(r'[ \t]*<meta\s+name="viewport"[^>]*>[ \t]*\n?')


def single_viewport(html: str) -> str:
    """``html`` with only its first ``<meta name="viewport">`` tag."""
    seen = []

    def keep_first(match):
        seen.append(match)
        return match.group(0) if len(seen) == 1 else ""

    return _VIEWPORT.sub(keep_first, html)


def strip_fontawesome_js(html: str) -> str:
    """``html`` without the theme's ``fontawesome.js`` script tag."""
    return _FONTAWESOME.sub("", html)


def _clean_written_pages(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    for page in Path(app.outdir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        stripped = single_viewport(strip_fontawesome_js(text))
        if stripped != text:
            page.write_text(stripped, encoding="utf-8")


def setup(app):
    mathjax_dir()  # fail early, with the remedy, when MathJax is not installed
    app.connect("builder-inited", _copy_plotly)
    app.connect("html-page-context", _plotly_where_used)
    app.connect("html-page-context", _embedded_images_as_files)
    app.connect("html-page-context", _mathjax_where_used, priority=800)
    app.connect("build-finished", _copy_mathjax)
    app.connect("build-finished", _clean_written_pages)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
