"""The built book in a real browser: Debian's Chromium driven by Playwright.

Builds the book from the committed results of ``$AGREEMENT_BOOK_PROFILE`` (``build --no-train
--profile``; ``make test`` passes the Makefile's ``PROFILE``) unless an up-to-date build of it
exists, serves it on localhost, and drives every page at 1280 px (desktop), 768 px (tablet)
and 400 px (phone). On every page and width: no console error, no request leaving localhost,
no page over :data:`WEIGHT_LIMIT` bytes (:data:`PLOTLY_WEIGHT_LIMIT` with a Plotly figure;
plotly.js only where a figure needs it, as its gzip copy; no Font Awesome JavaScript), math
typeset by MathJax from the book's own files, every code cell folded (present, one click
away), wide tables scrolling inside their output, verdict tables read without scrolling
sideways (each verdict on screen, the table or its cards within the column), and the chapter
menu opening from the visible menu button. Figures: their smallest text as shown is at least
:data:`MIN_TEXT_PX` CSS pixels at every width, computed from the PNG the browser chose (a
``<picture>`` holds a wide and a phone version, ``agreement_core.plots.figure_html``): its
rendered width over its pixel width times the text height the PNG records
(``agreement_core.plots.figure_png``); a click enlarges a figure. The epoch scrubber: slider,
arrow keys, stacked panels in a narrow column, thumbnails with class names, the dataset in the
title, y-axis titles inside the figure, each epoch's image grid fetched when shown.

Full-page screenshots go to ``book/_build/screenshots/``, the page weights to
``book/_build/page_weights.json`` and the smallest figure text as shown to
``book/_build/figure_text_px.json``; three pages at two widths and four pages on a phone
(``phone_*_400.png``) to ``book/_build/screenshots/docs/`` (to the tracked ``docs/images/``
with ``AGREEMENT_UPDATE_DOC_IMAGES=1``: ``make doc-images``).
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
HTML = REPO / "book" / "_build" / "html"
SHOTS = REPO / "book" / "_build" / "screenshots"
# The README's screenshots are tracked files: a test run refreshes them only when asked
# (AGREEMENT_UPDATE_DOC_IMAGES=1, as `make doc-images` does), else writes beside the others.
DOC_IMAGES = (REPO / "docs" / "images" if os.environ.get("AGREEMENT_UPDATE_DOC_IMAGES") == "1"
              else SHOTS / "docs")
WEIGHTS = REPO / "book" / "_build" / "page_weights.json"
TEXT_SIZES = REPO / "book" / "_build" / "figure_text_px.json"
#: The profile the book is built from: ``make test`` passes the Makefile's ``PROFILE``.
PROFILE = os.environ.get("AGREEMENT_BOOK_PROFILE", "full")
#: What the book is built from: a newer file means a rebuild (this profile's results only: a
#: long run of another profile writing its results needs none).
SOURCES = [REPO / "notebooks", REPO / "book", REPO / "agreement_core",
           REPO / "results" / PROFILE, REPO / "_config.yml"]
#: The widths every page is driven at (CSS pixels).
WIDTHS = {"desktop": 1280, "tablet": 768, "phone": 400}
#: Most bytes a page without a Plotly figure may load (HTML, scripts, styles, fonts, images).
WEIGHT_LIMIT = 2_500_000
#: Most bytes a page with a Plotly figure (the explorer) may load when opened.
PLOTLY_WEIGHT_LIMIT = 4_000_000
#: Smallest text on a figure as shown (CSS pixels).
MIN_TEXT_PX = 9
#: Smallest thumbnail side in the scrubber as shown (CSS pixels): 1.5 times CIFAR-10's 32.
MIN_THUMBNAIL_PX = 48
#: Pages whose screenshots at the desktop and phone widths go to docs/images/ (docs/book.md).
DOC_PAGES = {"method": "method.html", "figure": "notebooks/fig2_cifar10_ablations.html",
             "explorer": "notebooks/learning_dynamics_explorer.html"}
#: Phone screenshots for docs/images/phone_<name>_400.png: page, and what is scrolled to the
#: top (None: the page's top).
PHONE_SHOTS = {"intro": ("intro.html", None),
               "claims": ("notebooks/claims.html", "table.verdict-table"),
               "fig4_verdict": ("notebooks/fig4_pascal.html", ".claim-verdicts table"),
               "fig4_figure": ("notebooks/fig4_pascal.html", ".cell_output picture"),
               "explorer": ("notebooks/learning_dynamics_explorer.html",
                            ".epoch-scrubber .js-plotly-plot")}


def _newest(paths) -> float:
    newest = 0.0
    for path in paths:
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()
                                              and "_build" not in p.parts
                                              and "__pycache__" not in p.parts]
        newest = max([newest, *(p.stat().st_mtime for p in files)])
    return newest


def _pages() -> list[str]:
    toc = yaml.safe_load((REPO / "book" / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]
    return [f"{f}.html" for f in files]


def _built_profile() -> str | None:
    """The profile the executed notebooks in book/notebooks were run with (papermill's record)."""
    executed = REPO / "book" / "notebooks" / "claims.ipynb"
    if not executed.is_file():
        return None
    metadata = json.loads(executed.read_text())["metadata"]
    return metadata.get("papermill", {}).get("parameters", {}).get("profile")


@pytest.fixture(scope="session")
def book() -> Path:
    # index.html (a redirect) is written once; every other page at every build.
    pages = [p for p in HTML.glob("*.html") if p.name != "index.html"]
    if not pages or min(p.stat().st_mtime for p in pages) < _newest(SOURCES) \
            or _built_profile() != PROFILE:
        subprocess.run([sys.executable, "-m", "agreement_core", "build", "--no-train",
                        "--profile", PROFILE], cwd=REPO, check=True)
    return HTML


def _chromium() -> str:
    for candidate in (os.environ.get("AGREEMENT_CHROMIUM"), shutil.which("chromium"),
                      shutil.which("chromium-browser"), shutil.which("google-chrome")):
        if candidate:
            return candidate
    pytest.fail("no Chromium: install Debian's chromium (`make browser` does, as root) or set "
                "AGREEMENT_CHROMIUM to a Chrome/Chromium executable")


@pytest.fixture(scope="session")
def server(book):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(book))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=_chromium(),
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"])
        yield browser
        browser.close()


