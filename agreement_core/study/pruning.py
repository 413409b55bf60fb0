"""Data pruning by a difficulty score: keep a fraction of the training set, retrain, compare.

The experiment data-centric work runs first with a new score: order the training examples
from easy to hard by the score, keep the easiest, the hardest or a random fraction, train K
fresh networks on what is kept, and compare their test accuracy with training on a random
subset of the same size (Paul et al., 2021; Toneva et al., 2019). The scores come from a
record store (:func:`agreement_core.scores.example_scores`); the retraining is the plain loop
of :mod:`agreement_core.study.own_loop`, so every run is a resumable record store of its own.

Easy first means: agreed on early (the agreed-from epoch; never agreed is hardest), a large
margin (AUM), a small EL2N, few forgetting events.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .._io import write_table
from ..correlation import rank_agreed_from
from ..data import ImageDataset, wrap_dataset
from ..errors import ConfigError
from ..records import RecordStore
from .own_loop import train_with_recorder

#: Score column -> +1 when a higher value is harder, -1 when a higher value is easier.
HARDER_WHEN = {"agreed_from_epoch": 1, "aum": -1, "el2n": 1, "forgetting_events": 1}
RULES = ("easiest", "hardest", "random")


def difficulty_order(scores: pd.DataFrame, score: str, num_epochs: int,
                     seed: int = 0) -> np.ndarray:
    """Example ids from easiest to hardest by ``score`` (ties in a random order from
    ``seed``, so a coarse score such as the agreed-from epoch does not fall back on id
    order)."""
    if score not in HARDER_WHEN:
        raise ConfigError(f"unknown pruning score {score!r}; known: {', '.join(HARDER_WHEN)}")
    if score not in scores:
        raise ConfigError(f"the score table has no {score!r} column (a store that keeps "
                          "margins gives 'aum', one that keeps scores or probabilities 'el2n')")
    values = scores[score]
    key = (rank_agreed_from(values, num_epochs) if score == "agreed_from_epoch"
           else values.to_numpy(np.float64)) * HARDER_WHEN[score]
    tie = np.random.default_rng(seed).random(len(key))
    return scores["example_id"].to_numpy()[np.lexsort((tie, key))]


def kept_ids(order: np.ndarray, fraction: float, rule: str, seed: int = 0) -> np.ndarray:
    """The ids kept of ``order`` (easiest first): the easiest or hardest ``fraction``, or a
    random one (from ``seed``), sorted."""
    if not 0 < fraction <= 1:
        raise ConfigError(f"fraction must be in (0, 1], got {fraction}")
    if rule not in RULES:
        raise ConfigError(f"unknown rule {rule!r}; known: {', '.join(RULES)}")
    count = int(round(fraction * len(order)))
    if rule == "easiest":
        chosen = order[:count]
    elif rule == "hardest":
        chosen = order[len(order) - count:]
    else:
        chosen = np.random.default_rng(seed).choice(order, count, replace=False)
    return np.sort(chosen)


def subset_of(data: ImageDataset, ids: np.ndarray) -> ImageDataset:
    """The examples of ``data`` with the given ids, as a dataset of its own (same ids)."""
    rows = np.flatnonzero(np.isin(data.example_ids, ids))
    if len(rows) != len(ids):
        raise ConfigError(f"{len(ids) - len(rows)} of the ids are not in {data!r}")
    subset = torch.utils.data.Subset(data, rows.tolist())
    subset.targets = data.targets[rows]
    return wrap_dataset(subset, classes=data.classes, ids=data.example_ids[rows],
                        split=data.split, name=f"{len(rows)} kept examples")


def run_pruning(out: str | os.PathLike, scores: pd.DataFrame, train: ImageDataset,
                test: ImageDataset, *, num_epochs_scored: int,
                score_names: Iterable[str] = ("agreed_from_epoch", "aum", "el2n",
                                              "forgetting_events"),
                fractions: Iterable[float] = (0.5, 0.7, 0.9), num_networks: int = 3,
                seed: int = 0, progress: Callable | None = None, **train_options
                ) -> pd.DataFrame:
    """Train ``num_networks`` networks on each kept subset and collect their test accuracy.

    One resumable record store per run under ``out`` (``<score>-<rule>-<fraction>``; the
    random subsets, the same whatever the score, under ``random-<fraction>``), and a table
    ``out/results.csv`` written as runs finish.

    Parameters
    ----------
    scores : pandas.DataFrame
        One row per training example (:func:`agreement_core.scores.example_scores`).
    train, test : ImageDataset
        The training set the scores are of, and the test set.
    num_epochs_scored : int
        Epochs of the run the scores come from (ranks "never agreed" last).
    train_options
        Passed to :func:`~agreement_core.study.own_loop.train_with_recorder` (``arch``,
        ``epochs``, ``batch_size``, ``lr``, ...).

    Returns
    -------
    pandas.DataFrame
        One row per run and network: ``score``, ``rule``, ``fraction``, ``kept``,
        ``network``, ``test_accuracy`` (at the last epoch).
    """
    out = Path(out)
    runs = []
    for fraction in fractions:
        for score in score_names:
            order = difficulty_order(scores, score, num_epochs_scored, seed)
            for rule in ("easiest", "hardest"):
                runs.append((score, rule, fraction, kept_ids(order, fraction, rule)))
        order = scores["example_id"].to_numpy()
        runs.append(("random", "random", fraction, kept_ids(order, fraction, "random", seed)))
    rows = []
    for score, rule, fraction, ids in runs:
        name = (f"random-{fraction:g}" if rule == "random"
                else f"{score}-{rule}-{fraction:g}")
        store = train_with_recorder(out / name, subset_of(train, ids), test,
                                    num_networks=num_networks, seed=seed, keep="none",
                                    **train_options)
        rows += _accuracies(store, score, rule, fraction, len(ids))
        write_table(pd.DataFrame(rows), out / "results.csv")
        if progress is not None:
            accuracy = np.mean([r["test_accuracy"] for r in rows[-num_networks:]])
            progress(f"{name}: mean test accuracy {accuracy:.3f}")
    return pd.DataFrame(rows)


def _accuracies(store: RecordStore, score: str, rule: str, fraction: float,
                kept: int) -> list[dict]:
    accuracy = store.last_correct("test").mean(axis=1)
    return [{"score": score, "rule": rule, "fraction": fraction, "kept": kept, "network": k,
             "test_accuracy": float(accuracy[k])} for k in range(store.num_networks)]


def pruning_complete(workspace) -> bool:
    """Whether the profile's pruning experiment has every run's results."""
    settings = workspace.profile.pruning
    path = workspace.pruning_dir / "results.csv"
    if not settings or not path.is_file():
        return False
    runs = len(settings["fractions"]) * (2 * len(settings["score_names"]) + 1)
    return len(pd.read_csv(path)) == runs * settings["num_networks"]


def run_profile_pruning(workspace, *, progress: bool = True) -> pd.DataFrame:
    """The pruning experiment of a profile: scores from its own-loop run (agreed-from epoch,
    AUM, EL2N, forgetting; :func:`agreement_core.scores.example_scores`), the same data and
    training settings, the profile's ``pruning`` settings; results under
    ``<results>/<profile>/pruning`` (resumable)."""
    from ..scores import example_scores
    from .own_loop import own_loop_datasets, progress_printer

    store = RecordStore.open(workspace.own_loop_dir)
    scores = example_scores(store, "train")
    data = own_loop_datasets(workspace)
    training = {k: v for k, v in workspace.profile.own_loop.items()
                if k in ("arch", "epochs", "batch_size", "lr", "image_size")}
    return run_pruning(workspace.pruning_dir, scores, data["train"], data["test"],
                       num_epochs_scored=store.num_epochs,
                       progress=progress_printer(progress, "pruning"),
                       **{**training, **workspace.profile.pruning})


__all__ = ["HARDER_WHEN", "RULES", "difficulty_order", "kept_ids", "pruning_complete",
           "run_profile_pruning",
           "run_pruning", "subset_of"]
