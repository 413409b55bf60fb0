"""The book's tables, on small record stores with known answers."""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from agreement_core import findings
from agreement_core.agreement import agreement_table, independent_agreement
from agreement_core.correlation import categorical_agreement_shares, correlation_table
from agreement_core.records import RecordStore
from agreement_core.report import agreement_area, learning_dynamics_table


def _store(path, correct, targets, *, splits=("train",), dataset=None, shift=1):
    """A store whose networks are right where ``correct[t, k, n]`` (the same for each split).

    Wrong predictions are the target plus ``shift`` (mod 3).
    """
    epochs, k_nets, n = correct.shape
    store = RecordStore.create(path, num_networks=k_nets, num_epochs=epochs, num_classes=3,
                               splits={s: (np.arange(n), targets) for s in splits},
                               with_true_prob=True,
                               config={"dataset": dataset} if dataset else None)
    for split in splits:
        for t in range(epochs):
            for k in range(k_nets):
                pred = np.where(correct[t, k], targets, (targets + shift) % 3)
                prob = np.where(correct[t, k], 0.7, 0.2)
                store.write_epoch(k, split, t + 1, pred, true_prob=prob)
    return store


@dataclass
class Study:
    store: RecordStore
    statistics: dict


@pytest.fixture
def planted(tmp_path):
    """60 examples of 3 classes learned in order of a planted clutter (early: low)."""
    rng = np.random.default_rng(1)
    n, epochs, k_nets = 60, 6, 3
    targets = np.arange(n) % 3
    learned = 1 + rng.permutation(n) % (epochs + 1)  # epochs + 1: never learned
    correct = np.arange(1, epochs + 1)[:, None, None] >= learned[None, None, :]
    correct = np.repeat(correct, k_nets, axis=1)
    correct[:, 0, :5] = ~correct[:, 0, :5]  # network 0 disagrees on a few examples
    store = _store(tmp_path / "planted", correct, targets, splits=("train", "test"),
                   dataset="toy")
    stats = pd.DataFrame({"example_id": np.arange(n), "label": targets,
                          "entropy": learned + rng.normal(0, 0.5, n),
                          "segments": rng.normal(size=n), "dct_share": np.nan})
    return store, stats


def test_last_epoch_summary_takes_each_split_s_last_epoch(planted, tmp_path):
    store, _ = planted
    rng = np.random.default_rng(0)
    other = _store(tmp_path / "other", rng.random((4, 2, 60)) < 0.5, np.arange(60) % 3)
    table = findings.last_epoch_summary({"planted": store, "random": other}, key="labels")
    assert list(table.columns) == ["labels", "split", "epoch", "mean_acc", "tpa",
                                   "independent_tpa", "lower_bound", "area_above_bound"]
    assert list(zip(table["labels"], table["split"], table["epoch"], strict=True)) == [
        ("planted", "train", 6), ("planted", "test", 6), ("random", "train", 4)]
    row = table.iloc[2]
    last = agreement_table(other, "train").iloc[-1]
    assert row["tpa"] == last["tpa"] and row["lower_bound"] == last["lower_bound"]
    accuracies = other.correct("train", 4).mean(axis=1)
    assert row["independent_tpa"] == pytest.approx(
        np.prod(accuracies) / (1 - np.prod(1 - accuracies)))
    assert row["independent_tpa"] == independent_agreement(accuracies)
    assert row["area_above_bound"] == agreement_area(other, "train")
    assert list(findings.last_epoch_summary({"x": store}).columns)[0] == "study"
    empty = RecordStore.create(tmp_path / "empty", num_networks=2, num_epochs=2, num_classes=3,
                               splits={"train": (np.arange(4), np.zeros(4, int))})
    with pytest.raises(ValueError, match="no train epoch recorded"):
        findings.last_epoch_summary({"empty": empty})