def _table(path: Path):
    """Page -> width -> number, written to ``path`` at the end of the session."""
    found: dict[str, dict[str, float]] = {}
    yield found
    if found:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(found, indent=1, sort_keys=True) + "\n")


@pytest.fixture(scope="session")
def weights():
    """Page -> width -> bytes loaded; written to book/_build/page_weights.json at the end."""
    yield from _table(WEIGHTS)


@pytest.fixture(scope="session")
def text_sizes():
    """Page -> width -> smallest figure text as shown (CSS px); written to
    book/_build/figure_text_px.json at the end."""
    yield from _table(TEXT_SIZES)


class Visit:
    """A page opened in a fresh browser context (nothing cached) at one width, with every
    console error, page error, outside request and loaded byte recorded."""

    def __init__(self, browser, url: str, width: int):
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.loaded: dict[str, int] = {}
        self.context = browser.new_context(viewport={"width": width, "height": 900})
        self.page = self.context.new_page()
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("requestfailed", lambda r: self.errors.append(f"failed: {r.url}"))
        self.page.on("requestfinished", self._count)
        self.page.route(re.compile(r"^(?!http://127\.0\.0\.1)(?!data:).*"), self._block)
        self.page.goto(url, wait_until="networkidle")
        self.page.evaluate("() => window.MathJax && MathJax.startup ? "
                           "MathJax.startup.promise.then(() => true) : true")
        # Plotly figures are drawn once plotly.js is loaded and inflated (plotly_loader.js),
        # the scrubbers then arranged for their column (data-layout, widgets.scrubber_script).
        self.page.wait_for_function("""() => [...document.querySelectorAll('.plotly-graph-div')]
          .every(d => d.querySelector('.main-svg')
                      && (!d.closest('.epoch-scrubber') || d.dataset.layout))""")
        self.page.wait_for_timeout(200)

    def _block(self, route):
        self.outside.append(route.request.url)
        route.abort()

    def _count(self, request):
        if request.url.startswith("http://127.0.0.1"):
            self.loaded[request.url] = request.sizes()["responseBodySize"]

    @property
    def weight(self) -> int:
        return sum(self.loaded.values())

    def requested(self, name: str) -> bool:
        return any(urlparse(url).path.endswith(name) for url in self.loaded)

    def close(self):
        self.context.close()


