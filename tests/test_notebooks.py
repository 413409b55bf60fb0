"""The notebooks: thin (parameters, a session, core calls, shown results) and in the book;
and what the notebooks ask of their session."""

import ast
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest
import yaml

from agreement_core.errors import ConfigError
from agreement_core.study import NOTEBOOK_PARAMETERS, StudyMissing, notebook_session
from agreement_core.study.figures import OWN_PARAMETERS as OWN_PARAMETERS_ACCEPTED

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))

#: The standard parameters' defaults: every notebook's parameters cell starts with these.
STANDARD_DEFAULTS = {"profile": "full", "results_dir": None, "data_root": None,
                     "mirror": None, "arch": None, "num_networks": None, "epochs": None,
                     "subset": None, "train_missing": False}

#: Parameters a notebook adds to the standard ones.
OWN_PARAMETERS = {
    "claims": {"n_boot"},
    "correlation_table": {"n_boot"},
    "fig8_batch_sizes": {"batch_sizes"},
    "fig9_architectures": {"architectures"},
    "learning_dynamics_explorer": {"live", "thumbnail"},
    "own_model_and_data": {"n_boot"},
}

#: Names an ``if <name>:`` statement may test, to guard a display (not to compute).
DISPLAY_GUARDS = {"live": "learning_dynamics_explorer shows the ipywidgets scrubber only "
                          "in a live kernel"}

#: (notebook, reason) pairs allowed a construct of FORBIDDEN: none, and it should stay so.
ALLOWED_CONSTRUCTS: set[tuple[str, str]] = set()

#: Loops, definitions, error handling, context managers and comprehensions belong in the core.
FORBIDDEN = {ast.FunctionDef: "def", ast.AsyncFunctionDef: "async def", ast.Lambda: "lambda",
             ast.ClassDef: "class", ast.For: "for", ast.AsyncFor: "async for",
             ast.While: "while", ast.Try: "try", ast.With: "with", ast.AsyncWith: "async with",
             ast.ListComp: "list comprehension", ast.DictComp: "dict comprehension",
             ast.SetComp: "set comprehension", ast.GeneratorExp: "generator expression"}
if hasattr(ast, "TryStar"):
    FORBIDDEN[ast.TryStar] = "try"

SETUP = "session = notebook_session(globals())"


def _setup_of(name):
    """The setup statement of notebook ``name``: its own parameters named in ``own=``."""
    own = tuple(sorted(OWN_PARAMETERS.get(name, ())))
    return f"session = notebook_session(globals(), own={own!r})" if own else SETUP


def _code_cells(path):
    notebook = nbformat.read(path, as_version=4)
    return notebook, [c for c in notebook.cells if c.cell_type == "code"]


def _check_parameters(name, cell):
    tree = ast.parse(cell.source)
    names = {}
    for statement in tree.body:
        assert isinstance(statement, ast.Assign) and len(statement.targets) == 1 \
            and isinstance(statement.targets[0], ast.Name), \
            f"{name}: the parameters cell holds only `name = literal`: {ast.unparse(statement)}"
        target = statement.targets[0].id
        names[target] = ast.literal_eval(statement.value)  # a literal, or ValueError
    own = OWN_PARAMETERS.get(name, set())
    assert own <= set(OWN_PARAMETERS_ACCEPTED), f"{name}: declare {own} in figures.py"
    assert set(names) == set(NOTEBOOK_PARAMETERS) | own
    assert {k: names[k] for k in STANDARD_DEFAULTS} == STANDARD_DEFAULTS
    lines = [line for line in cell.source.splitlines() if line.strip()]
    assert all("#" in line for line in lines), f"{name}: every parameter keeps its comment"
    # The defaults pass the checks the notebook's setup applies, unknown names included.
    notebook_session(names, own=own)
    return set(names)


def _check_setup(name, cell):
    tree = ast.parse(cell.source)
    others = [s for s in tree.body if not isinstance(s, (ast.Import, ast.ImportFrom))]
    setup = _setup_of(name)
    assert [ast.dump(s) for s in others] == [ast.dump(ast.parse(setup).body[0])], \
        f"{name}: the second code cell is imports and `{setup}`"


