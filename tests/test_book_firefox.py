"""The built book in Debian's Firefox ESR at 1280 px, driven over WebDriver BiDi.

Playwright's ``firefox`` is Playwright's own patched build (a download: impossible offline),
so this test drives the distribution's ``firefox-esr`` through the WebDriver BiDi protocol
built into Firefox (:mod:`_bidi`: one headless Firefox for the session, every page in a new
tab of a new user context). On every page of the table of contents: no console error or
JavaScript exception, no failed local request, no request leaving localhost (each is
recorded and failed), math typeset by MathJax from the book's own files, and the chapter
menu closing and opening again from the visible menu button (real mouse clicks). The
search box finds :data:`SEARCH_WORD`, and the epoch scrubber of the learning-dynamics
explorer moves with the slider (a click) and the arrow keys.

The book is the one ``tests/test_book.py`` serves (built there when it is out of date), or
any built book given by ``AGREEMENT_BOOK_HTML`` (served as it is, nothing built). Firefox:
``$AGREEMENT_FIREFOX``, else ``firefox-esr`` (``make browser`` installs it); the test is
skipped only when there is neither and apt-get cannot install it. Screenshots go to
``book/_build/screenshots/firefox/``.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest
from _bidi import Firefox, Tab
from test_book import SHOTS, _pages, server  # noqa: F401 (server: a fixture)
from test_book import book as built_book  # noqa: F401 (a fixture)

#: The width every page is driven at (CSS pixels).
WIDTH = 1280
#: A word the book uses on many pages: the search must find it.
SEARCH_WORD = "agreement"
EXPLORER = "notebooks/learning_dynamics_explorer.html"
#: The epoch scrubber (a Plotly figure with a slider): its title names the epoch shown.
SCRUBBER = ".epoch-scrubber .js-plotly-plot"


@pytest.fixture(scope="session")
def book(request) -> Path:
    """``$AGREEMENT_BOOK_HTML`` as it is, else test_book's (built when out of date)."""
    given = os.environ.get("AGREEMENT_BOOK_HTML")
    if given:
        return Path(given).resolve()
    return request.getfixturevalue("built_book")


def _executable() -> str:
    for candidate in (os.environ.get("AGREEMENT_FIREFOX"), shutil.which("firefox-esr"),
                      shutil.which("firefox")):
        if candidate:
            return candidate
    if shutil.which("apt-get") and os.geteuid() == 0:
        pytest.fail("no Firefox: `make browser` installs Debian's firefox-esr "
                    "(or set AGREEMENT_FIREFOX to a Firefox executable)")
    pytest.skip("no Firefox (firefox-esr) and no apt-get as root to install it: "
                "set AGREEMENT_FIREFOX to a Firefox executable to run this test")


@pytest.fixture(scope="session")
def firefox():
    browser = Firefox(_executable())
    yield browser
    browser.close()


@pytest.fixture
def open_page(firefox, server):  # noqa: F811 (the imported fixture)
    """Open a page of the book in a fresh tab at :data:`WIDTH` (closed after the test)."""
    tabs: list[Tab] = []

    def open_(page: str) -> Tab:
        tabs.append(Tab(firefox, f"{server}/{page}", WIDTH))
        return tabs[-1]

    yield open_
    for tab in tabs:
        tab.close()


def _check_math(tab: Tab, page: str) -> None:
    math, typeset, errors = tab.evaluate("['.math', '.math mjx-container', 'mjx-merror']"
                                         ".map(s => document.querySelectorAll(s).length)")
    if page == "method.html":
        assert math >= 10, "method.html: the definitions are not math"
    if math:
        assert typeset == math, f"{page}: {typeset} of {math} formulas typeset"
        assert errors == 0, f"{page}: MathJax errors"
        assert any(urlparse(url).path.endswith("/_static/mathjax/tex-chtml.js")
                   for url in tab.requested), \
            f"{page}: MathJax is not the book's own"


#: Where the chapter menu is: "shown" (on screen, on top), "hidden" (off screen) or
#: "moving"; with its number of chapter links and whether one is the method.
MENU = """(() => {
  const sidebar = document.getElementById('pst-primary-sidebar');
  const links = [...sidebar.querySelectorAll('a.reference.internal')];
  const r = sidebar.getBoundingClientRect(), bottom = Math.min(r.bottom, innerHeight);
  const hit = document.elementFromPoint(r.left + r.width / 2, (r.top + bottom) / 2);
  const where = r.right <= 0 ? 'hidden' : r.left >= 0 && sidebar.contains(hit) ? 'shown'
                : 'moving';
  return {where, chapters: links.length,
          method: links.some(a => a.textContent.trim() === 'Method')};
})()"""


def _check_menu(tab: Tab, page: str) -> None:
    """At 1280 px the menu button hides the chapter menu, a second click shows it again."""
    toggle = ".bd-header-article button.primary-toggle"
    menu = tab.evaluate(MENU)
    assert menu and menu["where"] == "shown", f"{page}: no chapter menu at {WIDTH} px: {menu}"
    assert menu["method"] and menu["chapters"] >= len(_pages()) - 1, \
        f"{page}: the chapter menu is short: {menu}"
    for where in ("hidden", "shown"):
        tab.click(toggle)
        assert tab.wait_for(f"({MENU}).where === '{where}'"), \
            f"{page}: the menu button leaves the menu {tab.evaluate(MENU)}, not {where}"