def test_correlation_rows_per_study_and_split(planted):
    store, stats = planted
    rows = findings.correlation_rows([Study(store, {"train": stats, "test": stats})],
                                     n_boot=50, seed=3)
    # dct_share has no value and soft_label_entropy no column: left out.
    assert list(rows["split"].unique()) == ["toy train", "toy test"]
    assert list(rows["statistic"].unique()) == ["entropy", "segments"]
    train = rows[rows["split"] == "toy train"].drop(columns="split").reset_index(drop=True)
    dynamics = learning_dynamics_table(store, {"train": stats, "test": stats}, ["train"])
    expected = correlation_table(dynamics, dynamics, ["entropy", "segments"],
                                 num_epochs=store.num_epochs, label_column="label",
                                 n_boot=50, n_perm=50, seed=3)
    pd.testing.assert_frame_equal(train, expected)
    entropy = rows[(rows["statistic"] == "entropy") & (rows["scope"] == "all")]
    assert (entropy["rho"] > 0.5).all()  # later learned: higher planted entropy
    with pytest.raises(ValueError, match="no studies"):
        findings.correlation_rows([])


def test_same_predictions_and_agreement_difference(tmp_path):
    rng = np.random.default_rng(2)
    targets = np.arange(40) % 3
    correct = rng.random((3, 2, 40)) < 0.6
    a = _store(tmp_path / "a", correct, targets, splits=("train", "test"))
    b = _store(tmp_path / "b", correct, targets, splits=("train", "test"))
    assert findings.same_predictions(a, b, "test")
    changed = correct.copy()
    changed[2, 1, 7] = ~changed[2, 1, 7]
    c = _store(tmp_path / "c", changed, targets, splits=("train", "test"))
    assert not findings.same_predictions(a, c, "test")
    wrong_label = _store(tmp_path / "d", correct, targets, splits=("train", "test"), shift=2)
    assert not findings.same_predictions(a, wrong_label, "test")  # same correctness
    fewer = _store(tmp_path / "e", correct[:, :1], targets, splits=("train", "test"))
    assert not findings.same_predictions(a, fewer, "test")

    difference = findings.agreement_difference(c, a, "train")
    assert list(difference.columns) == ["tpa", "lower_bound", "mean_acc"]
    assert list(difference.index) == [1, 2, 3] and difference.index.name == "epoch"
    ta, tc = agreement_table(a, "train"), agreement_table(c, "train")
    assert np.allclose(difference["mean_acc"], tc["mean_acc"] - ta["mean_acc"])
    assert (difference.loc[[1, 2]] == 0).all().all()  # only epoch 3 changed
    assert difference.loc[3, "mean_acc"] == pytest.approx((1 if changed[2, 1, 7] else -1) / 80)


def test_describe_statistics_and_table_sizes():
    tables = {"a train": pd.DataFrame({"example_id": [0, 1, 2], "entropy": [1.0, 2.0, 6.0]}),
              "b test": pd.DataFrame({"example_id": [5, 6], "entropy": [3.0, 5.0],
                                      "segments": [1, 3]})}
    table = findings.describe_statistics(tables)
    assert list(table.index) == [("a train", "entropy"), ("b test", "entropy"),
                                 ("b test", "segments")]
    assert list(table.columns) == ["mean", "std", "min", "max"]
    assert table.loc[("a train", "entropy")].tolist() == [3.0, pytest.approx(np.std(
        [1, 2, 6], ddof=1)), 1.0, 6.0]
    assert table.loc[("b test", "segments"), "mean"] == 2.0
    assert list(findings.describe_statistics(tables, ["count"])["count"]) == [3, 2, 2]
    with pytest.raises(ValueError, match="no statistics tables"):
        findings.describe_statistics({})
    assert findings.table_sizes(tables) == "a train (3 images), b test (2 images)"


def test_factor_agreement_shares_one_table_per_factor(planted):
    store, stats = planted
    factors = stats.assign(pose=np.where(stats["example_id"] % 2, "left", "right"),
                           scale=stats["example_id"] % 4)
    shares = findings.factor_agreement_shares(store, "train", factors, ["scale", "pose"],
                                              min_epoch=1, min_accuracy=0.0)
    assert list(shares) == ["scale", "pose"]
    expected = categorical_agreement_shares(store, "train", factors, "pose", min_epoch=1,
                                            min_accuracy=0.0)
    pd.testing.assert_frame_equal(shares["pose"], expected)


