"""Profiles, where results live, how notebooks find them, and the notebooks themselves."""

import json
from pathlib import Path

import nbformat
import numpy as np
import pytest

from agreement_core.agreement import agreement_table, combined_agreement_table
from agreement_core.errors import ConfigError
from agreement_core.locations import Locations
from agreement_core.records import RecordStore
from agreement_core.report import easy_and_hard_examples
from agreement_core.study import (
    PROFILES,
    DatasetUnavailable,
    StudyMissing,
    Workspace,
    get_profile,
    is_complete,
    load_study,
    notebook_session,
    open_study,
    require_dataset,
    study_slug,
)
from agreement_core.study.pipeline import BuildError, execute_notebooks
from agreement_core.training import TrainConfig

REPO = Path(__file__).resolve().parent.parent


def test_profiles_give_one_directory_per_configuration():
    for profile in PROFILES.values():
        configs = profile.configs()
        slugs = [study_slug(c) for c in configs.values()]
        assert len(set(slugs)) == len(slugs)
        assert {"cifar10", "cifar10-random-labels", "cifar10-eval", "imagenet"} <= set(configs)
        for arch in profile.architectures:
            assert any(c.arch == arch and c.dataset == "cifar10" for c in configs.values())
    base = get_profile("default").config("cifar10")
    assert study_slug(base) == study_slug(TrainConfig(**base.to_dict()))
    assert study_slug(base) != study_slug(get_profile("default").config("cifar10", epochs=11))
    assert get_profile("default").config("cifar10", arch=None) == base  # None: unchanged
    with pytest.raises(ConfigError, match="unknown profile"):
        get_profile("fast")
    with pytest.raises(ConfigError, match="unknown architecture"):
        get_profile("default").config("cifar10", arch="resnet51")


def test_missing_study_names_the_command(tmp_path):
    config = get_profile("default").config("cifar10", epochs=2)
    with pytest.raises(StudyMissing, match="agreement_core build --profile default") as info:
        load_study(config, Workspace.open("default", Locations(results=tmp_path)))
    assert info.value._render_traceback_()[0].startswith("StudyMissing: no finished results")


def test_missing_dataset_says_how_to_get_it(tmp_path):
    with pytest.raises(DatasetUnavailable, match="host.robots.ox.ac.uk") as info:
        require_dataset("voc", Locations(data_root=tmp_path / "empty",
                                         mirror=tmp_path / "no-mirror"))
    lines = info.value._render_traceback_()  # the message, wrapped, and no traceback
    assert lines[0].startswith("DatasetUnavailable: the voc dataset")
    assert len(lines) > 1 and "host.robots.ox.ac.uk" in " ".join(lines)
    # This machine's paths are in the detail line only, not in the message the book shows.
    assert str(tmp_path) not in str(info.value)
    assert lines[-1].startswith("(looked for it here:") and str(tmp_path) in lines[-1]
    with pytest.raises(DatasetUnavailable, match="kth-tips"):
        open_study("kth", "default",
                   locations=Locations(data_root=tmp_path / "empty", results=tmp_path))


def test_tiny_study_trains_once_then_is_found(tmp_path, data_root, mirror):
    locations = Locations(data_root, mirror, results=tmp_path)
    study = open_study("cifar10", "default", train_missing=True, subset=20, num_networks=2,
                       epochs=2, locations=locations)
    path = Workspace.open("default", locations).layout.study_dir(study.config)
    assert study.store.path == path
    assert is_complete(path) and not (path / "checkpoints").exists()
    # A notebook's parameters find the same study through the session.
    session = notebook_session({"profile": "default", "results_dir": str(tmp_path),
                                "data_root": str(data_root), "mirror": str(mirror),
                                "subset": 20, "num_networks": 2, "epochs": 2})
    again = session.study("cifar10")
    assert again.store.path == study.store.path
    caption = again.caption
    for text in ("CIFAR-10 (offline JPEG mirror)", "train 20 per class", "2 x fastnet_small",
                 "2 epochs", "JPEG re-encodings"):
        assert text in caption
    assert "2 x lenet5_bn / fastnet" in again.caption_varying(arch=["lenet5_bn", "fastnet"])
    data = again.dataset("train")
    assert (data.example_ids == again.store.example_ids("train")).all()
    with pytest.raises(StudyMissing):
        session.study("cifar10", epochs=3)  # another configuration: not trained


