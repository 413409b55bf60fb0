"""The book's texts computed at build time: what the pages include from ``book/_generated/``.

The first screen's summary of the claims table (``findings.md``), the list of the profile's
studies with their captions, and the conclusions of the introduction, the method and the
reproduce pages, each from the results. Above :mod:`~agreement_core.study.claims` and
:mod:`~agreement_core.study.figures` (it reads the claims table and the studies' captions).
"""

from __future__ import annotations

from pathlib import Path

from .._io import atomic_path
from ..claims import findings_markdown
from ..findings import book_conclusion, method_conclusion
from ..records import RecordStore
from .claims import load_claims
from .figures import study_caption
from .runs import dataset_source, is_complete
from .workspace import Workspace


def write_findings(workspace: Workspace, path) -> None:
    """The book's first-screen summary (:func:`~agreement_core.claims.findings_markdown`) of
    the profile's claims table, written to ``path`` (the intro includes it)."""
    with atomic_path(path) as tmp:
        tmp.write_text(findings_markdown(load_claims(workspace)))


#: The book's texts computed at build time (``book/_generated/``), each included by a page.
PAGE_TEXTS = ("studies.md", "intro_conclusion.md", "method_conclusion.md",
              "reproduce_conclusion.md")


def studies_markdown(workspace: Workspace) -> str:
    """One line per study of the profile that has results: its role and its caption (read
    from its store), for the pages that describe the book's setup."""
    lines = []
    for role, config in workspace.profile.configs().items():
        path = workspace.layout.study_dir(config)
        if not is_complete(path):
            continue
        source = dataset_source(config.dataset, workspace.locations)
        # The caveats of a source are said once on the page, not once per study.
        caption = study_caption(RecordStore.open(path), source, caveat=False)
        lines.append(f"- `{role}`: {caption}")
    return "\n".join(lines) + "\n"


def reproduce_conclusion(workspace: Workspace, timings: dict | None = None) -> str:
    """The reproduce page's conclusion: what this build was computed from (studies with
    results, networks, network-epochs and examples recorded) and, with ``timings`` (the
    build's ``build_timings_<profile>.json``), how long each step of the last build took."""
    configs = workspace.profile.configs()
    done = {role: is_complete(workspace.layout.study_dir(c)) for role, c in configs.items()}
    stores = [RecordStore.open(workspace.layout.study_dir(configs[role]))
              for role, complete in done.items() if complete]
    networks = sum(s.num_networks for s in stores)
    network_epochs = sum(s.num_networks * s.num_epochs for s in stores)
    text = (f"This build of profile `{workspace.profile.name}` reads {len(stores)} of its "
            f"{len(configs)} studies: {networks} networks, {network_epochs:,} network-epochs "
            "of predictions on every train and test example, from which every figure, table "
            "and verdict of the book is computed.")
    missing = [role for role, complete in done.items() if not complete]
    if missing:
        text += (f" Not computed here ({len(missing)}; the pages and claims that need them "
                 "say so): " + ", ".join(f"`{role}`" for role in missing) + ".")
    if timings:
        text += (" The last build here took " + ", ".join(
            f"{step} {seconds:,.0f} s" for step, seconds in timings.items() if step != "total")
            + (f" ({timings['total']:,.0f} s in all)." if "total" in timings else "."))
    return text + "\n"


def write_page_texts(workspace: Workspace, folder, timings: dict | None = None) -> None:
    """Write the book's computed texts (:data:`PAGE_TEXTS`) into ``folder``: the list of
    the profile's studies and the conclusions of the introduction, the method and the
    reproduce pages, each from the results (:mod:`agreement_core.findings`)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    main = RecordStore.open(workspace.layout.study_dir(workspace.profile.config("cifar10")))
    texts = {"studies.md": studies_markdown(workspace),
             "intro_conclusion.md": book_conclusion(load_claims(workspace)) + "\n",
             "method_conclusion.md": method_conclusion(main) + "\n",
             "reproduce_conclusion.md": reproduce_conclusion(workspace, timings)}
    for name, text in texts.items():
        with atomic_path(folder / name) as tmp:
            tmp.write_text(text)


__all__ = ["PAGE_TEXTS", "reproduce_conclusion", "studies_markdown", "write_findings",
           "write_page_texts"]
