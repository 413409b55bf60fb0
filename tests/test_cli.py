import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from agreement_core.cli import main
from agreement_core.errors import RecordStoreError
from agreement_core.records import RecordStore


@pytest.fixture
def small_store(tmp_path):
    rng = np.random.default_rng(0)
    targets = rng.integers(0, 3, size=30)
    store = RecordStore.create(tmp_path / "store", num_networks=3, num_epochs=2,
                               splits={"train": (np.arange(30), targets),
                                       "test": (np.arange(10), targets[:10])},
                               num_classes=3)
    for k in range(3):
        for epoch in (1, 2):
            store.write_epoch(k, "train", epoch, np.where(rng.random(30) < 0.5 * epoch, targets, 0))
            store.write_epoch(k, "test", epoch, targets[:10])
    return store


def test_agree_prints_and_writes_the_table(small_store, tmp_path, capsys):
    for name in ("table.csv", "table.parquet"):
        out = tmp_path / name
        assert main(["agree", str(small_store.path), "--out", str(out)]) == 0
        table = pd.read_csv(out) if name.endswith(".csv") else pd.read_parquet(out)
        assert list(table["split"]) == ["train", "train", "test", "test"]
        assert {"epoch", "tpa", "lower_bound", "mean_acc", "std_acc", "hacohen_agreement",
                "fp_agreement"} <= set(table.columns)
        assert (table.loc[table["split"] == "test", "tpa"] == 1.0).all()
    assert "tpa" in capsys.readouterr().out


def test_agree_errors_are_one_clear_line(small_store, tmp_path, capsys):
    assert main(["agree", str(tmp_path / "missing")]) == 2
    assert "missing" in capsys.readouterr().err
    assert main(["agree", str(small_store.path), "--split", "val"]) == 2
    assert "unknown split 'val'" in capsys.readouterr().err
    assert main(["agree", str(small_store.path), "--out", str(tmp_path / "t.xlsx")]) == 2
    assert ".csv or .parquet" in capsys.readouterr().err


def test_help_lists_every_command():
    result = subprocess.run([sys.executable, "-m", "agreement_core", "--help"],
                            capture_output=True, text=True, check=True)
    for command in ("train", "agree", "stats", "report", "claims", "budget", "build"):
        assert command in result.stdout


def test_budget_prints_the_committed_profiles_time(data_root, mirror, monkeypatch, capsys):
    """The default profile's committed studies are all done; VOC's wall time is recorded."""
    from agreement_core.study.runs import training_seconds
    from agreement_core.study.workspace import Workspace

    monkeypatch.delenv("AGREEMENT_RESULTS", raising=False)
    assert main(["budget", "--profile", "default", "--data-root", str(data_root),
                 "--mirror", str(mirror)]) == 0
    out = capsys.readouterr().out
    layout = Workspace.open("default").layout
    voc = training_seconds(layout.study_dir(Workspace.open("default").profile.config("voc")))
    assert voc > 0
    line = next(row for row in out.splitlines() if row.split()[0] == "voc")
    assert "done" in line and f"{voc / 3600:.2f}" in line
    assert "left 0.00 h" in out and "not timed" in out


def test_unknown_architecture_from_the_command_line(tmp_path, capsys):
    assert main(["train", "--out", str(tmp_path / "s"), "--arch", "resnet9000"]) == 2
    assert "unknown architecture 'resnet9000'" in capsys.readouterr().err


def test_agree_notes_epochs_not_recorded_by_every_network(tmp_path, capsys):
    targets = np.array([0, 1, 2, 0, 1, 2])
    store = RecordStore.create(tmp_path / "store", num_networks=2, num_epochs=2,
                               splits={"train": (np.arange(6), targets)}, num_classes=3)
    for k, epochs in ((0, 2), (1, 1)):  # network 1 is one epoch behind
        for epoch in range(1, epochs + 1):
            store.write_epoch(k, "train", epoch, targets)
    assert main(["agree", str(store.path)]) == 0
    out = capsys.readouterr().out
    assert "note: the table stops at the last epoch all networks have recorded (epochs " \
           "recorded per network: network 0: 2, network 1: 1 (of 2))" in out
    assert "train      1 " in out and "train      2 " not in out


def test_report_skips_a_missing_default_statistics_dir(small_store, tmp_path, monkeypatch,
                                                       capsys):
    monkeypatch.chdir(tmp_path)  # no results/statistics here: the default is optional
    assert main(["report", str(small_store.path), "--out", str(tmp_path / "t.csv"),
                 "--n-boot", "10", "--n-perm", "10"]) == 0
    assert "statistics joined for no split from results/statistics" in capsys.readouterr().out


def test_debug_is_a_global_option_that_lets_the_error_through(tmp_path):
    with pytest.raises(RecordStoreError, match="missing"):
        main(["--debug", "agree", str(tmp_path / "missing")])


def test_learning_order_needs_two_seed_groups_of_the_main_study(tmp_path, monkeypatch,
                                                                 capsys):
    """Without finished seed groups there is no noise ceiling to measure: one line naming
    the command that trains them, exit status 2, nothing written."""
    (tmp_path / "full").mkdir()
    monkeypatch.setenv("AGREEMENT_RESULTS", str(tmp_path))
    assert main(["learning-order", "--profile", "full", "--no-synthetic"]) == 2
    err = capsys.readouterr().err
    assert "two finished seed groups" in err and "build --profile full" in err
    assert not (tmp_path / "full" / "hacohen").exists()