@pytest.mark.parametrize("name, value", [("epochs", "abc"), ("epochs", 0), ("subset", 1.5),
                                         ("num_networks", True), ("profile", 3),
                                         ("train_missing", "yes")])
def test_notebook_parameters_are_checked_by_name(name, value):
    with pytest.raises(ConfigError, match=f"notebook parameter {name} = "):
        notebook_session({name: value})


def test_workspace_layout_is_the_one_place_for_results_paths(tmp_path):
    workspace = Workspace.open("default", Locations(results=tmp_path))
    config = workspace.profile.config("cifar10")
    layout = workspace.layout
    assert layout.root == tmp_path / "default"
    assert layout.study_dir(config) == tmp_path / "default" / "studies" / study_slug(config)
    assert layout.dynamics_path(config).name == f"{study_slug(config)}.parquet"
    assert layout.statistics_path("cifar10", "test") == \
        tmp_path / "default" / "statistics" / "cifar10-test.parquet"


def test_profiles_share_a_study_of_the_same_configuration(tmp_path):
    default = Workspace.open("default", Locations(results=tmp_path)).layout
    full = Workspace.open("full", Locations(results=tmp_path)).layout
    voc = get_profile("full").config("voc")
    assert voc == get_profile("default").config("voc")
    assert full.study_dir(voc) == tmp_path / "full" / "studies" / study_slug(voc)  # nowhere yet
    shared = default.study_dir(voc)
    shared.mkdir(parents=True)
    (shared / "meta.json").write_text("{}")
    assert full.study_dir(voc) == shared          # the default profile's study, not retrained
    own = tmp_path / "full" / "studies" / study_slug(voc)
    own.mkdir(parents=True)
    assert full.study_dir(voc) == own             # a profile's own directory comes first
    other = get_profile("full").config("cifar10")
    assert full.study_dir(other).parent == tmp_path / "full" / "studies"


def test_profiles_share_the_own_loop_run_and_pruning_of_the_same_settings(tmp_path):
    import dataclasses

    full = Workspace.open("full", Locations(results=tmp_path))
    assert (full.own_loop_dir, full.pruning_dir) == (tmp_path / "full" / "own_loop",
                                                     tmp_path / "full" / "pruning")
    default = Workspace.open("default", Locations(results=tmp_path))
    default.own_loop_dir.mkdir(parents=True)
    assert full.own_loop_dir == tmp_path / "full" / "own_loop"  # not run there yet
    (default.own_loop_dir / "meta.json").write_text("{}")
    default.pruning_dir.mkdir(parents=True)
    (default.pruning_dir / "results.csv").write_text("score\n")
    assert full.own_loop_dir == default.own_loop_dir and full.pruning_dir == default.pruning_dir
    # Other settings are another experiment; a profile's own results come first.
    changed = Workspace(dataclasses.replace(full.profile,
                                            own_loop={**full.profile.own_loop, "lr": 0.1}),
                        full.locations)
    assert changed.own_loop_dir == tmp_path / "full" / "own_loop"
    assert changed.pruning_dir == tmp_path / "full" / "pruning"
    (tmp_path / "full" / "pruning").mkdir(parents=True)
    assert full.pruning_dir == tmp_path / "full" / "pruning"


def _store(path, correct, targets, predictions=None):
    epochs, k_nets, n = correct.shape
    store = RecordStore.create(path, num_networks=k_nets, num_epochs=epochs, num_classes=3,
                               splits={"train": (np.arange(n), targets)}, with_true_prob=True)
    for t in range(epochs):
        for k in range(k_nets):
            pred = np.where(correct[t, k], targets, (targets + 1) % 3)
            prob = np.where(correct[t, k], 0.6 + 0.1 * (np.arange(n) == 1), 0.2)
            store.write_epoch(k, "train", t + 1, pred, true_prob=prob)
    return store


