"""python -m agreement_core scores STORE --out scores.parquet: the score table of a store,
and one-line errors (exit 2) on bad input."""

import numpy as np
import pandas as pd
import pytest

from agreement_core.cli import main
from agreement_core.recorder import Recorder


@pytest.fixture
def store(tmp_path):
    rng = np.random.default_rng(0)
    names = np.array([f"row-{i}" for i in range(12)])
    targets = rng.integers(0, 3, 12)
    recorder = Recorder(tmp_path / "s", splits={"train": (names, targets)}, num_networks=2,
                        num_epochs=2, num_classes=3, keep="margin")
    for k in (0, 1):
        for t in (1, 2):
            recorder.update(k, "train", t, list(names),
                            logits=rng.normal(size=(12, 3)).astype(np.float32))
            recorder.finish_epoch(k, "train", t)
    return tmp_path / "s"


def test_scores_writes_the_table_and_names_what_the_store_lacks(store, tmp_path, capsys):
    out = tmp_path / "scores.parquet"
    assert main(["scores", str(store), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    table = pd.read_parquet(out)
    assert len(table) == 12 and table["example_name"].str.startswith("row-").all()
    assert {"aum", "forgetting_events", "correctness", "agreed_from_epoch"} <= set(table)
    assert "note:" in captured.err and "with_true_prob=True" in captured.err
    assert main(["scores", str(store), "--out", str(tmp_path / "s.csv")]) == 0
    assert pd.read_csv(tmp_path / "s.csv")["aum"].tolist() == pytest.approx(
        table["aum"].tolist(), abs=1e-6)


@pytest.mark.parametrize("args, message", [
    (["{store}", "--out", "{tmp}/x.txt"], "must end in .csv or .parquet"),
    (["{tmp}/missing", "--out", "{tmp}/x.csv"], "missing"),
    (["{store}", "--out", "{tmp}/x.csv", "--split", "test"], "unknown split 'test'"),
    (["{store}", "--out", "{tmp}/x.csv", "--el2n-epoch", "1"], ""),
])
def test_scores_bad_input_is_one_error_line(store, tmp_path, capsys, args, message):
    argv = ["scores", *[a.format(store=store, tmp=tmp_path) for a in args]]
    status = main(argv)
    err = capsys.readouterr().err
    if not message:                      # keep='margin' has no EL2N: the option is unused
        assert status == 0
        return
    assert status == 2
    error = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and message in error[0], err