def _chosen_png(img) -> tuple[float, int]:
    """The PNG the browser shows for ``img`` (``currentSrc``: for a ``<picture>``, the version
    its media query chose): the height of its smallest text and its width, in image pixels."""
    from PIL import Image

    from agreement_core.plots import MIN_FONT_KEY

    path = HTML / unquote(urlparse(img.evaluate("i => i.currentSrc")).path).lstrip("/")
    with Image.open(path) as png:
        assert MIN_FONT_KEY in png.info, f"{path.name} records no text size (plots.show)"
        return float(png.info[MIN_FONT_KEY]), png.width


def _shown_text_px(img) -> float:
    """The smallest text of a figure as shown: rendered width over the chosen PNG's width
    times the text height it records."""
    recorded, pixels = _chosen_png(img)
    return recorded * img.evaluate("i => i.getBoundingClientRect().width") / pixels


def _check_figures(p, page: str, width: int) -> float | None:
    """Every figure loaded, within the column, with its smallest text at least MIN_TEXT_PX
    as shown; returns the smallest text size found (None: no figure)."""
    images = p.locator(".cell_output img")
    plotly = p.locator(".cell_output .js-plotly-plot")
    notes = p.locator(".cell_output .missing-data")
    tables = p.locator(".cell_output table")
    assert images.count() + plotly.count() + notes.count() + tables.count() > 0, \
        f"{page} has no figure, no table and no missing-data or missing-results note"
    for i in range(plotly.count()):
        assert plotly.nth(i).locator(".main-svg").count() > 0, f"{page}: empty plot {i}"
    column = p.evaluate("() => document.querySelector('article.bd-article')"
                        ".getBoundingClientRect().right")
    smallest = None
    for i in range(images.count()):
        img = images.nth(i)
        img.scroll_into_view_if_needed()  # a lazy browser loads what is on screen
        p.wait_for_function("i => i.complete", arg=img.element_handle())
        assert img.evaluate("img => img.naturalWidth > 0"), f"{page}: image {i} did not load"
        assert img.evaluate("i => i.getBoundingClientRect().right") <= column + 1, \
            f"{page}: figure {i} runs out of the column at {width} px"
        shown = _shown_text_px(img)
        assert shown >= MIN_TEXT_PX, f"{page}: figure {i} text {shown:.1f} px at {width} px"
        smallest = shown if smallest is None else min(smallest, shown)
    if images.count():
        # A click enlarges a figure (its wide version, at full resolution).
        first = images.first
        first.scroll_into_view_if_needed()
        first.click()
        large = p.locator("dialog.figure-lightbox[open] img")
        large.wait_for(state="visible")
        p.wait_for_function("() => document.querySelector('dialog.figure-lightbox img')"
                            ".complete")
        assert large.evaluate("i => i.naturalWidth") >= first.evaluate("i => i.naturalWidth")
        p.keyboard.press("Escape")
        p.locator("dialog.figure-lightbox[open]").wait_for(state="detached")
    return smallest


def _check_verdicts(p, page: str, width: int) -> None:
    """Verdict tables read without scrolling sideways: each table (or its cards) within the
    column and not scrolled inside its box, every verdict on screen; the page itself does
    not scroll sideways."""
    found = p.evaluate("""() => {
      const column = document.querySelector('article.bd-article').getBoundingClientRect();
      const tables = [...document.querySelectorAll('table.verdict-table')].map(table => {
        const box = table.getBoundingClientRect();
        let scroller = table.parentElement, scrolls = false;
        while (scroller && scroller !== document.body) {
          scrolls = scrolls || scroller.scrollWidth > scroller.clientWidth + 1;
          scroller = scroller.parentElement;
        }
        const verdicts = [...table.querySelectorAll('td.verdict')].map(td => {
          const cell = td.getBoundingClientRect();
          return cell.left >= -1 && cell.right <= window.innerWidth + 1 && cell.width > 0;
        });
        return {inside: box.left >= column.left - 1 && box.right <= column.right + 1,
                scrolls, verdicts: verdicts.length, visible: verdicts.every(v => v)};
      });
      return {tables, page: document.documentElement.scrollWidth <= window.innerWidth + 1};
    }""")
    if page == "notebooks/claims.html":
        assert found["tables"], "the claims page has no verdict table"
    for i, table in enumerate(found["tables"]):
        assert table["verdicts"] > 0, f"{page}: verdict table {i} has no verdict"
        assert table["inside"] and not table["scrolls"], \
            f"{page}: verdict table {i} scrolls sideways at {width} px"
        assert table["visible"], f"{page}: a verdict of table {i} is off screen at {width} px"
    assert found["page"], f"{page} scrolls sideways at {width} px"