def _check_statement(name, statement, parameters):
    where = f"{name}: {ast.unparse(statement)[:80]!r}"
    if isinstance(statement, ast.Expr):
        return
    if isinstance(statement, ast.Assign):
        assert isinstance(statement.value, ast.Call), f"{where}: assign only call results"
        for target in statement.targets:
            assert isinstance(target, ast.Name), f"{where}: assign to plain names"
            assert target.id not in parameters | {"session"}, f"{where}: a parameter reassigned"
        return
    if isinstance(statement, ast.If):
        assert isinstance(statement.test, ast.Name) and statement.test.id in DISPLAY_GUARDS \
            and not statement.orelse, f"{where}: `if` only as a display guard {DISPLAY_GUARDS}"
        assert all(isinstance(s, ast.Expr) for s in statement.body), where
        return
    raise AssertionError(f"{where}: a notebook cell only assigns call results and shows "
                         f"(imports belong in the second code cell)")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_thin_and_parametrised(path):
    name = path.stem
    notebook, code = _code_cells(path)
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and code[0] is tagged[0]
    assert len(code) >= 3
    for cell in code:
        assert not cell.outputs and cell.execution_count is None  # committed clean
    parameters = _check_parameters(name, code[0])
    _check_setup(name, code[1])
    for cell in code[1:]:
        tree = ast.parse(cell.source)
        if cell is not code[1]:
            for statement in tree.body:
                _check_statement(name, statement, parameters)
        for node in ast.walk(tree):
            construct = FORBIDDEN.get(type(node))
            if construct and not any(n == name for n, _ in ALLOWED_CONSTRUCTS):
                raise AssertionError(f"{name}: no {construct} in a notebook (line "
                                     f"{node.lineno}): move it into agreement_core")
    assert notebook.cells[0].cell_type == "markdown" and notebook.cells[0].source.startswith("# ")


def test_every_notebook_is_in_the_book():
    toc = yaml.safe_load((REPO / "book" / "_toc.yml").read_text())
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    assert sorted(f.split("/")[-1] for f in files if f.startswith("notebooks/")) == sorted(
        p.stem for p in NOTEBOOKS)
    config = yaml.safe_load((REPO / "_config.yml").read_text())
    assert config["execute"]["execute_notebooks"] == "off"
    # MathJax from the book's own files, never a CDN; plotly.js only on the page that uses it.
    assert config["sphinx"]["config"]["mathjax_path"] == "mathjax/tex-chtml.js"
    assert "dollarmath" in config["parse"]["myst_enable_extensions"]
    assert "plotly.min.js" not in str(config["sphinx"]["config"].get("html_js_files", []))


def test_the_thinness_check_catches_loops_and_hand_built_tables():
    """The rules above reject what used to be in the notebooks."""
    for source in ("rows = []", "for split in splits:\n    show(split)",
                   "import pandas as pd", "x = 1 + f()"):
        tree = ast.parse(source)
        with pytest.raises(AssertionError):
            for statement in tree.body:
                _check_statement("probe", statement, set())
                for node in ast.walk(statement):
                    assert type(node) not in FORBIDDEN
    tree = ast.parse("tables = {k: f(v) for k, v in runs.items()}")
    assert any(type(node) in FORBIDDEN for node in ast.walk(tree))
    with pytest.raises(AssertionError):
        _check_statement("probe", ast.parse("profile = f()").body[0], {"profile"})


# ------------------------------------------------------------------ what notebooks ask
@pytest.fixture(scope="module")
def session(data_root, mirror):
    """A session on the committed results of the default profile."""
    return notebook_session({"results_dir": str(REPO / "results"), "data_root": str(data_root),
                             "mirror": str(mirror)})


def test_statistics_tables_of_the_profile_skip_what_is_not_computed(session, tmp_path):
    tables = session.statistics_tables()
    # The committed tables, in the profile's order; KTH-TIPS2-b is not on this machine.
    assert list(tables) == [f"{d} {s}" for d in ("cifar10", "imagenette", "voc", "dtd")
                            for s in ("train", "test")]
    assert all("example_id" in t for t in tables.values())
    assert session.unavailable["kth"] == "not computed on this machine"
    empty = notebook_session({"results_dir": str(tmp_path)})
    assert empty.statistics_tables(["cifar10"]) == {}
    assert list(empty.unavailable) == ["cifar10"]