def test_easy_and_hard_examples(tmp_path):
    correct = np.zeros((3, 2, 4), bool)
    correct[:, :, 1] = True        # example 1: agreed from epoch 1, most confident
    correct[:, :, 0] = True        # example 0: agreed from epoch 1 too
    correct[2, :, 2] = True        # example 2: agreed from epoch 3
    store = _store(tmp_path / "s", correct, np.zeros(4, int))
    picks = easy_and_hard_examples(store, "train")
    assert list(picks.values()) == [1, 3]
    assert list(picks) == ["easy: agreed from epoch 1", "hard: never agreed"]


def test_combined_agreement_takes_one_network_per_store(tmp_path):
    rng = np.random.default_rng(0)
    targets = rng.integers(0, 3, 50)
    a = _store(tmp_path / "a", rng.random((2, 2, 50)) < 0.6, targets)
    b = _store(tmp_path / "b", rng.random((2, 3, 50)) < 0.6, targets)
    table = combined_agreement_table([a, b], "train", network=1)
    both = np.stack([a.correct("train", 2)[1], b.correct("train", 2)[1]])
    assert table["tpa"].iloc[1] == pytest.approx(both.all(0).sum() / both.any(0).sum())
    assert list(table.columns) == list(agreement_table(a, "train").columns)
    other = _store(tmp_path / "c", rng.random((2, 2, 50)) < 0.6, (targets + 1) % 3)
    with pytest.raises(ValueError, match="other train examples or targets"):
        combined_agreement_table([a, other], "train")


def test_results_are_committed_compactly():
    """The default profile's finished results live in the repository, without checkpoints."""
    root = REPO / "results" / "default"
    if not root.is_dir():
        pytest.fail("results/default is missing: run `make study` and commit results/")
    sizes = sum(p.stat().st_size for p in root.rglob("*") if p.is_file()
                and "checkpoints" not in p.parts)
    assert sizes < 60e6
    for config in get_profile("default").configs().values():
        if config.dataset in ("cifar10", "imagenette"):
            assert is_complete(Workspace.open("default").layout.study_dir(config)), config
    meta = json.loads(next((root / "studies").glob("*/meta.json")).read_text())
    assert "config" in meta


def test_notebooks_run_stop_on_missing_data_and_fail_on_errors(tmp_path):
    """papermill runs a notebook; a missing dataset is a page, any other error fails the build."""
    source = tmp_path / "notebooks"
    source.mkdir()
    cells = {"ok": "print(profile)",
             "absent": "from agreement_core.study import require_dataset\n"
                       "from agreement_core.locations import Locations\n"
                       "require_dataset('voc', Locations(data_root=profile, mirror=profile))",
             "broken": "1 / 0"}
    for name, text in cells.items():
        notebook = nbformat.v4.new_notebook()
        params = nbformat.v4.new_code_cell('profile = "x"')
        params.metadata["tags"] = ["parameters"]
        notebook.cells = [params, nbformat.v4.new_code_cell(text)]
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                           "language": "python"}
        nbformat.write(notebook, source / f"{name}.ipynb")
    out = tmp_path / "out"
    outcome = execute_notebooks(Workspace.open("default"), only=["ok", "absent"], out_dir=out,
                                notebooks_dir=source)
    assert outcome["ok"] == "ok"
    assert outcome["absent"].startswith("DatasetUnavailable: the voc dataset")
    page = nbformat.read(out / "absent.ipynb", as_version=4)
    assert not any("papermill-error-cell-tag" in c.metadata.get("tags", []) for c in page.cells)
    # A styled note, not an error box.
    assert [o["output_type"] for o in page.cells[-1].outputs] == ["display_data"]
    note = page.cells[-1].outputs[0]["data"]["text/html"]
    assert "Data not on this machine" in note and "admonition" in note
    assert "The voc dataset is not available" in note and str(tmp_path) not in note
    with pytest.raises(BuildError, match="broken failed: ZeroDivisionError"):
        execute_notebooks(Workspace.open("default"), only=["broken"], out_dir=out,
                          notebooks_dir=source)


