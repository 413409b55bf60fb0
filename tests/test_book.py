"""The built book in a real browser: Debian's Chromium driven by Playwright.

Builds the book from the committed results (``build --no-train``) unless an up-to-date build
exists, serves it on localhost, and checks every page: it loads without console errors and
without any request leaving localhost, its figures are there, and the epoch scrubber's slider
changes the shown epoch and image grid. Screenshots go to ``book/_build/screenshots/``.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
HTML = REPO / "book" / "_build" / "html"
SHOTS = REPO / "book" / "_build" / "screenshots"
SOURCES = [REPO / "notebooks", REPO / "book", REPO / "agreement_core", REPO / "results",
           REPO / "_config.yml"]


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


@pytest.fixture(scope="session")
def book() -> Path:
    # index.html (a redirect) is written once; every other page at every build.
    pages = [p for p in HTML.glob("*.html") if p.name != "index.html"]
    if not pages or min(p.stat().st_mtime for p in pages) < _newest(SOURCES):
        subprocess.run([sys.executable, "-m", "agreement_core", "build", "--no-train"],
                       cwd=REPO, check=True)
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


class Visit:
    """A page opened with every console error, page error and outside request recorded."""

    def __init__(self, browser, url: str):
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.page = browser.new_page(viewport={"width": 1400, "height": 900})
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("requestfailed", lambda r: self.errors.append(f"failed: {r.url}"))
        self.page.route(re.compile(r"^(?!http://127\.0\.0\.1)(?!data:).*"), self._block)
        self.page.goto(url, wait_until="load")
        self.page.wait_for_timeout(300)

    def _block(self, route):
        self.outside.append(route.request.url)
        route.abort()


@pytest.mark.parametrize("page", _pages())
def test_page_loads_offline_without_errors_and_shows_its_figures(browser, server, page):
    visit = Visit(browser, f"{server}/{page}")
    p = visit.page
    assert not visit.outside, f"{page} asks for outside resources: {visit.outside}"
    assert not visit.errors, f"{page}: {visit.errors}"
    assert p.locator("h1").count() >= 1
    if page.startswith("notebooks/"):
        outputs = p.locator(".cell_output")
        images = p.locator(".cell_output img")
        plotly = p.locator(".cell_output .js-plotly-plot")
        unavailable = p.get_by_text("DatasetUnavailable:")
        assert images.count() + plotly.count() > 0 or unavailable.count() > 0, \
            f"{page} has neither figures nor a missing-data message"
        assert outputs.count() > 0
        for i in range(images.count()):  # every figure decoded (a broken image has width 0)
            assert images.nth(i).evaluate("img => img.complete && img.naturalWidth > 0"), \
                f"{page}: image {i} did not load"
        for i in range(plotly.count()):
            assert plotly.nth(i).locator(".main-svg").count() > 0, f"{page}: empty plot {i}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    p.screenshot(path=str(SHOTS / (page.replace("/", "_").replace(".html", ".png"))),
                 full_page=True)
    p.close()


def test_scrubber_slider_changes_epoch_and_image_grid(browser, server):
    visit = Visit(browser, f"{server}/notebooks/learning_dynamics_explorer.html")
    p = visit.page
    scrubber = p.locator(".epoch-scrubber .js-plotly-plot").first
    scrubber.scroll_into_view_if_needed()
    title = scrubber.locator(".gtitle")
    grid = scrubber.locator("g.imagelayer image").first

    def state():
        return title.text_content(), grid.get_attribute("href")

    first_title, first_grid = state()
    assert first_title.startswith("train set, epoch 1:")
    labels = scrubber.locator("g.slider-labels text, g.slider-label-group text")
    target = labels.nth(5)  # the label of epoch 6
    assert target.text_content().strip() == "6"
    rail = scrubber.locator("rect.slider-rail-touch-rect").bounding_box()
    label_box = target.bounding_box()
    p.mouse.click(label_box["x"] + label_box["width"] / 2, rail["y"] + rail["height"] / 2)
    p.wait_for_timeout(700)
    new_title, new_grid = state()
    assert new_title.startswith("train set, epoch 6:"), new_title
    assert new_grid != first_grid and new_grid.startswith("data:image/png;base64,")
    current = scrubber.locator("g.slider-container text.slider-label").first  # "epoch N"
    assert current.text_content() == "epoch 6"
    SHOTS.mkdir(parents=True, exist_ok=True)
    scrubber.screenshot(path=str(SHOTS / "scrubber_epoch6.png"))
    assert not visit.errors and not visit.outside
    p.close()


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