def test_variants_default_to_the_profile_ablation(session):
    runs = session.variants("cifar10", "arch")
    assert list(runs) == list(session.profile.architectures)
    assert runs.field == "arch"
    stores = runs.stores("{} nets")
    assert list(stores) == [f"{a} nets" for a in session.profile.architectures]
    assert [s.config["arch"] for s in stores.values()] == list(session.profile.architectures)
    # Each study's own setup, the random-label study's included (its epochs and rate).
    random = session.study("cifar10-random-labels")
    caption = runs.with_studies({"random labels": random}).caption_varying()
    assert "Per study: lenet5_bn: 5 x lenet5_bn, 10 epochs, sgd lr 0.1, true labels" in caption
    assert "random labels: 5 x fastnet_small, 20 epochs, sgd lr 0.02, random labels" in caption
    sizes = session.variants("cifar10", "batch_size", [128])
    assert list(sizes) == [128] and "batch 128," in sizes.caption_varying()
    with pytest.raises(ConfigError, match="no ablation of lr"):
        session.variants("cifar10", "lr")


def test_scaled_lr_variants_scale_the_learning_rate_with_the_batch_size(session):
    main = session.profile.config("cifar10")
    same = session.scaled_lr_variants("cifar10", [main.batch_size])
    assert list(same) == [main.batch_size] and same.linked == ("lr",)
    assert same[main.batch_size].config == main
    assert f"batch {main.batch_size}, {main.optimizer} lr {main.lr}," in same.caption_varying()
    # Half the batch asks for the study at half the learning rate (not trained by default).
    half = session.profile.config("cifar10", batch_size=main.batch_size // 2, lr=main.lr / 2)
    with pytest.raises(StudyMissing, match=session.workspace.layout.study_dir(half).name):
        session.scaled_lr_variants("cifar10", [main.batch_size // 2])
    with pytest.raises(StudyMissing, match="profile 'full' does"):
        session.scaled_lr_variants()


def test_curriculum_results_with_their_caption(session, tmp_path):
    results = session.curriculum()
    settings = session.profile.curriculum
    # The modes' training as their runs recorded it (settings.json).
    assert results.caption.startswith(
        f"Every mode (its epochs are the budget): CIFAR-10 (offline JPEG mirror), subset train "
        f"{settings['train_subset']} per class / test {settings['test_subset']} per class; "
        f"{settings['num_networks']} x fastnet_small, {settings['epochs']} epochs")
    assert "Scores from the study: CIFAR-10" in results.caption
    assert list(results.summary["mode"]) == list(settings["modes"])
    assert {"mode", "step", "total_steps", "test_accuracy"} <= set(results.curves.columns)
    with pytest.raises(StudyMissing, match="agreement_core build --profile default"):
        notebook_session({"results_dir": str(tmp_path)}).curriculum()


def test_easy_and_hard_images_and_scrubbers(session):
    study = session.study("cifar10")
    images = study.easy_and_hard_images("train")
    assert [title.split(":")[0] for title in images] == ["easy", "hard"]
    assert all(i.dtype == np.uint8 and i.shape == (32, 32, 3) for i in images.values())
    scrubbers = session.scrubbers([("cifar10", "test")], thumbnail=8)
    data = scrubbers["cifar10 test"]
    assert data.images.shape == (study.store.num_examples("test"), 8, 8, 3)
    assert data.caption == study.caption and data.split == "test"
    assert list(data.epochs) == list(range(1, study.store.num_epochs + 1))


#: Words a page title uses -> the words the paper's captions use for the same thing.
TOPIC_WORDS = {"CIFAR-10": "CIFAR10", "Pascal": "Pascal", "KTH-TIPS2-b": "KTH-TIPS2b",
               "ImageNet": "ImageNet", "batch sizes": "batch-sizes",
               "architectures": "architectures", "Histograms": "histograms",
               "Test sets": "test set", "statistics on an easy and a hard image": "ization of",
               "How agreement is measured": "Agreement visualization",
               "random-label": "randomization"}


def _figure_numbers(title: str) -> list[int]:
    """``"... (Figs. 4 and 18)"`` -> [4, 18]; ``"(Figs. 12-15)"`` -> [12, ..., 15]."""
    match = re.search(r"\(Figs?\. ([0-9 ,\-and]+)\)\s*$", title)
    if not match:
        return []
    numbers = []
    for part in re.split(r",|and", match.group(1)):
        low, _, high = part.strip().partition("-")
        numbers += range(int(low), int(high or low) + 1)
    return numbers


def _paper_captions(paper_text: str) -> dict[int, str]:
    found = re.findall(r"Figure (\d+): (.+?)(?= Figure \d+:|$)", paper_text)
    return {int(number): caption[:300] for number, caption in found}


def _numbering_errors(title: str, captions: dict[int, str]) -> list[str]:
    """Where a page title's figure numbers name a paper figure about something else: one
    whose caption lacks a topic of the title."""
    topics = [caption_word for word, caption_word in TOPIC_WORDS.items() if word in title]
    return [f"{title!r} says Fig. {n}, but the paper's Fig. {n} is {captions[n][:80]!r}"
            for n in _figure_numbers(title)
            if not all(t.lower() in captions[n].lower() for t in topics)]


def test_figure_pages_are_numbered_as_in_the_paper(paper_text):
    captions = _paper_captions(paper_text)
    assert sorted(captions) == list(range(1, 20))
    covered = set()
    for path in NOTEBOOKS:
        title = nbformat.read(path, as_version=4).cells[0].source.splitlines()[0]
        numbers = _figure_numbers(title)
        if path.stem.startswith("fig"):  # fig<N>_...: the page of the paper's Fig. N
            assert int(re.match(r"fig(\d+)", path.stem).group(1)) in numbers, (path.name, title)
        assert not _numbering_errors(title, captions)
        covered |= set(numbers)
    assert covered == set(range(1, 20)), f"figures without a page: {set(range(1, 20)) - covered}"


def test_the_numbering_check_reads_titles_and_would_catch_a_swap(paper_text):
    assert _figure_numbers("Textures (Figs. 5 and 17)") == [5, 17]
    assert _figure_numbers("Histograms (Figs. 12-15)") == [12, 13, 14, 15]
    assert _figure_numbers("Statistics (Figs. 3, 10, 11)") == [3, 10, 11]
    assert _figure_numbers("No figure here") == []
    captions = _paper_captions(paper_text)
    # The old titles: batch sizes as Fig. 9 and Fig. 2 as "Figs. 2 and 8".
    assert _numbering_errors("# CIFAR-10: batch sizes (Fig. 9)", captions)
    assert _numbering_errors("# CIFAR-10: agreement, and the random-label ablation "
                             "(Figs. 2 and 8)", captions)
    assert not _numbering_errors("# CIFAR-10: batch sizes (Fig. 8)", captions)


def test_studies_without_results_are_skipped_with_their_reason(data_root, mirror):
    session = notebook_session({"results_dir": str(REPO / "results"), "data_root": str(data_root),
                                "mirror": str(mirror), "epochs": 7})   # trained by no profile
    assert session.studies(["cifar10"], skip_unavailable=True) == {}
    assert "no finished results" in session.unavailable["cifar10"]
    with pytest.raises(StudyMissing):
        session.studies(["cifar10"])


def _claim_names(source: str, method: str) -> list[list[str]]:
    """The claim names of each ``session.<method>(...)`` call in ``source``."""
    calls = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr == method:
            calls.append([a.value for a in node.args if isinstance(a, ast.Constant)])
    return calls


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_page_ends_with_a_computed_conclusion(path):
    """A "Conclusion" section last, whose text a call computes (never typed Markdown); a
    conclusion on claims names those of the page's verdict."""
    notebook = nbformat.read(path, as_version=4)
    cells = notebook.cells
    heading = max(i for i, c in enumerate(cells) if c.cell_type == "markdown")
    assert cells[heading].source.strip() == "## Conclusion", f"{path.stem}: no final Conclusion"
    after = cells[heading + 1:]
    assert after and all(c.cell_type == "code" for c in after)
    statements = [s for c in after for s in ast.parse(c.source).body
                  if not isinstance(s, ast.If)]  # a display guard may follow (live widgets)
    assert statements and all(isinstance(s, ast.Expr) and isinstance(s.value, ast.Call)
                              for s in statements)
    source = "\n".join(c.source for c in cells if c.cell_type == "code")
    concluded = _claim_names("\n".join(c.source for c in after), "conclusion")
    if concluded:  # the claims' conclusion is on the claims the page's verdict shows
        assert concluded == _claim_names(source, "verdict")


def test_book_pages_end_with_a_computed_conclusion():
    """The Markdown pages include a conclusion the build computes (book/_generated)."""
    for page in ("intro", "method", "reproduce"):
        text = (REPO / "book" / f"{page}.md").read_text()
        tail = text[text.rindex("\n## "):]
        assert tail.startswith("\n## Conclusion") and \
            f"{{include}} _generated/{page}_conclusion.md" in tail