def test_dynamics_summary_counts_only_examples_with_a_value():
    table = pd.DataFrame({
        "split": ["train", "train", "train", "test"],
        "agreed_from_epoch": pd.array([2, 4, pd.NA, pd.NA], dtype="Int16"),  # NA: never
        "forgetting_events": [0, 1, 2, 3],
        "other": [9, 9, 9, 9]})
    summary = findings.dynamics_summary(table)
    assert list(summary.columns) == ["test", "train"]
    assert summary.index.get_level_values(0).unique().tolist() == ["agreed_from_epoch",
                                                                   "forgetting_events"]
    assert summary.loc[("agreed_from_epoch", "count"), "train"] == 2
    assert summary.loc[("agreed_from_epoch", "mean"), "train"] == 3.0
    assert summary.loc[("agreed_from_epoch", "count"), "test"] == 0
    assert (summary.dtypes == "float64").all()
    assert summary.round(1).loc[("forgetting_events", "std"), "train"] == 1.0
    with pytest.raises(ValueError, match="none of the columns"):
        findings.dynamics_summary(table, ["absent"])


def test_the_learning_order_conclusion_and_captions_quote_the_tables():
    """The chapter's conclusion and captions carry the committed tables' numbers, and say
    nothing about what is missing."""
    from pathlib import Path

    from agreement_core.findings import (
        explained_table,
        learning_order_captions,
        learning_order_headline,
    )

    root = Path(__file__).resolve().parent.parent / "results" / "full" / "hacohen"
    tables = {p.stem: pd.read_csv(p) for p in root.glob("*/*.csv")}
    text = learning_order_headline(tables)
    ceiling = tables["ceiling"].iloc[0]
    assert f"Spearman rho {ceiling['rho']:.3f}" in text
    assert f"reliability of {ceiling['reliability']:.3f}" in text
    assert "CIFAR-10H" in text and "boosting group" in text
    captions = learning_order_captions(tables)
    assert set(captions) == {"ceiling train", "ceiling test", "nested", "synthetic"}
    assert f"{int(ceiling['n']):,} examples" in captions["ceiling train"]
    assert "Rotten Tomatoes" in captions["synthetic"]
    shown = explained_table(tables["explained"])
    assert "share explained" in shown and len(shown) == len(tables["explained"])
    # Only what is there: the order tables alone give no claim-3 line, an empty set nothing.
    order_only = learning_order_headline({"ceiling": tables["ceiling"]})
    assert "Claims 3" not in order_only and "How reproducible" in order_only
    assert learning_order_headline({}) == "No learning-order analyses to summarise.\n"
    assert learning_order_captions({}) == {}


# ------------------------------------------------------------------ the pages' conclusions
REPO = __import__("pathlib").Path(__file__).resolve().parent.parent
FULL = REPO / "results" / "full"


def _full_store(arch: str, **config) -> RecordStore:
    """The committed full-profile CIFAR-10 study of ``arch`` whose config has ``config``."""
    for path in sorted((FULL / "studies").glob(f"cifar10-{arch}-*")):
        store = RecordStore.open(path)
        if all(store.config.get(k) == v for k, v in config.items()):
            return store
    raise LookupError(f"no committed {arch} study with {config}")


def test_curriculum_conclusion_states_the_summary_and_flags_the_unfit_run():
    summary = pd.read_csv(FULL / "curriculum" / "summary.csv")
    text = findings.curriculum_conclusion(summary)
    for row in summary.itertuples():
        assert f"**{row.mode}** {row.final_test_mean:.3f}" in text
        assert f"{row.final_train_mean:.3f} train" in text
    best = summary[summary["final_train_mean"] >= 0.5].set_index("mode")["final_test_mean"]
    assert f"**{best.idxmax()}** ends highest ({best.max():.3f})" in text
    # Every committed mode fits (lr 0.05): nothing flagged. A run that did not fit (as the
    # unpaced one at lr 0.1: 0.165 train) is named, not read as an effect of the order.
    assert (summary["final_train_mean"] >= findings.CURRICULUM_FIT_ACCURACY).all()
    assert "Not fit" not in text
    unfit = summary.copy()
    unfit.loc[unfit["mode"] == "standard", "final_train_mean"] = 0.165
    flagged = findings.curriculum_conclusion(unfit)
    assert "**Not fit:** the **standard** run ends at 0.165" in flagged
    assert "loss_peaks" in flagged and "**standard** ends highest" not in flagged
    with pytest.raises(ValueError):
        findings.curriculum_conclusion(summary.iloc[:0])


