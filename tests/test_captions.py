"""Every caption and setup text names exactly the setup of the store it describes.

The captions are read back by a parser of this module (not by the code that writes them):
networks and architecture, epochs, learning rate, image size and crop, and the number of
train and test examples must be the store's own, for every committed study and for every
group of studies a page draws together (architectures, batch sizes, scaled learning rates,
random labels beside the architectures). A caption that carries one store's setup for
another (Fig. 9 gave DenseNet-BC-40 the 15 epochs of the others) fails.
"""

import re
from pathlib import Path

import pytest

from agreement_core.records import RecordStore
from agreement_core.study import notebook_session
from agreement_core.study.figures import stores_caption, study_caption
from agreement_core.study.runs import is_complete

REPO = Path(__file__).resolve().parent.parent
STUDIES = sorted(p for p in (REPO / "results").glob("*/studies/*") if (p / "meta.json").is_file())


def _found(pattern: str, text: str) -> set[str]:
    return set(re.findall(pattern, text))


def disagreements(text: str, store: RecordStore) -> list[str]:
    """Where ``text`` (one study's part of a caption) disagrees with ``store``: each
    quantity it names must be named once and be the store's."""
    config = store.config
    # A step schedule's period ("x 0.2 every 10 epochs") is not the length of training.
    text = re.sub(r"every \d+ epochs", "", text)
    drawn = min(store.available_epochs(split) for split in store.splits)
    expected = {
        "networks x architecture": (r"(\d+) x (\w+)",
                                    {(str(store.num_networks), config["arch"])}),
        "epochs": (r"(?:(\d+) of )?(\d+) epochs",
                   {("" if drawn >= store.num_epochs else str(drawn), str(store.num_epochs))}),
        "learning rate": (r"\blr (\d+(?:\.\d+)?(?:e-?\d+)?)", {str(config["lr"])}),
        "examples": (r"\b(train|test) ([\d,]+) images",
                     {(split, str(store.num_examples(split))) for split in store.splits}),
    }
    if config.get("image_size"):
        expected["image size"] = (r"resized to (\d+)(?:, crop (\d+))?",
                                  {(str(config["image_size"]), str(config.get("crop") or ""))})
    else:
        expected["image size"] = (r"resized to (\d+)", set())
    problems = []
    for what, (pattern, wanted) in expected.items():
        found = _found(pattern, text)
        found = {tuple(v.replace(",", "") for v in f) if isinstance(f, tuple) else f
                 for f in found}
        if found != wanted:
            problems.append(f"{what}: caption says {sorted(found)}, the store "
                            f"{sorted(wanted)}")
    return problems


def group_disagreements(caption: str, stores: dict) -> dict[str, list[str]]:
    """:func:`disagreements` of each store of a figure drawn from several (label -> store):
    what all share is said once before ``Per study:``, the rest after its label."""
    common, _, per_study = caption.partition(" Per study: ")
    labels = list(stores)
    out = {}
    for i, label in enumerate(labels):
        start = per_study.find(f"{label}")
        following = [per_study.find(f"; {other}", start) for other in labels[i + 1:]]
        end = min([f for f in following if f >= 0], default=len(per_study))
        own = per_study[start:end] if start >= 0 else ""
        out[label] = disagreements(f"{common} {own}", stores[label])
    return {label: problems for label, problems in out.items() if problems}


