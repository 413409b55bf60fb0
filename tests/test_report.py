"""The learning-dynamics table and the report command, on a store with planted structure."""

import re

import numpy as np
import pandas as pd
import pytest

from agreement_core.cli import main
from agreement_core.errors import ConfigError
from agreement_core.records import RecordStore
from agreement_core.report import DYNAMICS_COLUMNS, learning_dynamics_table

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