def test_recording_conclusion_from_the_online_and_eval_studies():
    online = _full_store("vgg11_narrow", recording="online", seed=0, batch_size=128, lr=0.1,
                         random_labels=False)
    evaluated = _full_store("vgg11_narrow", recording="eval")
    text = findings.recording_conclusion(online, evaluated)
    difference = findings.agreement_difference(evaluated, online, "train").dropna()
    assert "test predictions are identical" in text
    assert f"TPa {difference['tpa'].mean():+.3f} on average" in text
    assert f"mean accuracy {difference['mean_acc'].mean():+.3f} on average" in text


def test_fp_agreement_conclusion_names_each_study_s_last_epoch():
    stores = {"lenet5_bn": _full_store("lenet5_bn"),
              "random labels": _full_store("vgg11_narrow", random_labels=True)}
    text = findings.fp_agreement_conclusion(stores)
    for label, store in stores.items():
        last = agreement_table(store, "test").iloc[-1]
        assert f"{label}: FPa {last['fp_agreement']:.3f}" in text
        assert f"(epoch {int(last['epoch'])})" in text


def test_claims_conclusion_and_statement_quote_the_claims_table():
    table = pd.read_csv(FULL / "claims.csv")
    rows = table[table["spec_id"].isin(["soft-label-entropy", "agreement-test", "test-spread"])]
    text = findings.claims_conclusion(rows)
    assert text.startswith(f"This page tests 3 of the paper's claims on {len(rows)} ")
    for verdict, n in rows["verdict"].value_counts().items():
        assert f"{n} {verdict}" in text
    soft = rows[rows["claim_id"] == "soft-label-entropy"].iloc[0]
    statement = findings.claim_statement(table, "soft-label-entropy")
    assert f"{soft['value']:+.3f} [{soft['ci_low']:+.3f}, {soft['ci_high']:+.3f}]" in statement
    assert soft["quote"] in statement and f"verdict: {soft['verdict']}" in statement
    if soft["verdict"] == "differs":
        assert "we do not find what the paper reports" in statement
    with pytest.raises(ValueError):
        findings.claim_statement(table, "no-such-claim")


def test_correlation_dynamics_and_score_conclusions_from_their_tables():
    correlations = pd.DataFrame({
        "split": ["a train", "a train", "a train", "a train"],
        "statistic": ["entropy", "entropy", "segments", "segments"],
        "scope": ["all", "within_class", "all", "within_class"],
        "rho": [-0.2, -0.1, 0.05, np.nan], "ci_low": [-0.25, -0.15, -0.01, np.nan],
        "ci_high": [-0.15, -0.05, 0.11, np.nan]})
    text = findings.correlation_conclusion(correlations)
    assert "1 of 2 correlations over all examples" in text
    assert "1 of 1 correlations within classes" in text
    assert "a train: entropy -0.200 [-0.250, -0.150]" in text
    table = pd.DataFrame({"split": ["train"] * 4,
                          "agreed_from_epoch": pd.array([1, 3, None, 5], dtype="Int16"),
                          "forgetting_events": [0, 1, 2, 0]})
    assert findings.dynamics_conclusion(table) == (
        "**train** (4 examples): 25.0% never agreed on, the others from a median epoch of 3; "
        "50.0% forgotten by some network at least once.")
    scores = pd.DataFrame({"score": ["aum", "el2n"], "rho": [-0.7, 0.2],
                           "ci_low": [-0.75, -0.1], "ci_high": [-0.65, 0.4], "n": [100, 100]})
    text = findings.score_correlations_conclusion(scores)
    assert "1 of 2 scores" in text and "**aum** (rho -0.700 [-0.750, -0.650])" in text


def test_book_and_method_conclusions_from_the_committed_results():
    claims = pd.read_csv(FULL / "claims.csv")
    counts = claims["verdict"].value_counts()
    text = findings.book_conclusion(claims)
    decided = sum(int(counts.get(v, 0)) for v in ("reproduced", "mixed", "differs"))
    assert f"{decided} are decided: {int(counts['reproduced'])} reproduced" in text
    assert "stay open, most often because networks did not fit" in text
    main = _full_store("vgg11_narrow", recording="online", seed=0, batch_size=128, lr=0.1,
                       random_labels=False)
    text = findings.method_conclusion(main)
    table = agreement_table(main, "test")
    assert (f"on the test set the lower bound is 0 in {int((table['lower_bound'] <= 0).sum())} "
            f"of {len(table)} epochs") in text
    assert text.startswith(f"With K = {main.num_networks} networks")
