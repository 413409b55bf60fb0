"""The book's Sphinx extensions that change what a page says: one viewport meta tag, and
figures whose alt text is their caption (book/_ext)."""

import sys
from pathlib import Path

import pytest
from docutils import nodes
from docutils.frontend import get_default_settings
from docutils.parsers.rst import Parser
from docutils.utils import new_document

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def ext():
    sys.path.insert(0, str(REPO / "book" / "_ext"))
    try:
        import book_assets
        import figure_alt
    finally:
        sys.path.pop(0)
    return book_assets, figure_alt


def test_one_viewport_meta_tag_is_kept(ext):
    book_assets, _ = ext
    page = ('<head>\n    <meta charset="utf-8" />\n'
            '    <meta name="viewport" content="width=device-width, initial-scale=1.0" />\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1" />\n'
            '  <meta name="viewport" content="width=device-width, initial-scale=1"/>\n'
            '  <title>t</title>')
    once = book_assets.single_viewport(page)
    assert once.count('name="viewport"') == 1
    assert once == ('<head>\n    <meta charset="utf-8" />\n'
                    '    <meta name="viewport" content="width=device-width, initial-scale=1.0" />\n'
                    '  <title>t</title>')
    assert book_assets.single_viewport(once) == once


def _cell(*children):
    outputs = nodes.container(classes=["cell_output"])
    outputs.extend(children)
    return nodes.container("", outputs, classes=["cell"])


def test_output_figures_get_their_caption_as_alt_text(ext):
    _, figure_alt = ext
    document = new_document("page", get_default_settings(Parser))
    first, second, lone = (nodes.image(uri=f"{n}.png") for n in "abc")
    placed = nodes.image(uri="d.png", alt="kept")
    caption = nodes.paragraph("", "", nodes.emphasis(text="CIFAR-10 (train 50000 images); "
                                                          "5 x resnet20, 15 epochs."))
    document.extend([_cell(first, second, nodes.container("", caption)), _cell(lone),
                     nodes.paragraph("", "", placed)])
    assert figure_alt.add_alt_text(document, title="Fig. 9") == 3
    # Both figures of a cell (train and test) carry the caption shown once under them.
    shown = "CIFAR-10 (train 50000 images); 5 x resnet20, 15 epochs."
    assert first["alt"] == second["alt"] == shown
    assert lone["alt"] == "Figure: Fig. 9"
    assert placed["alt"] == "kept"  # not an output, and it has its own
    long = "word " * 200
    assert figure_alt._shortened(long).endswith(" ...")
    assert len(figure_alt._shortened(long)) <= figure_alt.MAX_ALT + 4
