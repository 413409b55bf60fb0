"""Scores that decide: forgetting counts never-learned examples as the most forgettable,
AUM with threshold samples flags flipped labels (real data: scikit-learn's digits), and a
store without probabilities says the data map is missing."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from agreement_core.agreement import example_dynamics_table
from agreement_core.recorder import Recorder
from agreement_core.scores import (
    MissingScoreWarning,
    data_map,
    example_scores,
    flag_label_issues,
    forgetting_events,
    threshold_samples,
)

pytest.importorskip("sklearn")
_SPEC = importlib.util.spec_from_file_location(
    "bench_label_issues",
    Path(__file__).resolve().parents[1] / "benchmarks" / "bench_label_issues.py")
bench = importlib.util.module_from_spec(_SPEC)
sys.modules["bench_label_issues"] = bench
_SPEC.loader.exec_module(bench)


@pytest.fixture(scope="module")
def flipped_run(tmp_path_factory):
    x, _, noisy, flipped = bench.digits(0.1, seed=0)
    store = bench.train(tmp_path_factory.mktemp("digits"), x, noisy, 10, networks=2,
                        epochs=8)
    return x, noisy, flipped, store


def test_never_learned_examples_are_the_most_forgettable(flipped_run):
    _, _, flipped, store = flipped_run
    raw = example_dynamics_table(store, "train")["forgetting_events"].to_numpy()
    scored = forgetting_events(store)
    never = ~np.asarray([store.correct("train", t) for t in range(1, 9)]).any(axis=0)  # (K, N)
    assert never.any()
    # Per network: a never-learned example counts E = 8, more than any learned one can.
    assert scored.max() <= 16 and np.all(scored[never.all(axis=0)] == 16)
    assert np.all(scored[~never.any(axis=0)] == raw[~never.any(axis=0)])
    before, after = bench.auroc(raw.astype(float), flipped), bench.auroc(scored, flipped)
    assert before < 0.75 < 0.9 < after                # measured: 0.59 -> 0.97 (K=2, E=15)
    assert np.array_equal(example_scores(store)["forgetting_events"], scored)


def test_aum_threshold_samples_find_flipped_labels(tmp_path, flipped_run):
    x, noisy, flipped, _ = flipped_run
    mask = threshold_samples(len(noisy), 10, part=0, seed=0)
    other = threshold_samples(len(noisy), 10, part=1, seed=0)
    assert mask.sum() == len(noisy) // 11 and not (mask & other).any()
    store = bench.train(tmp_path / "t", x, np.where(mask, 10, noisy), 11, networks=2, epochs=8)
    table = flag_label_issues(store, threshold_mask=mask[store.example_ids("train")])
    assert not table.loc[table["threshold_sample"], "flagged"].any()
    assessed = ~mask[store.example_ids("train")]
    truth = flipped[store.example_ids("train")][assessed]
    precision, recall, _ = bench.precision_recall(table["flagged"].to_numpy()[assessed], truth)
    assert precision > 0.5 and recall > 0.8, (precision, recall)
    with pytest.raises(ValueError, match="fake class 10"):
        flag_label_issues(store, threshold_mask=np.roll(mask[store.example_ids("train")], 1))


def test_a_store_without_probabilities_says_the_data_map_is_missing(tmp_path):
    ids, targets = np.arange(6), np.array([0, 1, 0, 1, 0, 1])
    recorder = Recorder(tmp_path / "s", splits={"train": (ids, targets)}, num_networks=1,
                        num_epochs=1, num_classes=2, keep="margin")
    recorder.update(0, "train", 1, ids, logits=np.eye(2, dtype=np.float32)[targets])
    recorder.finish_epoch(0, "train", 1)
    with pytest.warns(MissingScoreWarning, match=r"with_true_prob=True\) or keep='probs'"):
        assert "confidence" not in data_map(recorder.store)
    with pytest.warns(MissingScoreWarning, match="no confidence, variability, el2n"):
        table = example_scores(recorder.store)
    assert set(table.attrs["missing"]) == {"confidence", "variability", "el2n"}
    assert "aum" in table