@pytest.mark.parametrize("path", STUDIES, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_each_committed_study_caption_names_its_own_setup(path):
    store = RecordStore.open(path)
    assert disagreements(study_caption(store), store) == []


@pytest.fixture(scope="module")
def full(data_root, mirror):
    return notebook_session({"profile": "full", "results_dir": str(REPO / "results"),
                             "data_root": str(data_root), "mirror": str(mirror)})


def test_the_figure_groups_of_the_book_name_each_study_s_setup(full):
    """Figs. 8 and 9 and the false-positive page draw several studies in one figure."""
    archs = full.variants("cifar10", "arch")
    random = full.study("cifar10-random-labels")
    groups = [archs.stores(), archs.with_studies({"random labels": random}).stores(),
              full.variants("cifar10", "batch_size").stores("batch {}"),
              full.scaled_lr_variants("cifar10").stores("batch {}")]
    captions = [archs.caption_varying(),
                archs.with_studies({"random labels": random}).caption_varying(),
                full.variants("cifar10", "batch_size").caption_varying("batch {}"),
                full.scaled_lr_variants("cifar10").caption_varying("batch {}")]
    for stores, caption in zip(groups, captions, strict=True):
        assert group_disagreements(caption, stores) == {}, caption
    # The architectures do differ in their epochs (DenseNet-BC-40: 10), and it is said.
    assert len({s.num_epochs for s in archs.stores().values()}) > 1


def test_setup_text_names_the_study_s_own_setup(full):
    """The setup lines of a page (Figs. 4, 5, 6, 9) carry each study's store values."""
    for role in ("imagenet", "voc", "dtd"):
        store = full.study(role).store
        here = full.setup(role).data.splitlines()[0]
        assert here.startswith("- **Here**") and disagreements(here, store) == [], here


def test_the_check_fails_on_a_wrong_caption(full):
    """The old Fig. 9 and false-positive captions (the first study's setup for all) and a
    typed caption with a wrong number each fail."""
    archs = full.variants("cifar10", "arch").stores()
    densenet = archs["densenet_bc_40"]
    old_fig9 = ("CIFAR-10 (offline JPEG mirror), subset train all / test all (train 50000 "
                "images, test 10000 images); 5 x lenet5_bn / vgg11_narrow / resnet20 / "
                "densenet_bc_40, 15 epochs, batch 128, sgd lr 0.1.")
    assert any("epochs" in p for p in disagreements(old_fig9, densenet))
    random = full.study("cifar10-random-labels").store
    old_fp = old_fig9.replace("densenet_bc_40,", "densenet_bc_40 / random labels,")
    problems = disagreements(old_fp, random)
    assert any("epochs" in p for p in problems) and any("learning rate" in p for p in problems)
    right = stores_caption({"densenet_bc_40": densenet})
    assert disagreements(right, densenet) == []
    for wrong in (right.replace("10 epochs", "15 epochs"), right.replace("lr 0.1", "lr 0.01"),
                  right.replace("test 10000 images", "test 2600 images"),
                  right.replace("5 x densenet_bc_40", "5 x densenet121")):
        assert disagreements(wrong, densenet), wrong
    imagenette = full.study("imagenet").store
    assert disagreements(study_caption(imagenette).replace("crop 56", "crop 72"), imagenette)
    # A group caption whose per-study part is wrong for one study.
    group = {"lenet5_bn": archs["lenet5_bn"], "densenet_bc_40": densenet}
    caption = stores_caption(group)
    assert group_disagreements(caption, group) == {}
    assert list(group_disagreements(caption.replace("densenet_bc_40, 10 epochs",
                                                    "densenet_bc_40, 15 epochs"), group)) == [
        "densenet_bc_40"]


def test_the_book_pages_setup_list_and_conclusions_come_from_the_results(full, tmp_path):
    """intro, method and reproduce include texts the build computes (book/_generated)."""
    from agreement_core.study.pages import PAGE_TEXTS, write_page_texts

    write_page_texts(full.workspace, tmp_path, {"notebooks": 583.4, "total": 600.0})
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(PAGE_TEXTS)
    lines = (tmp_path / "studies.md").read_text().splitlines()
    configs = full.profile.configs()
    done = {role: config for role, config in configs.items()
            if is_complete(full.workspace.layout.study_dir(config))}
    assert [line.split("`")[1] for line in lines] == list(done)  # every study with results
    for line, config in zip(lines, done.values(), strict=True):
        store = RecordStore.open(full.workspace.layout.study_dir(config))
        assert disagreements(line, store) == [], line
    assert (tmp_path / "intro_conclusion.md").read_text().startswith("Of ")
    assert "main study" in (tmp_path / "method_conclusion.md").read_text()
    reproduce = (tmp_path / "reproduce_conclusion.md").read_text()
    assert f"reads {len(lines)} of its {len(configs)} studies" in reproduce
    assert "notebooks 583 s" in reproduce and "(600 s in all)" in reproduce


def test_own_loop_and_pruning_captions_name_the_run_s_setup(full):
    """The own-loop store keeps its native 32-pixel images (no resize to name)."""
    store = full.own_loop()
    for caption in (full.own_loop_caption(), full.pruning_caption()):
        problems = [p for p in disagreements(caption, store) if not p.startswith("image size")]
        assert problems == [], caption
    results = full.pruning()
    assert f"each kept subset: {results['network'].nunique()} fresh networks" in \
        full.pruning_caption()
