"""Curriculum learning from learning-order scores: easy first, with exponential pacing.

The next step the paper proposes: order the training examples by how early the
networks of an earlier study agreed on them (the per-example
``agreed_from_epoch`` of :func:`agreement_core.agreement.example_dynamics_table`)
or by an image statistic, and feed them easiest first with the fixed
exponential pacing function of Hacohen & Weinshall ("On the power of
curriculum learning in training deep networks", ICML 2019).

Modes (:data:`MODES`), all with the same optimization budget as ordinary
training, ``config.epochs * ceil(N / batch_size)`` steps:

- ``"curriculum"``: easy first (ascending score), paced;
- ``"anti"``: hard first (descending score), paced;
- ``"random"``: a random order with the same pacing (the paper's random-curriculum
  control: it separates the effect of the order from that of the pacing);
- ``"standard"``: ordinary shuffled epochs without pacing (the usual baseline).

At step ``s`` a paced mode samples its mini-batch uniformly at random, without
replacement, from the first ``available_examples(s, ...)`` examples of its
order. Network k of every mode starts from the same initial weights as network k of the
study trainer (:func:`~agreement_core.training.config.network_seed`); its batches, ties and
crops come from a generator seeded by :func:`~agreement_core.training.config.data_seed`
with the mode as the stream, and every step is
:func:`~agreement_core.training.step.train_step`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from .._io import atomic_path, write_json
from ..data.labels import is_correct
from ..errors import ConfigError
from ..locations import Locations
from .config import TrainConfig, data_seed, network_seed
from .inputs import (
    channel_stats,
    load_dataset,
    random_crop,
    resolve_device,
    split_tensors,
    to_float,
    training_targets,
)
from .schedules import learning_rate
from .step import precision_autocast, predict, train_step
from .trainer import OneNetwork, TrainingData, build_network

MODES = ("curriculum", "anti", "random", "standard")
PACED_MODES = ("curriculum", "anti", "random")

#: Pacing defaults (Hacohen & Weinshall's fixed exponential pacing: start with 10% of the data,
#: double it every ``step_length`` steps). When ``step_length`` is left out,
#: :func:`resolve_pacing` chooses it so that the whole set is available after ``full_at`` of
#: the budget.
DEFAULT_PACING = dict(starting_fraction=0.1, increase=2.0)
DEFAULT_FULL_AT = 0.5

CURVE_COLUMNS = ("mode", "network", "step", "total_steps", "epoch", "lr", "available",
                 "available_fraction", "train_loss", "test_accuracy", "train_accuracy",
                 "available_accuracy")


# ------------------------------------------------------------------ pacing
def exponential_pacing(step: int, num_examples: int, *, starting_fraction: float = 0.1,
                       increase: float = 2.0, step_length: int = 50) -> int:
    """Number of easiest examples available at optimization ``step`` (0-based).

    Fixed exponential pacing (Hacohen & Weinshall 2019):
    ``ceil(min(1, starting_fraction * increase ** (step // step_length)) * num_examples)``,
    and at least 1. (:func:`available_examples` further keeps at least one batch.)

    Raises
    ------
    ValueError
        Unless ``0 < starting_fraction <= 1``, ``increase >= 1``, ``step_length >= 1``,
        ``step >= 0`` and ``num_examples >= 1``.
    """
    if not 0 < starting_fraction <= 1:
        raise ValueError(f"starting_fraction must be in (0, 1], got {starting_fraction}")
    if not increase >= 1:
        raise ValueError(f"increase must be at least 1, got {increase}")
    if int(step_length) != step_length or step_length < 1:
        raise ValueError(f"step_length must be a positive integer, got {step_length}")
    if step < 0:
        raise ValueError(f"step must be non-negative, got {step}")
    if num_examples < 1:
        raise ValueError(f"num_examples must be at least 1, got {num_examples}")
    stage = int(step) // int(step_length)
    # log-space comparison: no overflow of increase ** stage for long runs
    if increase > 1 and stage * math.log(increase) >= -math.log(starting_fraction):
        return int(num_examples)
    fraction = min(1.0, starting_fraction * increase ** stage)
    # 1e-9 absorbs float error (0.1 * 2 ** 1 * 1000 = 200.00000000000003)
    return int(min(num_examples, max(1, math.ceil(fraction * num_examples - 1e-9))))


def resolve_pacing(pacing: Mapping | None, total_steps: int,
                   full_at: float = DEFAULT_FULL_AT) -> dict:
    """Complete a pacing dict: defaults, and ``step_length`` from the budget if missing.

    Without ``step_length``, it is the largest length at which the whole set is
    available from ``full_at`` (default one half) of ``total_steps`` on, at
    least 1. Unknown keys raise ``ConfigError``.
    """
    resolved = {**DEFAULT_PACING, **dict(pacing or {})}
    unknown = set(resolved) - {"starting_fraction", "increase", "step_length"}
    if unknown:
        raise ConfigError(f"unknown pacing parameters {sorted(unknown)}")
    if resolved.get("step_length") is None:
        start, increase = resolved["starting_fraction"], resolved["increase"]
        if increase <= 1 or start >= 1:
            stages = 1
        else:
            stages = max(1, math.ceil(math.log(1 / start) / math.log(increase) - 1e-9))
        resolved["step_length"] = max(1, int(full_at * total_steps) // stages)
    exponential_pacing(0, 1, **resolved)  # validate
    return resolved


def available_examples(step: int, num_examples: int, batch_size: int,
                       pacing: Mapping | None) -> int:
    """Size of the pool a paced mini-batch is drawn from at ``step``.

    ``exponential_pacing(step, num_examples, **pacing)``, but never less than one
    batch (``min(batch_size, num_examples)``), so that every step uses a full
    batch of distinct examples. ``pacing=None``: all examples.
    """
    if pacing is None:
        return num_examples
    return max(exponential_pacing(step, num_examples, **pacing), min(batch_size, num_examples))


def paced_batches(order, num_steps: int, batch_size: int, pacing: Mapping | None,
                  generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Yield ``num_steps`` mini-batches of row indices, paced along ``order``.

    Batch ``s`` is ``min(batch_size, pool)`` rows drawn uniformly at random without
    replacement from ``order[:pool]``, ``pool = available_examples(s, len(order),
    batch_size, pacing)``. ``pacing=None`` samples from all rows at every step.
    """
    order = torch.as_tensor(np.asarray(order), dtype=torch.long)
    n = len(order)
    for step in range(num_steps):
        pool = available_examples(step, n, batch_size, pacing)
        picks = torch.randperm(pool, generator=generator)[:batch_size]
        yield order[picks]


def shuffled_batches(num_examples: int, num_steps: int, batch_size: int,
                     generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Ordinary training: consecutive batches of a fresh random permutation every epoch."""
    step = 0
    while step < num_steps:
        order = torch.randperm(num_examples, generator=generator)
        for start in range(0, num_examples, batch_size):
            if step == num_steps:
                return
            yield order[start:start + batch_size]
            step += 1


# ------------------------------------------------------------------ orders and scores
def difficulty_order(scores, *, mode: str, seed: int = 0, labels=None) -> np.ndarray:
    """Row order of the training examples for ``mode``.

    ``"curriculum"``: ascending score (easy first); ``"anti"``: descending (hard
    first); ``"random"`` and ``"standard"``: a random permutation. Ties are broken
    at random; everything random comes from ``seed``. Scores may be ``inf`` (the
    hardest), not NaN.

    ``labels`` (single-label class per row) balances the classes along the order
    (:func:`balance_classes`): the first example of every class (in the order
    above), then the second of every class, and so on; within each round the
    order above is kept. Easy examples are often concentrated in a few
    classes, so an unbalanced curriculum starts on a skewed label distribution.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1:
        raise ValueError(f"scores must be one-dimensional, got shape {scores.shape}")
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; known: {', '.join(MODES)}")
    if np.isnan(scores).any():
        raise ValueError(f"scores contain {int(np.isnan(scores).sum())} NaN values")
    shuffle = np.random.default_rng(seed).permutation(len(scores))
    if mode in ("random", "standard"):
        order = shuffle
    else:
        keys = scores[shuffle] if mode == "curriculum" else -scores[shuffle]
        order = shuffle[np.argsort(keys, kind="stable")]
    return order if labels is None else balance_classes(order, labels)


def balance_classes(order: np.ndarray, labels) -> np.ndarray:
    """Interleave the classes along ``order``: round r holds the r-th example of every class."""
    labels = np.asarray(labels)
    if labels.shape != order.shape:
        raise ValueError(f"labels must be one class per row ({len(order)}), "
                         f"got shape {labels.shape}")
    ordered = labels[order]
    _, inverse = np.unique(ordered, return_inverse=True)
    within = np.empty(len(order), dtype=np.int64)  # rank of each row within its class
    for cls in range(inverse.max() + 1 if len(order) else 0):
        rows = np.flatnonzero(inverse == cls)
        within[rows] = np.arange(len(rows))
    return order[np.lexsort((np.arange(len(order)), within))]


def agreement_scores(dynamics: pd.DataFrame, example_ids, *, num_epochs: int | None = None
                     ) -> np.ndarray:
    """Difficulty scores from the agreed-from epoch, aligned to ``example_ids``.

    ``dynamics`` is an :func:`~agreement_core.agreement.example_dynamics_table`
    (``example_id``, ``agreed_from_epoch``: 1-based, missing = never agreed). Never
    agreed counts as the hardest: ``num_epochs + 1`` when given, else ``inf``.

    Raises
    ------
    KeyError
        If an example id is missing from ``dynamics``.
    ValueError
        Duplicate ids, or an epoch below 1 (e.g. the old ``-1`` encoding of "never").
    """
    agreed = dynamics.set_index("example_id")["agreed_from_epoch"]
    if not agreed.index.is_unique:
        raise ValueError("dynamics has duplicate example ids")
    ids = np.asarray(example_ids)
    missing = ~np.isin(ids, agreed.index.to_numpy())
    if missing.any():
        raise KeyError(f"{int(missing.sum())} example ids are not in the dynamics table, "
                       f"e.g. {ids[missing][:5].tolist()}")
    values = agreed.reindex(ids).astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
    if (values < 1).any():
        raise ValueError("agreed_from_epoch must be a 1-based epoch or missing (never agreed); "
                         f"got {values[values < 1][0]:g}")
    never = np.inf if num_epochs is None else float(num_epochs + 1)
    return np.where(np.isnan(values), never, values)


def _align_scores(scores, example_ids: np.ndarray, mode: str) -> np.ndarray:
    """Scores in the training split's row order (a Series is aligned by example id)."""
    n = len(example_ids)
    if scores is None:
        if mode in ("curriculum", "anti"):
            raise ConfigError(f"mode {mode!r} needs difficulty scores")
        return np.zeros(n)
    if isinstance(scores, pd.Series):
        missing = ~np.isin(example_ids, scores.index.to_numpy())
        if missing.any():
            raise KeyError(f"{int(missing.sum())} training example ids have no score")
        scores = scores.reindex(example_ids).to_numpy()
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != (n,):
        raise ConfigError(f"scores must have one value per training example ({n}), "
                          f"got shape {scores.shape}")
    return scores


# ------------------------------------------------------------------ training
def _settings(config: TrainConfig, mode: str, pacing, eval_every: int, scores: np.ndarray,
              order_seeds: Sequence[int], balance: bool) -> dict:
    digest = None  # random and standard orders do not depend on the scores
    if mode in ("curriculum", "anti"):
        digest = hashlib.sha1(np.ascontiguousarray(scores, dtype=np.float64).tobytes()
                              ).hexdigest()
    return {"mode": mode, "config": config.to_dict(), "pacing": pacing,
            "eval_every": eval_every, "scores_sha1": digest, "order_seeds": list(order_seeds),
            "balance": balance}


def _check_settings(path: Path, settings: dict) -> None:
    """Refuse to resume into a folder written with other settings; write them otherwise."""
    normal = json.loads(json.dumps(settings, default=str))
    if path.exists():
        old = json.loads(path.read_text())
        differ = sorted(key for key in normal if old.get(key) != normal[key])
        if differ:
            raise ConfigError(f"{path.parent} holds curves made with other settings "
                              f"({', '.join(differ)}); use another output folder")
    else:
        write_json(path, normal)


def _train_curve(config: TrainConfig, k: int, mode: str, order: np.ndarray, data,
                 pacing, eval_every: int, device, progress: bool) -> pd.DataFrame:
    """Train network ``k`` in ``mode`` and return its learning curve."""
    x_train, y_train = data.train.images, data.train.targets
    x_test, y_test = data.test.images, data.test.targets
    n = len(x_train)
    mean, std = channel_stats(x_train)
    input_size = config.crop or x_train.shape[1]
    # The same initial weights as in the study trainer, in every mode.
    network = OneNetwork(config, build_network(config, k, data.num_classes, input_size),
                         mean, std, device)
    model, optimizer = network.net, network.optimizer
    steps_per_epoch = math.ceil(n / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    generator = torch.Generator().manual_seed(data_seed(config, k, mode))
    if mode == "standard":
        batches = shuffled_batches(n, total_steps, config.batch_size, generator)
    else:
        batches = paced_batches(order, total_steps, config.batch_size, pacing, generator)
    rank = torch.empty(n, dtype=torch.long)
    rank[torch.as_tensor(order, dtype=torch.long)] = torch.arange(n)
    rank = rank.to(device)

    rows, loss_sum, loss_count = [], 0.0, 0

    def evaluate(step: int) -> None:
        nonlocal loss_sum, loss_count
        pool = n if mode == "standard" else available_examples(step, n, config.batch_size,
                                                                 pacing)
        with precision_autocast(config, device) or contextlib.nullcontext():
            train_ok = is_correct(predict(model, x_train, mean, std, y_train,
                                          crop=config.crop)[0], y_train)
            test_ok = is_correct(predict(model, x_test, mean, std, y_test,
                                         crop=config.crop)[0], y_test)
        rows.append({"mode": mode, "network": k, "step": step, "total_steps": total_steps,
                     "epoch": step / steps_per_epoch,
                     "lr": learning_rate(config, min(step, total_steps - 1), total_steps),
                     "available": pool, "available_fraction": pool / n,
                     "train_loss": loss_sum / loss_count if loss_count else float("nan"),
                     "test_accuracy": test_ok.float().mean().item(),
                     "train_accuracy": train_ok.float().mean().item(),
                     "available_accuracy": train_ok[rank < pool].float().mean().item()})
        loss_sum, loss_count = 0.0, 0

    evaluate(0)
    bar = tqdm(total=total_steps, desc=f"{mode} net {k}", leave=False,
               disable=None if progress else True)
    for step, idx in enumerate(batches):
        model.train()
        idx = idx.to(device)
        batch = random_crop(x_train[idx], config.crop, generator)
        # The configuration's precision, as the study trainer runs it (it was float32
        # whatever the configuration said until this was passed).
        _, loss = train_step(model, optimizer, to_float(batch, mean, std), y_train[idx],
                             config=config, step=step, total_steps=total_steps,
                             autocast=precision_autocast(config, device))
        loss_sum, loss_count = loss_sum + loss.item(), loss_count + 1
        bar.update()
        done = step + 1
        if done % eval_every == 0 or done == total_steps:
            evaluate(done)
    bar.close()
    return pd.DataFrame(rows, columns=list(CURVE_COLUMNS))


def train_with_curriculum(config: TrainConfig, scores, *, mode: str, out: str | Path,
                          pacing: Mapping | None = None, eval_every: int | None = None,
                          balance: bool = False, locations: Locations | None = None,
                          device: str | None = None, networks=None, progress: bool = True
                          ) -> pd.DataFrame:
    """Train ``config.num_networks`` networks in ``mode`` and return their learning curves.

    Parameters
    ----------
    config
        The protocol (dataset, subsets, architecture, optimizer, schedule, epochs,
        batch size, seed). The budget is ``config.epochs * ceil(N / batch_size)``
        optimization steps in every mode; the learning rate follows
        ``config.schedule`` over those steps.
    scores
        Difficulty per training example, lower = easier: an array in the row
        order of the training split (``load_dataset(config, "train")``), or a
        ``pandas.Series`` indexed by example id. ``None`` is allowed for
        ``"random"`` and ``"standard"``. For a statistic where higher means
        easier, pass its negation.
    mode
        One of :data:`MODES`.
    out
        Folder; curves go to ``<out>/<mode>/net<k:03d>.parquet`` (atomically), the
        settings to ``<out>/<mode>/settings.json``. Existing curve files are
        reused (resume); a folder written with other settings raises ``ConfigError``.
    pacing
        Keyword arguments of :func:`exponential_pacing`, completed by
        :func:`resolve_pacing` (default: start at 10%, double, full set at half the
        budget). Ignored by ``"standard"``.
    balance
        Interleave the classes along every paced order (:func:`balance_classes`),
        so that every paced pool is class-balanced (single-label datasets).
    eval_every
        Evaluate every this many steps (default: once per epoch), at step 0 and
        at the last step.
    networks
        Indices of the networks to train (default all); the returned curves are
        those of these networks.

    Returns
    -------
    pandas.DataFrame
        One row per (network, evaluation): :data:`CURVE_COLUMNS`. ``step`` counts
        finished optimization steps; ``available`` is the paced pool at that
        step; accuracies are eval-mode (center crop) on the test split, the whole
        training split and the available part of it.
    """
    if mode not in MODES:
        raise ConfigError(f"unknown mode {mode!r}; known: {', '.join(MODES)}")
    networks = config.check_networks(networks)
    device = resolve_device(device)
    train_set = load_dataset(config, "train", locations)
    ids = np.asarray(train_set.example_ids)
    n = len(ids)
    scores = _align_scores(scores, ids, mode)
    steps_per_epoch = math.ceil(n / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    eval_every = steps_per_epoch if eval_every is None else int(eval_every)
    if eval_every < 1:
        raise ConfigError(f"eval_every must be at least 1, got {eval_every}")
    pacing = None if mode == "standard" else resolve_pacing(pacing, total_steps)
    labels = training_targets(config, train_set)
    balance_by = None
    if balance and mode != "standard":
        if train_set.multilabel:
            raise ConfigError("balance is defined for single-label datasets only")
        balance_by = labels
    order_seeds = [network_seed(config, k) for k in range(config.num_networks)]
    orders = {k: difficulty_order(scores, mode=mode, seed=order_seeds[k], labels=balance_by)
              for k in networks}

    folder = Path(out) / mode
    folder.mkdir(parents=True, exist_ok=True)
    _check_settings(folder / "settings.json",
                    _settings(config, mode, pacing, eval_every, scores, order_seeds,
                              balance and mode != "standard"))
    paths = {k: folder / f"net{k:03d}.parquet" for k in networks}
    todo = [k for k in networks if not paths[k].exists()]
    if todo:
        data = TrainingData(split_tensors(config, train_set, device, labels),
                            split_tensors(config, load_dataset(config, "test", locations), device),
                            train_set.num_classes)
        for k in todo:
            curve = _train_curve(config, k, mode, orders[k], data, pacing, eval_every, device,
                                 progress)
            with atomic_path(paths[k]) as tmp:
                curve.to_parquet(tmp, index=False)
            if progress:
                last = curve.iloc[-1]
                print(f"{mode:>10} net {k}: test {last.test_accuracy:6.1%}  "
                      f"train {last.train_accuracy:6.1%}")
    return pd.concat([pd.read_parquet(paths[k]) for k in networks], ignore_index=True)


def compare_curricula(config: TrainConfig, scores, out: str | Path, *,
                      modes: Sequence[str] = MODES, **kwargs) -> pd.DataFrame:
    """Run :func:`train_with_curriculum` for every mode (same networks, same budget).

    ``kwargs`` go to :func:`train_with_curriculum` (pacing, balance, eval_every,
    locations, device, networks, progress). Returns all curves, modes in order.
    """
    unknown = [mode for mode in modes if mode not in MODES]
    if unknown:
        raise ConfigError(f"unknown modes {unknown}; known: {', '.join(MODES)}")
    return pd.concat([train_with_curriculum(config, scores, mode=mode, out=out, **kwargs)
                      for mode in modes], ignore_index=True)


def summarize_curricula(curves: pd.DataFrame) -> pd.DataFrame:
    """Per mode: mean and standard deviation over networks of the final test accuracy
    and of the area under the test-accuracy curve.

    The area is the trapezoidal integral of test accuracy over the training
    fraction ``step / total_steps`` (from the evaluation at step 0 to the end),
    so it lies in [0, 1] and rewards learning early. Standard deviations are
    sample standard deviations (ddof 1; NaN for one network).
    """
    per_network = []
    for (mode, network), curve in curves.groupby(["mode", "network"], sort=False):
        curve = curve.sort_values("step")
        x = curve["step"].to_numpy(float) / curve["total_steps"].to_numpy(float)
        y = curve["test_accuracy"].to_numpy(float)
        auc = float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2)) if len(x) > 1 else y[0]
        per_network.append({"mode": mode, "network": network, "final_test": y[-1],
                            "auc_test": auc, "final_train": curve["train_accuracy"].iloc[-1]})
    table = pd.DataFrame(per_network)
    summary = table.groupby("mode", sort=False).agg(
        networks=("network", "size"),
        final_test_mean=("final_test", "mean"), final_test_std=("final_test", "std"),
        auc_test_mean=("auc_test", "mean"), auc_test_std=("auc_test", "std"),
        final_train_mean=("final_train", "mean"))
    return summary.reset_index()


def loss_peaks(curves: pd.DataFrame, num_classes: int) -> pd.DataFrame:
    """Per mode and network: how high the training loss rose, against a uniform guess.

    Every mode follows the same learning-rate schedule, but only ``"standard"`` meets the
    whole, varied training set at its highest rate; the paced modes first draw from a small
    pool (by default 10% of the set, at least one batch). A rate that trains the paced modes
    can make the unpaced loss climb over the first steps, and a run whose loss ends near the
    chance loss ``ln C`` never recovered. This table shows both from the curves alone.

    Parameters
    ----------
    curves
        Learning curves (:data:`CURVE_COLUMNS`), e.g. from :func:`compare_curricula`.
    num_classes
        ``C``, for the chance loss ``ln C`` (the cross-entropy of a uniform prediction).

    Returns
    -------
    pandas.DataFrame
        One row per (mode, network): ``first_loss`` (the first evaluation's window),
        ``peak_loss`` with its ``peak_step`` and ``peak_lr`` (the curve's ``lr`` there),
        ``final_loss``, and ``peak_over_chance`` and ``final_over_chance`` (those losses
        divided by ``ln C``). Losses are the curves' window means (``train_loss``);
        evaluations without one (step 0) are skipped.
    """
    chance = math.log(num_classes)
    rows = []
    for (mode, network), curve in curves.dropna(subset=["train_loss"]).groupby(
            ["mode", "network"], sort=False):
        curve = curve.sort_values("step")
        peak = curve.loc[curve["train_loss"].idxmax()]
        first, final = curve["train_loss"].iloc[0], curve["train_loss"].iloc[-1]
        rows.append({"mode": mode, "network": network, "first_loss": first,
                     "peak_loss": peak.train_loss, "peak_step": int(peak.step),
                     "peak_lr": peak.lr, "final_loss": final,
                     "peak_over_chance": peak.train_loss / chance,
                     "final_over_chance": final / chance})
    return pd.DataFrame(rows)