def test_epoch_times_are_kept_per_network_and_summed(tmp_path):
    from agreement_core.study.runs import record_epoch_time, timings_path, training_seconds
    record_epoch_time(tmp_path, 0, 1, 12.5)
    record_epoch_time(tmp_path, 0, 2, 10.0)
    record_epoch_time(tmp_path, 3, 1, 7.25)
    record_epoch_time(tmp_path, 0, 2, 11.0)  # a resumed epoch replaces its time
    assert training_seconds(tmp_path) == pytest.approx(12.5 + 11.0 + 7.25)
    assert timings_path(tmp_path, 3).name == "net003.json"


def test_training_budget_counts_measures_and_estimates(tmp_path, data_root, mirror):
    """The budget of a half-trained profile: recorded network-epochs, their measured time,
    and what is left estimated from the median epoch of the same network."""
    from agreement_core.study.runs import record_epoch_time, training_budget

    workspace = Workspace.open("default", Locations(data_root, mirror, results=tmp_path))
    config = workspace.profile.config("cifar10")
    path = workspace.layout.study_dir(config)
    ids, targets = np.arange(4), np.array([0, 1, 2, 3])
    store = RecordStore.create(path, num_networks=config.num_networks,
                               num_epochs=config.epochs, num_classes=10,
                               splits={"train": (ids, targets), "test": (ids, targets)},
                               config=config.to_dict(), seeds=list(range(config.num_networks)))
    for k, epochs in ((0, 3), (1, 1)):  # network 1's second epoch has train but no test
        for epoch in range(1, epochs + 1):
            for split in ("train", "test"):
                store.write_epoch(k, split, epoch, targets)
            record_epoch_time(path, k, epoch, 10.0 * epoch)
    store.write_epoch(1, "train", 2, targets)
    table = training_budget(workspace).set_index("role")
    main = table.loc["cifar10"]
    assert (main["done"], main["network_epochs"]) == (4, config.num_networks * config.epochs)
    assert main["measured_s"] == pytest.approx(10 + 20 + 30 + 10)
    assert main["epoch_s"] == pytest.approx(15.0)  # median of 10, 10, 20, 30
    assert main["left_s"] == pytest.approx((main["network_epochs"] - 4) * 15.0)
    assert main["status"] == "in progress"
    # A queued study of the same network and dataset is estimated from those epochs ...
    random = table.loc["cifar10-random-labels"]
    assert (random["status"], random["done"], random["measured_s"]) == ("queued", 0, 0.0)
    assert random["left_s"] == pytest.approx(random["network_epochs"] * 15.0)
    # ... one of another network has no estimate, and an absent dataset is said as such.
    assert np.isnan(table.loc["cifar10-lenet5_bn", "left_s"])
    assert table.loc["kth", "status"] == "kth absent"


def test_the_checkouts_settings_file_places_the_data_without_environment(tmp_path,
                                                                          monkeypatch):
    """`make` writes .agreement.json; a notebook typed by hand after `make study` finds the
    same data root and mirror with no environment variables; the environment still wins."""
    from agreement_core import locations

    project = tmp_path / "checkout"
    (project / "notebooks").mkdir(parents=True)
    (project / "_config.yml").write_text("title: x\n")
    monkeypatch.setenv("AGREEMENT_PROJECT", str(project))
    for name in ("AGREEMENT_DATA_ROOT", "AGREEMENT_MIRROR", "AGREEMENT_SETTINGS"):
        monkeypatch.delenv(name, raising=False)
    assert locations.mirror_dir() is None
    (project / ".agreement.json").write_text(
        '{"data_root": "/srv/data", "mirror": "/srv/mirror"}')
    assert locations.data_root() == Path("/srv/data")
    assert locations.mirror_dir() == Path("/srv/mirror")
    monkeypatch.setenv("AGREEMENT_MIRROR", "/env/mirror")
    assert locations.mirror_dir() == Path("/env/mirror")
    monkeypatch.setenv("AGREEMENT_SETTINGS", "0")  # the tests' own switch
    assert locations.mirror_dir() == Path("/env/mirror")
    monkeypatch.delenv("AGREEMENT_MIRROR")
    assert locations.mirror_dir() is None
    monkeypatch.delenv("AGREEMENT_SETTINGS")
    (project / ".agreement.json").write_text("[1, 2")
    with pytest.raises(ConfigError, match=r"\.agreement\.json is not readable JSON"):
        locations.data_root()
