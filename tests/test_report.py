"""The learning-dynamics table and the report command, on a store with planted structure."""

import re

import numpy as np
import pandas as pd
import pytest

from agreement_core.cli import main
from agreement_core.errors import ConfigError
from agreement_core.records import RecordStore
from agreement_core.report import (
    DYNAMICS_COLUMNS,
    easy_and_hard_examples,
    learning_dynamics_table,
    summarize,
)

K, E = 3, 8


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """Examples with a low 'clutter' are learned early by every network."""
    root = tmp_path_factory.mktemp("planted")
    rng = np.random.default_rng(0)
    sizes = {"train": 300, "test": 100}
    splits, stats = {}, {}
    for split, n in sizes.items():
        ids = np.arange(n) * 2 + 7  # ids need not be 0..N-1
        targets = rng.integers(0, 4, n)
        splits[split] = (ids, targets)
        clutter = rng.random(n)
        stats[split] = pd.DataFrame({"example_id": ids, "clutter": clutter,
                                     "noise": rng.random(n), "label": targets})
    store = RecordStore.create(root / "store", num_networks=K, num_epochs=E, splits=splits,
                               num_classes=4, with_true_prob=True,
                               config={"dataset": "planted"})
    for split, (ids, targets) in splits.items():
        learned_at = 1 + stats[split]["clutter"].to_numpy() * E  # > E: never learned
        for k in range(K):
            jitter = rng.normal(0, 0.5, len(ids))
            for epoch in range(1, E + 1):
                correct = epoch >= learned_at + jitter
                pred = np.where(correct, targets, (targets + 1) % 4)
                store.write_epoch(k, split, epoch, pred, true_prob=np.where(correct, 0.9, 0.1))
    stats_dir = root / "statistics"
    stats_dir.mkdir()
    for split, table in stats.items():
        table.sample(frac=1, random_state=1).to_parquet(stats_dir / f"planted-{split}.parquet")
    return store, stats, stats_dir


def test_one_row_per_example_with_the_documented_columns(planted):
    store, stats, _ = planted
    table = learning_dynamics_table(store, stats)
    assert len(table) == 400 and list(table["split"].unique()) == ["train", "test"]
    for split in ("train", "test"):
        rows = table[table["split"] == split]
        assert np.array_equal(rows["example_id"], store.example_ids(split))
        assert np.array_equal(rows["label"], store.targets(split))
        expected = stats[split].set_index("example_id").loc[rows["example_id"], "clutter"]
        assert np.array_equal(rows["clutter"], expected)
    documented = [re.escape(c).replace("<k>", r"\d+") for c in DYNAMICS_COLUMNS
                  if c != "<statistic>"]
    for column in table.columns:
        assert any(re.fullmatch(p, column) for p in documented) or column in ("clutter",
                                                                                "noise")
    assert {f"first_correct_epoch_{k}" for k in range(K)} <= set(table.columns)


def test_never_is_missing_in_nullable_int16_columns(planted):
    store, stats, _ = planted
    table = learning_dynamics_table(store, stats)
    epoch_columns = ["agreed_from_epoch", *(f"first_correct_epoch_{k}" for k in range(K))]
    for column in epoch_columns:
        assert table[column].dtype == "Int16", column
        values = table[column].dropna()
        assert values.between(1, E).all(), column  # no -1 (or any other) sentinel
    never = table["agreed_from_epoch"].isna()
    assert 0 < never.sum() < len(table)  # high clutter: never learned by all
    # an example some network never got right cannot have been agreed upon
    never_correct = table[[f"first_correct_epoch_{k}" for k in range(K)]].isna().any(axis=1)
    assert never[never_correct].all()
    assert "<NA>" in DYNAMICS_COLUMNS["agreed_from_epoch"]
    assert "-1" not in DYNAMICS_COLUMNS["agreed_from_epoch"]


def test_summary_reports_never_agreed_apart_from_the_agreed_epochs(planted):
    store, _, _ = planted
    table = learning_dynamics_table(store)  # no statistics: no correlations, fast
    text = summarize(store, table)
    for split in ("train", "test"):
        rows = table[table["split"] == split]
        agreed = rows["agreed_from_epoch"].dropna().astype(float)
        never = rows["agreed_from_epoch"].isna().mean()
        assert f"{never:.1%} never agreed upon" in text
        # mean and median over the agreed examples only; a -1 for never would pull them down
        line = next(line for line in text.splitlines()
                    if f"over the {len(agreed)} agreed examples only" in line)
        mean, median = map(float, re.search(r"mean ([\d.]+), median ([\d.]+)", line).groups())
        assert mean == pytest.approx(agreed.mean(), abs=0.005)
        assert median == agreed.median()


def test_summary_rejects_the_old_minus_one_encoding(planted):
    store, _, _ = planted
    table = learning_dynamics_table(store, splits=["test"])
    table["agreed_from_epoch"] = table["agreed_from_epoch"].fillna(-1)
    with pytest.raises(ValueError, match="old encoding"):
        summarize(store, table)


def test_easy_and_hard_examples(planted):
    store, _, _ = planted
    picks = easy_and_hard_examples(store, "train")
    table = learning_dynamics_table(store, splits=["train"])
    (easy_label, easy), (hard_label, hard) = picks.items()
    earliest = table["agreed_from_epoch"].min()  # over the agreed examples
    assert easy_label == f"easy: agreed from epoch {earliest}"
    assert table["agreed_from_epoch"].iloc[easy] == earliest
    assert hard_label == "hard: never agreed"
    assert pd.isna(table["agreed_from_epoch"].iloc[hard])


def test_missing_ids_in_statistics_are_an_error(planted):
    store, stats, _ = planted
    with pytest.raises(ConfigError, match="lacks 1 of the store's 300 example ids"):
        learning_dynamics_table(store, {"train": stats["train"].iloc[1:]}, splits=["train"])


def test_report_command_writes_the_table_and_finds_the_planted_correlation(planted, tmp_path,
                                                                          capsys):
    store, _, stats_dir = planted
    out = tmp_path / "dynamics.csv"
    assert main(["report", str(store.path), "--statistics-dir", str(stats_dir), "--out",
                 str(out), "--n-boot", "200", "--n-perm", "200"]) == 0
    table = pd.read_csv(out)
    assert len(table) == 400
    printed = capsys.readouterr().out
    assert "agreement above the lower bound" in printed
    # the strongest correlation printed for train is clutter, positive, CI excluding 0
    line = next(line for line in printed.splitlines() if "clutter" in line and "all" in line)
    rho, low, high = map(float, re.search(
        r"rho ([+-][\d.]+) \[([+-][\d.]+), ([+-][\d.]+)\]", line).groups())
    assert rho > 0.5 and low > 0


def test_report_draws_the_agreement_figure(planted, tmp_path, capsys):
    store, _, stats_dir = planted
    figure = tmp_path / "agreement.png"
    assert main(["report", str(store.path), "--statistics-dir", str(stats_dir), "--out",
                 str(tmp_path / "t.parquet"), "--n-boot", "50", "--n-perm", "50",
                 "--figure", str(figure), "--figure-statistic", "clutter"]) == 0
    assert figure.stat().st_size > 10_000
    assert "orange: mean clutter of the agreed examples" in capsys.readouterr().out
