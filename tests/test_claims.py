"""The claims table: agreement curves with intervals, the independent baseline, seed groups,
verdicts, and the full profile that feeds it."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from agreement_core.agreement import agreement_table, independent_agreement
from agreement_core.claims import (
    CLAIM_COLUMNS,
    QUOTES,
    VERDICTS,
    above_bound,
    above_independent,
    agreement_curves,
    claims_table,
    clutter_claims,
    mixed_correct,
    pascal_claims,
    quote,
    store_correct,
    texture_claims,
)
from agreement_core.errors import ConfigError
from agreement_core.locations import Locations
from agreement_core.records import RecordStore
from agreement_core.study import Workspace
from agreement_core.study.claims import profile_claims
from agreement_core.study.layout import study_slug
from agreement_core.study.profiles import Profile, get_profile

REPO = Path(__file__).resolve().parent.parent


def _store(path, correct, *, config=None):
    """A store whose K networks are right where ``correct[t, k, n]`` (train and test)."""
    epochs, k_nets, n = correct.shape
    targets = np.arange(n) % 3
    store = RecordStore.create(path, num_networks=k_nets, num_epochs=epochs, num_classes=3,
                               splits={s: (np.arange(n), targets) for s in ("train", "test")},
                               encoding="compact", config=config or {"arch": "toy"})
    for split in ("train", "test"):
        for t in range(epochs):
            for k in range(k_nets):
                store.write_epoch(k, split, t + 1,
                                  np.where(correct[t, k], targets, (targets + 1) % 3))
    return store


def _shared_order(n=400, epochs=6, k_nets=5, seed=0, noise=0.05):
    """Networks that learn the examples in one shared order (plus a little noise)."""
    rng = np.random.default_rng(seed)
    learned = rng.integers(1, epochs + 2, n)
    correct = np.arange(1, epochs + 1)[:, None, None] >= learned[None, None, :]
    correct = np.repeat(correct, k_nets, axis=1)
    return correct ^ (rng.random(correct.shape) < noise)


def _independent(n=4000, epochs=6, k_nets=5, seed=0):
    """Networks right on independent random examples at a rising accuracy."""
    rng = np.random.default_rng(seed)
    acc = np.linspace(0.2, 0.9, epochs)[:, None, None]
    return rng.random((epochs, k_nets, n)) < acc


@dataclass
class Study:
    store: RecordStore
    statistics: dict


def test_curves_match_the_agreement_table_and_the_independent_baseline(tmp_path):
    store = _store(tmp_path / "s", _shared_order())
    curves = agreement_curves(store_correct(store, "train"), n_boot=50)
    table = agreement_table(store, "train")
    for column in ("tpa", "lower_bound", "mean_acc", "std_acc"):
        np.testing.assert_allclose(curves.point[column], table[column], rtol=1e-12)
    expected = [independent_agreement(store.correct("train", t).mean(axis=1))
                for t in range(1, store.num_epochs + 1)]
    np.testing.assert_allclose(curves.point["independent"], expected, rtol=1e-12)
    assert curves.boot["tpa"].shape == (50, store.num_epochs)


def test_shared_order_agrees_above_independence_and_independent_networks_do_not(tmp_path):
    shared = _store(tmp_path / "shared", _shared_order())
    value, low, high = agreement_curves(store_correct(shared, "train")).measure(
        above_independent)
    assert low > 0.2 and low <= value <= high
    independent = _store(tmp_path / "independent", _independent())
    value, low, high = agreement_curves(store_correct(independent, "train")).measure(
        above_independent)
    assert low < 0 < high and abs(value) < 0.02
    # ... though they still agree "above the lower bound", which K=5 makes nearly automatic.
    assert agreement_curves(store_correct(independent, "train")).measure(above_bound)[1] > 0


def test_studies_of_the_same_examples_get_the_same_resamples(tmp_path):
    store = _store(tmp_path / "s", _shared_order())
    first = agreement_curves(store_correct(store, "train"), n_boot=30, seed=4)
    second = agreement_curves(store_correct(store, "train"), n_boot=30, seed=4)
    np.testing.assert_array_equal(first.boot["tpa"], second.boot["tpa"])
    other = agreement_curves(store_correct(store, "train"), n_boot=30, seed=5)
    assert not np.array_equal(first.boot["tpa"], other.boot["tpa"])


def test_mixed_correct_takes_one_network_of_each_store(tmp_path):
    a = _store(tmp_path / "a", _shared_order(seed=1))
    b = _store(tmp_path / "b", _shared_order(seed=2))
    epochs = list(mixed_correct([a, b], "train", network=3))
    assert len(epochs) == a.num_epochs
    np.testing.assert_array_equal(epochs[2], np.stack([a.correct("train", 3)[3],
                                                       b.correct("train", 3)[3]]))


def test_claims_table_seed_ranges_missing_studies_and_verdicts(tmp_path):
    groups = {seed: Study(_store(tmp_path / f"main{seed}", _shared_order(seed=seed)), {})
              for seed in (0, 5, 10)}
    slow = _shared_order(seed=3)
    slow[:, :, :] = False  # random labels that never rise
    table = claims_table(groups, architectures={"toy": groups[0].store, "absent": None},
                         random_labels=_store(tmp_path / "rl", slow), n_boot=40)
    assert list(table.columns) == CLAIM_COLUMNS
    assert set(table["verdict"]) <= set(VERDICTS)
    row = table.set_index("claim_id").loc["agreement-train-independent"]
    per_group = [agreement_curves(store_correct(g.store, "train"), n_boot=40)
                 .measure(above_independent)[0] for g in groups.values()]
    assert row["value"] == pytest.approx(per_group[0])
    assert (row["seed_min"], row["seed_max"]) == pytest.approx((min(per_group),
                                                                 max(per_group)))
    assert row["n_seed_groups"] == 3 and row["verdict"] == "reproduced"
    by_id = table.set_index("claim_id")
    assert by_id.loc["arch-absent-bound", "verdict"] == "not run yet"
    assert by_id.loc["random-labels-independent", "verdict"] == "not testable here"
    assert "never reached 20%" in by_id.loc["random-labels-independent", "note"]
    # No statistics were given: the statistic claims say so instead of guessing.
    assert by_id.loc["segments-train", "verdict"] == "not testable here"


def test_a_claim_against_the_data_is_reported_as_differing(tmp_path):
    groups = {0: Study(_store(tmp_path / "main", _independent()), {})}
    table = claims_table(groups, n_boot=40).set_index("claim_id")
    assert table.loc["agreement-train-independent", "verdict"] == "differs"
    assert "holds zero" in table.loc["agreement-train-independent", "note"]


def test_claims_from_the_committed_default_results(data_root, mirror):
    """The real (small) CIFAR-10 studies committed for the default profile."""
    workspace = Workspace.open("default", Locations(data_root=data_root, mirror=mirror,
                                                    results=REPO / "results"))
    table = profile_claims(workspace, n_boot=20)
    by_id = table.set_index("claim_id")
    assert set(table["verdict"]) <= set(VERDICTS)
    main = RecordStore.open(workspace.layout.study_dir(workspace.profile.config("cifar10")))
    expected = agreement_curves(store_correct(main, "test"), n_boot=20).measure(above_bound)
    assert by_id.loc["agreement-test-bound", "value"] == pytest.approx(expected[0])
    # The default profile has no scaled-lr batch sizes and no second seed group.
    assert by_id.loc["agreement-train-bound", "n_seed_groups"] == 1
    assert not any("scaled" in i for i in table["claim_id"])
    assert np.isfinite(by_id.loc["soft_label_entropy-test", "value"])


def test_full_profile_seed_groups_ablations_and_order():
    full = get_profile("full")
    roles = list(full.configs())
    assert roles[:3] == ["cifar10", "cifar10-seed5", "cifar10-seed10"]
    assert roles.index("cifar10-densenet_bc_40") < roles.index("cifar10-random-labels") \
        < roles.index("cifar10-batch64")
    main = full.config("cifar10")
    assert (main.train_subset, main.test_subset, main.precision) == (None, None, "bfloat16")
    assert full.config("cifar10", arch="densenet_bc_40").epochs == 10
    assert full.scaled_lr_config(64).lr == pytest.approx(0.05)
    assert full.scaled_lr_config(512).lr == pytest.approx(0.4)
    assert full.encoding == "compact"
    # The default profile's studies keep their committed directories (the slugs do not move).
    committed = {p.name for p in (REPO / "results" / "default" / "studies").iterdir()
                 if p.name.startswith(("cifar10", "imagenette"))}
    assert {study_slug(c) for c in get_profile("default").configs().values()
            if c.dataset in ("cifar10", "imagenette")} == committed


def test_seed_groups_closer_than_k_are_refused():
    with pytest.raises(ConfigError, match="at least K=5 apart"):
        Profile(name="x", description="", studies={"cifar10": {"num_networks": 5}},
                architectures=(), batch_sizes=(), statistics={}, seed_groups=(3,))


def test_claims_table_needs_the_main_study():
    with pytest.raises(ValueError, match="main study"):
        claims_table({})


def test_correlation_claims_follow_the_planted_order_and_name_missing_studies(tmp_path):
    rng = np.random.default_rng(2)
    n, epochs = 300, 6
    learned = rng.integers(1, epochs + 2, n)
    correct = np.repeat((np.arange(1, epochs + 1)[:, None, None] >= learned[None, None, :]),
                        5, axis=1)
    store = _store(tmp_path / "voc", correct)
    stats = pd.DataFrame({"example_id": np.arange(n), "label": np.arange(n) % 3,
                          "entropy": learned + rng.normal(0, 0.3, n),       # learned first: low
                          "bbox_area_share": -learned + rng.normal(0, 0.3, n),  # ... large
                          "segments": rng.normal(size=n)})                   # no relation
    study = Study(store, {"train": stats})
    rows = {c.column: c.row(n_boot=50) for c in pascal_claims(study, "VOC toy")}
    assert rows["entropy"]["verdict"] == "reproduced" and rows["entropy"]["value"] > 0.8
    assert rows["bbox_area_share"]["verdict"] == "reproduced"
    assert rows["segments"]["verdict"] == "differs"
    assert rows["vsd_score"]["verdict"] == "not testable here"  # no such column here
    texture = {c.column: c.row(n_boot=50) for c in texture_claims(study, "DTD toy")}
    assert texture["segments"]["verdict"] == "differs"
    assert all(r["verdict"] == "not run yet" for r in
               (c.row() for c in pascal_claims(None, "VOC resnet50")))


def test_every_quote_is_the_papers_own_words(paper_text):
    for key, text in QUOTES.items():
        for piece in text.split("[...]"):
            assert " ".join(piece.split()) in paper_text, f"QUOTES[{key!r}] is not verbatim"


def test_every_committed_claim_quotes_the_paper():
    for profile in ("default", "full"):
        table = pd.read_csv(REPO / "results" / profile / "claims.csv")
        assert list(table.columns) == CLAIM_COLUMNS
        unquoted = table.loc[table["quote"].isna(), "claim_id"].tolist()
        assert not unquoted, f"{profile}: claims without the paper's words: {unquoted}"
        assert quote("batch-speed-fixed lr 0.1") == QUOTES["batch-speed"]
        assert quote("voc-entropy-test-VOC densenet121") == QUOTES["voc-entropy-test"]
        assert quote("no-such-claim") == ""


def test_relation_claims_follow_a_planted_relation_and_name_missing_tables():
    rng = np.random.default_rng(0)
    score = rng.random(300)
    table = pd.DataFrame({"vsd_score": score, "entropy": score + 0.1 * rng.random(300),
                          "segments": -score + 0.1 * rng.random(300)})
    rows = pd.DataFrame([c.row(n_boot=50) for c in clutter_claims(table, "toy")])
    by_id = rows.set_index("claim_id")
    assert by_id.loc["clutter-entropy-toy", "verdict"] == "reproduced"
    assert by_id.loc["clutter-segments-toy", "verdict"] == "differs"  # planted the other way
    assert by_id.loc["clutter-segments-toy", "value"] < -0.9
    assert by_id.loc["clutter-entropy-toy", "quote"] == QUOTES["clutter"]
    missing = clutter_claims(None, "toy")[0].row()
    assert missing["verdict"] == "not run yet"


def test_verdict_notes_tell_no_effect_from_the_opposite_sign_for_either_sign():
    from agreement_core.claims import _directional

    # The paper expects a negative rho (larger boxes learned first).
    assert _directional(0.02, -0.028, 0.066, [], -1) == (
        "differs", "the example interval holds zero: no clear effect")
    assert _directional(0.2, 0.1, 0.3, [], -1)[1] == "the opposite sign, interval excluding zero"
    assert _directional(-0.2, -0.3, -0.1, [], -1) == ("reproduced", "")
    # And a positive one.
    assert _directional(-0.2, -0.3, -0.1, [], 1)[1] == \
        "the opposite sign, interval excluding zero"
    assert _directional(0.05, -0.01, 0.1, [], 1)[1] == \
        "the example interval holds zero: no clear effect"


def test_setup_differences_name_underfitting_from_the_committed_voc_study(data_root, mirror):
    """The Fig. 18 page's reasons: ResNet-50 fits little of VOC here, and the page says so."""
    from agreement_core.study import notebook_session

    session = notebook_session({"profile": "default", "results_dir": str(REPO / "results"),
                                "data_root": str(data_root), "mirror": str(mirror)})
    store = RecordStore.open(session.workspace.layout.study_dir(
        session.profile.config("voc", arch="resnet50")))
    correct = store.correct("train", store.num_epochs)
    assert correct.mean() < 0.9  # the committed run: the reason applies
    reasons = " ".join(session.setup_differences("voc:resnet50"))
    assert f"mean train accuracy {correct.mean():.1%} at the last epoch" in reasons
    assert f"all networks right on {int(correct.all(axis=0).sum()):,} of 1,697" in reasons
    assert "1,697 training images (the paper: 16,551)" in reasons
    # A papermill override of the architecture is what the page's "voc" study becomes, so
    # its reasons describe that network, not the profile's default one.
    overridden = notebook_session({"profile": "default", "results_dir": str(REPO / "results"),
                                   "data_root": str(data_root), "mirror": str(mirror),
                                   "arch": "resnet50"})
    voc_reasons = overridden.setup_differences("voc")[0]
    assert voc_reasons.startswith("voc: ") and "network resnet50 (the paper: densenet121)" \
        in voc_reasons
    assert f"mean train accuracy {correct.mean():.1%}" in voc_reasons