def _check_code_folded(p, page: str) -> None:
    cells = p.locator(".cell:has(.cell_input)")
    assert cells.count() > 0, f"{page}: no code cells (the notebook's code should be there)"
    for i in range(cells.count()):
        cell = cells.nth(i)
        assert cell.locator("details.hide:not([open]) .cell_input").count() == 1, \
            f"{page}: code cell {i} is not folded"
        assert not cell.locator(".cell_input").is_visible(), f"{page}: code cell {i} shown"
    for tag in ("parameters", "injected-parameters"):
        assert p.locator(f".cell.tag_{tag}.tag_hide-input").count() == 1, \
            f"{page}: the {tag} cell is not there, folded"
    first = cells.first
    first.locator("details.hide > summary").click()  # one click away
    assert first.locator(".cell_input").is_visible()


def _check_tables(p, page: str) -> None:
    """Every table fits the column, or scrolls sideways inside an output that does."""
    found = p.evaluate("""() => {
      const column = document.querySelector('article.bd-article').getBoundingClientRect();
      return [...document.querySelectorAll('.cell_output table')].map(table => {
        const box = table.getBoundingClientRect();
        let scroller = table.parentElement;
        while (scroller && !['auto', 'scroll'].includes(getComputedStyle(scroller).overflowX))
          scroller = scroller.parentElement;
        const frame = scroller ? scroller.getBoundingClientRect() : null;
        return {fits: box.right <= column.right + 1,
                scrolls: !!frame && frame.right <= column.right + 1
                         && scroller.scrollWidth >= table.offsetWidth};
      });
    }""")
    for i, table in enumerate(found):
        assert table["fits"] or table["scrolls"], f"{page}: table {i} is cut off"


def _check_math(p, page: str, visit: Visit) -> None:
    math = p.locator(".math")
    typeset = p.locator(".math mjx-container")
    if page == "method.html":
        assert math.count() >= 10, "method.html: the definitions are not math"
    if math.count():
        assert typeset.count() == math.count(), f"{page}: math not typeset"
        assert p.locator("mjx-merror").count() == 0, f"{page}: MathJax errors"
        assert visit.requested("/_static/mathjax/tex-chtml.js")


