"""Sphinx extension: figures from notebook outputs get their caption as alt text.

MyST-NB writes a PNG output as an image without alt text, and Sphinx then uses the image's
file name (a hash) as its ``alt`` attribute, which is what a screen reader announces.
``agreement_core.plots.show`` displays each caption as the Markdown output after its
figure; this extension gives every such image the text of the first paragraph that follows
it in the same cell's outputs, or the page's title when the cell has none.
"""

from __future__ import annotations

from docutils import nodes

#: Longest alt text kept, in characters (cut at a word); the caption itself stays whole.
MAX_ALT = 400


def _cell_outputs(node: nodes.Node) -> nodes.Element | None:
    """The MyST-NB container of a cell's outputs that holds ``node``, if any."""
    parent = node.parent
    while parent is not None:
        if isinstance(parent, nodes.container) and "cell_output" in parent.get("classes", []):
            return parent
        parent = parent.parent
    return None


def _shortened(text: str, limit: int = MAX_ALT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " ..."


def caption_after(image: nodes.image) -> str | None:
    """The text of the first paragraph after ``image`` among its cell's outputs."""
    outputs = _cell_outputs(image)
    if outputs is None:
        return None
    seen_image = False
    for node in outputs.findall():
        if node is image:
            seen_image = True
        elif seen_image and isinstance(node, nodes.paragraph) and node.astext().strip():
            return _shortened(node.astext())
    return None


def add_alt_text(doctree: nodes.document, title: str = "") -> int:
    """Give every output image of ``doctree`` without alt text its caption as alt text;
    returns how many were given one."""
    given = 0
    for image in list(doctree.findall(nodes.image)):
        if image.get("alt") or _cell_outputs(image) is None:
            continue
        image["alt"] = caption_after(image) or (f"Figure: {title}" if title else "Figure")
        given += 1
    return given


def _on_doctree_resolved(app, doctree, docname):
    title = app.env.titles.get(docname)
    add_alt_text(doctree, title.astext() if title is not None else "")


def setup(app):
    app.connect("doctree-resolved", _on_doctree_resolved)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