@pytest.mark.parametrize("page", _pages())
def test_page(open_page, page):
    tab = open_page(page)
    assert not tab.outside, f"{page} asks for outside resources: {tab.outside}"
    assert not tab.errors, f"{page}: {tab.errors}"
    assert tab.evaluate("document.querySelectorAll('h1').length") >= 1
    _check_math(tab, page)
    tab.screenshot(SHOTS / "firefox" / f"{page.replace('/', '_').replace('.html', '')}.png")
    _check_menu(tab, page)
    assert not tab.errors and not tab.outside, f"{page}: {tab.errors} {tab.outside}"


def test_search_finds_a_word_of_the_book(open_page):
    """Type :data:`SEARCH_WORD` into the search field, Enter: search.html lists pages."""
    tab = open_page(_pages()[0])
    tab.click(".search-button__button")
    assert tab.wait_for("document.activeElement && document.activeElement.name === 'q'"), \
        "the search button does not focus a search field"
    tab.press(SEARCH_WORD, "Enter")
    summary = tab.wait_for("location.pathname.endsWith('/search.html') && (document"
                           ".querySelector('#search-results .search-summary') || {}).textContent",
                           timeout=20)
    assert summary and "found" in summary, f"the search did not finish: {summary!r}"
    found = tab.evaluate("[...document.querySelectorAll('#search-results ul.search li a')]"
                         ".map(a => new URL(a.href).pathname)")
    assert tab.evaluate("new URLSearchParams(location.search).get('q')") == SEARCH_WORD
    assert len(found) >= 3, f"the search for {SEARCH_WORD!r} found {found}"
    assert {"/" + page for page in _pages()} & set(found), found
    assert not tab.errors and not tab.outside, f"{tab.errors} {tab.outside}"


def _state(tab: Tab) -> dict:
    """The scrubber's title, image grid and slider label."""
    return tab.evaluate(f"""(() => {{
      const gd = document.querySelector({json.dumps(SCRUBBER)});
      return {{title: gd.querySelector('.gtitle').textContent,
               grid: gd.querySelector('g.imagelayer image').getAttribute('href'),
               current: gd.querySelector('g.slider-container text.slider-label').textContent,
               steps: gd.layout.sliders[0].steps.map(s => s.label)}};
    }})()""")


def _wait_for_epoch(tab: Tab, epoch) -> dict:
    """The scrubber's state once its title shows ``epoch`` (or after 5 s)."""
    tab.wait_for(f"document.querySelector({json.dumps(SCRUBBER + ' .gtitle')}).textContent"
                 f".startsWith('CIFAR-10 train set, epoch {epoch}:')", timeout=5)
    return _state(tab)


def test_scrubber_slider_and_keys(open_page):
    tab = open_page(EXPLORER)
    first = _state(tab)
    assert first["title"].startswith("CIFAR-10 train set, epoch 1:"), first["title"]
    # The slider: a click on the rail under the label of epoch 6 (or the middle label).
    labels = tab.evaluate(f"""(() => {{
      const gd = document.querySelector({json.dumps(SCRUBBER)});
      gd.scrollIntoView({{block: 'center'}});
      const rail = gd.querySelector('rect.slider-rail-touch-rect').getBoundingClientRect();
      return [...gd.querySelectorAll('g.slider-labels text, g.slider-label-group text')]
        .map(t => {{ const r = t.getBoundingClientRect();
                     return [t.textContent.trim(), r.left + r.width / 2,
                             rail.top + rail.height / 2]; }});
    }})()""")
    texts = [text for text, _, _ in labels]
    epoch = 6 if "6" in texts else int(texts[len(texts) // 2])
    _, x, y = labels[texts.index(str(epoch))]
    tab.click_at(x, y)
    moved = _wait_for_epoch(tab, epoch)
    assert moved["title"].startswith(f"CIFAR-10 train set, epoch {epoch}:"), moved["title"]
    # Each epoch's grid is the book's own PNG, fetched when shown (widgets.py).
    assert moved["grid"] != first["grid"] and (moved["grid"].startswith("data:image/png")
                                               or moved["grid"].endswith(".png"))
    assert moved["current"] == f"epoch {epoch}"
    # The keyboard: two steps right, one left (each once the last has moved), End.
    tab.evaluate(f"document.querySelector({json.dumps(SCRUBBER)}).focus()")
    shown = moved
    for key, step in (("ArrowRight", 1), ("ArrowRight", 2), ("ArrowLeft", 1)):
        tab.press(key)
        keyed = _wait_for_epoch(tab, epoch + step)
        assert keyed["title"].startswith(f"CIFAR-10 train set, epoch {epoch + step}:"), \
            f"{key}: {keyed['title']}"
        assert keyed["current"] == f"epoch {epoch + step}" and keyed["grid"] != shown["grid"]
        shown = keyed
    tab.press("End")
    last = _wait_for_epoch(tab, first["steps"][-1])
    assert last["current"] == f"epoch {first['steps'][-1]}", last["current"]
    tab.screenshot(SHOTS / "firefox" / "scrubber.png")
    assert not tab.errors and not tab.outside, f"{tab.errors} {tab.outside}"