def _check_menu(p, page: str, width: int) -> None:
    toggle = p.locator(".bd-header-article button.primary-toggle")
    assert toggle.is_visible(), f"{page}: no visible menu button at {width} px"
    toggle.click()
    if width >= WIDTHS["desktop"]:  # wide screens: the button hides the sidebar
        p.wait_for_function("() => document.getElementById('pst-primary-sidebar')"
                            ".classList.contains('pst-sidebar-hidden')")
        toggle.click()
        return
    menu = p.locator("#pst-primary-sidebar-modal[open]")
    menu.wait_for(state="visible")
    chapters = menu.locator("a.reference.internal")
    assert chapters.count() >= len(_pages()) - 1, f"{page}: the chapter menu is empty"
    assert chapters.filter(has_text="Method").first.is_visible()
    p.keyboard.press("Escape")


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
@pytest.mark.parametrize("page", _pages())
def test_page(browser, server, weights, text_sizes, page, width):
    visit = Visit(browser, f"{server}/{page}", width)
    p = visit.page
    assert not visit.outside, f"{page} asks for outside resources: {visit.outside}"
    assert not visit.errors, f"{page}: {visit.errors}"
    assert p.locator("h1").count() >= 1
    has_plotly = p.locator(".js-plotly-plot").count() > 0
    weights.setdefault(page, {})[str(width)] = visit.weight
    # plotly.js as its gzip copy, inflated in the page (book/_ext/plotly_loader.js).
    assert visit.requested("plotly.min.js.gz") == has_plotly, \
        f"{page}: plotly.js loaded {'without' if not has_plotly else 'with'} a Plotly figure"
    assert not visit.requested("plotly.min.js"), f"{page} loads the uncompressed plotly.js"
    assert not visit.requested("fontawesome.js")
    limit = PLOTLY_WEIGHT_LIMIT if has_plotly else WEIGHT_LIMIT
    assert visit.weight <= limit, \
        f"{page} loads {visit.weight / 1e6:.2f} MB at {width} px: " \
        f"{sorted(visit.loaded.items(), key=lambda kv: -kv[1])[:4]}"
    _check_math(p, page, visit)
    if page.startswith("notebooks/"):
        smallest = _check_figures(p, page, width)
        if smallest is not None:
            text_sizes.setdefault(page, {})[str(width)] = round(smallest, 2)
        _check_verdicts(p, page, width)
        _check_code_folded(p, page)
        _check_tables(p, page)
    _check_menu(p, page, width)
    assert not visit.errors, f"{page}: {visit.errors}"
    # Last: Chromium's full-page capture resizes the window for a moment, in which a
    # <picture> may start loading (and drop) its other version.
    name = page.replace("/", "_").replace(".html", "")
    SHOTS.mkdir(parents=True, exist_ok=True)
    p.screenshot(path=str(SHOTS / f"{name}_{width}.png"), full_page=True)
    visit.close()


def _scrubber(p):
    """The first scrubber, its top (the slider, on a phone) just below the theme's header."""
    scrubber = p.locator(".epoch-scrubber .js-plotly-plot").first
    scrubber.evaluate("e => e.scrollIntoView({block: 'start'})")
    p.evaluate("() => window.scrollBy(0, -70)")
    return scrubber


def _boxes(scrubber) -> dict:
    """The scrubber's panels (agreement, image grid, histogram) as page boxes."""
    return scrubber.evaluate("""gd => {
      const layout = gd._fullLayout, frame = gd.getBoundingClientRect();
      const box = (x, y) => ({x: frame.left + layout[x]._offset, width: layout[x]._length,
                              y: frame.top + layout[y]._offset, height: layout[y]._length});
      const histogram = gd.data.find(t => t.type === 'bar');
      const h = histogram.xaxis.slice(1);
      return {agreement: box('xaxis', 'yaxis'), images: box('xaxis2', 'yaxis2'),
              histogram: box('xaxis' + h, 'yaxis' + h)};
    }""")


def _grids_loaded(visit: Visit) -> list[str]:
    """The book's image files the page has loaded (on the explorer: the scrubbers' grids)."""
    return [url for url in visit.loaded if "/_images/" in urlparse(url).path]


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_scrubber_slider_keys_layout_and_thumbnails(browser, server, width):
    visit = Visit(browser, f"{server}/notebooks/learning_dynamics_explorer.html", width)
    p = visit.page
    scrubbers = p.locator(".epoch-scrubber .js-plotly-plot").count()
    # Each epoch's image grid is a file fetched when shown: at first one per scrubber.
    assert 0 < len(_grids_loaded(visit)) <= scrubbers, _grids_loaded(visit)
    scrubber = _scrubber(p)
    title = scrubber.locator(".gtitle")
    grid = scrubber.locator("g.imagelayer image").first

    def state():
        return title.text_content(), grid.get_attribute("href")

    first_title, first_grid = state()
    assert first_title.startswith("CIFAR-10 train set, epoch 1:"), first_title
    # The y-axis titles inside the figure (a phone's narrow margin cut them off).
    frame = scrubber.bounding_box()
    y_titles = scrubber.locator("[class^='g-y'][class$='title'] text")  # g-ytitle, g-y3title
    assert y_titles.count() >= 2
    for i in range(y_titles.count()):
        box = y_titles.nth(i).bounding_box()
        assert box["x"] >= frame["x"] - 1, f"a y-axis title is cut off at {width} px"
    # The slider: click the label of epoch 6 (Plotly labels every other epoch on a narrow
    # slider with many epochs: then the middle label).
    labels = scrubber.locator("g.slider-labels text, g.slider-label-group text")
    texts = [labels.nth(i).text_content().strip() for i in range(labels.count())]
    epoch = 6 if "6" in texts else int(texts[len(texts) // 2])
    target = labels.nth(texts.index(str(epoch)))
    rail = scrubber.locator("rect.slider-rail-touch-rect").bounding_box()
    label_box = target.bounding_box()
    p.mouse.click(label_box["x"] + label_box["width"] / 2, rail["y"] + rail["height"] / 2)
    p.wait_for_timeout(700)
    new_title, new_grid = state()
    assert new_title.startswith(f"CIFAR-10 train set, epoch {epoch}:"), new_title
    assert new_grid != first_grid and new_grid.endswith(".png")  # a file of the book
    p.wait_for_function("g => g.getBoundingClientRect().width > 0", arg=grid.element_handle())
    assert any(urlparse(url).path.endswith(new_grid.rsplit("/", 1)[-1])
               for url in _grids_loaded(visit)), "the epoch's grid was not fetched"
    current = scrubber.locator("g.slider-container text.slider-label").first  # "epoch N"
    assert current.text_content() == f"epoch {epoch}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    scrubber.screenshot(path=str(SHOTS / f"scrubber_{width}_epoch{epoch}.png"))  # the README's
    # The keyboard: two steps right, one left, End.
    scrubber.focus()
    for key in ("ArrowRight", "ArrowRight", "ArrowLeft"):
        p.keyboard.press(key)
        p.wait_for_timeout(300)
    assert title.text_content().startswith(f"CIFAR-10 train set, epoch {epoch + 1}:")
    assert current.text_content() == f"epoch {epoch + 1}"
    p.keyboard.press("End")
    p.wait_for_timeout(300)
    steps = scrubber.evaluate("gd => gd.layout.sliders[0].steps.map(s => s.label)")
    assert current.text_content() == f"epoch {steps[-1]}"
    # The layout: side by side in a wide column, stacked in a narrow one, nothing
    # overlapping.
    boxes = _boxes(scrubber)
    narrow = scrubber.evaluate("gd => gd.parentElement.clientWidth < gd.layout.meta.narrow_px")
    assert narrow == (width < WIDTHS["tablet"])
    if not narrow:
        assert boxes["images"]["x"] > boxes["agreement"]["x"] + boxes["agreement"]["width"]
    else:
        order = [boxes[k] for k in ("images", "agreement", "histogram")]
        for upper, lower in zip(order, order[1:], strict=False):
            assert upper["y"] + upper["height"] <= lower["y"], "panels overlap on the phone"
    frame = scrubber.bounding_box()
    assert frame["x"] >= 0 and frame["x"] + frame["width"] <= width
    # Thumbnails large enough to recognise, with a legible class name under each.
    meta = scrubber.evaluate("gd => gd.layout.meta")
    natural = grid.evaluate("i => new Promise(done => { const image = new Image();"
                            " image.onload = () => done(image.naturalWidth);"
                            " image.src = i.href.baseVal; })")
    scale = boxes["images"]["width"] / natural
    assert meta["thumbnail_px"] * scale >= MIN_THUMBNAIL_PX, (meta, scale)
    assert meta["label_px"] * scale >= MIN_TEXT_PX, (meta, scale)
    SHOTS.mkdir(parents=True, exist_ok=True)
    scrubber.screenshot(path=str(SHOTS / f"scrubber_{width}.png"))
    assert not visit.errors and not visit.outside
    visit.close()


@pytest.mark.parametrize("width", [WIDTHS["desktop"], WIDTHS["phone"]], ids=["desktop", "phone"])
@pytest.mark.parametrize("name", DOC_PAGES)
def test_documentation_screenshots(browser, server, name, width):
    """docs/images/book_<name>_<width>.png: what a reader sees first (listed in docs/book.md).

    Figure pages are scrolled to their first figure, with its code folded above it.
    """
    visit = Visit(browser, f"{server}/{DOC_PAGES[name]}", width)
    p = visit.page
    first = p.locator(".cell_output img, .cell_output .js-plotly-plot").first
    if first.count():
        first.evaluate("e => e.scrollIntoView({block: 'start'})")
        p.evaluate("() => window.scrollBy(0, -160)")
        p.wait_for_timeout(300)
    DOC_IMAGES.mkdir(parents=True, exist_ok=True)
    p.screenshot(path=str(DOC_IMAGES / f"book_{name}_{width}.png"))
    assert not visit.errors and not visit.outside
    visit.close()


@pytest.mark.parametrize("name", PHONE_SHOTS)
def test_phone_screenshots(browser, server, name):
    """docs/images/phone_<name>_400.png: the intro, the claims (cards), Fig. 4 (its verdict
    cards, its first figure) and the explorer on a 400-px phone."""
    page, target = PHONE_SHOTS[name]
    visit = Visit(browser, f"{server}/{page}", WIDTHS["phone"])
    p = visit.page
    if target:
        p.locator(target).first.evaluate("e => e.scrollIntoView({block: 'start'})")
        p.evaluate("() => window.scrollBy(0, -70)")  # below the theme's header bar
        p.wait_for_timeout(300)
    DOC_IMAGES.mkdir(parents=True, exist_ok=True)
    p.screenshot(path=str(DOC_IMAGES / f"phone_{name}_{WIDTHS['phone']}.png"))
    assert not visit.errors and not visit.outside
    visit.close()


def test_built_html_references_nothing_outside(book):
    """No script, stylesheet or font is loaded from another host (the book works offline)."""
    pattern = re.compile(r'<(?:script|link)[^>]+(?:src|href)="(https?:)?//[^"]+"', re.I)
    offenders = {}
    for path in book.rglob("*.html"):
        found = [m.group(0) for m in pattern.finditer(path.read_text(errors="replace"))
                 if 'rel="canonical"' not in m.group(0)]
        if found:
            offenders[str(path.relative_to(book))] = found[:3]
    assert not offenders, offenders


def test_executed_notebooks_fold_every_code_cell_and_sources_stay_clean(book):
    """The book's copies fold all code (hide-input); the notebooks themselves carry no
    such tag, so they run with papermill and show their code in Jupyter."""
    import nbformat

    copies = sorted((REPO / "book" / "notebooks").glob("*.ipynb"))
    assert copies
    for path in copies:
        notebook = nbformat.read(path, as_version=4)
        code = [c for c in notebook.cells if c.cell_type == "code"]
        assert all("hide-input" in c.metadata.get("tags", []) for c in code), path.name
        source = nbformat.read(REPO / "notebooks" / path.name, as_version=4)
        assert not any("hide-input" in c.metadata.get("tags", []) for c in source.cells)


def test_present_notebook_tags_code_cells_only(tmp_path):
    import nbformat

    from agreement_core.study.pipeline import present_notebook

    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Title"),
        nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("x = 2", metadata={"tags": ["injected-parameters"]}),
        nbformat.v4.new_code_cell("print(x)"),
        nbformat.v4.new_code_cell("y = 3", metadata={"tags": ["remove-cell"]})])
    path = tmp_path / "n.ipynb"
    nbformat.write(notebook, path)
    assert present_notebook(path) == {"tagged": 3, "kept": 1}
    tags = [c.metadata.get("tags", []) for c in nbformat.read(path, as_version=4).cells]
    assert tags == [[], ["parameters", "hide-input"], ["injected-parameters", "hide-input"],
                    ["hide-input"], ["remove-cell"]]
    assert present_notebook(path) == {"tagged": 0, "kept": 4}  # idempotent


def test_fontawesome_script_is_stripped():
    sys.path.insert(0, str(REPO / "book" / "_ext"))
    try:
        from book_assets import strip_fontawesome_js
    finally:
        sys.path.pop(0)
    page = ('<head>\n  <script defer src="../_static/scripts/fontawesome.js?digest=ab"></script>'
            '\n  <script src="../_static/book.js"></script>')
    assert strip_fontawesome_js(page) == '<head>\n  <script src="../_static/book.js"></script>'
