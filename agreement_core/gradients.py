"""Per-example scores that need gradients, not only predictions: GraNd and VoG.

The record store keeps what a forward pass gives (predictions, margins, probabilities); these
two scores need a backward pass per example, so they are computed here from the models
themselves, keyed by the same example ids, to sit beside :func:`agreement_core.scores.
example_scores`:

- **GraNd** (Paul et al., 2021): the expected norm of the loss gradient with respect to the
  parameters, over random initialisations, at initialisation (or early in training):
  :func:`grand`.
- **VoG**, the variance of gradients (Agarwal et al., 2022): the variance, over training
  checkpoints, of the gradient of the true-class logit with respect to the input, averaged
  over the input's elements: :func:`variance_of_gradients`.

Both use ``torch.func`` (``vmap`` over the examples of a batch); the models are put in eval
mode, so that batch normalisation uses its running statistics and each example's gradient
is its own.

References
----------
.. [1] Paul, M., Ganguli, S., Dziugaite, G. K. "Deep Learning on a Data Diet: Finding
   Important Examples Early in Training." NeurIPS 2021.
.. [2] Agarwal, C., D'souza, D., Hooker, S. "Estimating Example Difficulty using Variance of
   Gradients." CVPR 2022.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import torch
from torch import nn


def _batches(loader: Iterable, device) -> Iterable[tuple[torch.Tensor, torch.Tensor, np.ndarray]]:
    for batch in loader:
        if len(batch) < 3:
            raise ValueError("batches must be (inputs, targets, example_ids)")
        x, y, ids = batch[0], batch[1], batch[-1]
        ids = ids.cpu().numpy() if isinstance(ids, torch.Tensor) else np.asarray(ids)
        yield x.to(device), torch.as_tensor(y).to(device), ids


def _collect(ids_seen: list[np.ndarray], values: list[np.ndarray]) -> tuple[np.ndarray,
                                                                             np.ndarray]:
    ids = np.concatenate(ids_seen)
    order = np.argsort(ids, kind="stable")
    ids = ids[order]
    if np.any(ids[1:] == ids[:-1]):
        raise ValueError("the loader repeats example ids: give every example once")
    return ids, np.concatenate(values)[order]


def grand(make_model: Callable[[int], nn.Module], loader: Iterable, *,
          num_models: int = 10, device: str | torch.device = "cpu"
          ) -> tuple[np.ndarray, np.ndarray]:
    r"""GraNd score of every example: the mean over ``num_models`` initialisations of the
    L2 norm of the cross-entropy gradient with respect to all parameters,

    .. math::

        \mathrm{GraNd}(x, y) = \frac{1}{M} \sum_{m=1}^{M}
            \big\lVert \nabla_{w} \ell(f_{w_m}(x), y) \big\rVert_2 .

    Parameters
    ----------
    make_model : callable
        ``make_model(m)`` returns the m-th model (a fresh initialisation, seeded by ``m``,
        or a checkpoint early in training).
    loader : iterable of (inputs, targets, example_ids)
        Every example once (a ``DataLoader`` over a wrapped dataset, without shuffling or
        with: the result is keyed by id).
    num_models : int
        M; Paul et al. use 10.
    device : str or torch.device

    Returns
    -------
    example_ids : (N,) ndarray, sorted
    scores : (N,) float64 ndarray
    """
    from torch.func import functional_call, grad, vmap

    total, ids_out = None, None
    for m in range(num_models):
        model = make_model(m).to(device).eval()
        params = {k: v.detach() for k, v in model.named_parameters()}
        buffers = {k: v.detach() for k, v in model.named_buffers()}

        def loss(p, x, y, model=model, buffers=buffers):
            out = functional_call(model, (p, buffers), (x[None],))
            return nn.functional.cross_entropy(out, y[None])

        per_example = vmap(grad(loss), in_dims=(None, 0, 0))
        ids_seen, norms = [], []
        for x, y, ids in _batches(loader, device):
            grads = per_example(params, x, y)
            squared = sum(g.reshape(len(x), -1).double().pow(2).sum(1) for g in grads.values())
            norms.append(squared.sqrt().detach().cpu().numpy())
            ids_seen.append(ids)
        ids_m, norms_m = _collect(ids_seen, norms)
        if ids_out is not None and not np.array_equal(ids_out, ids_m):
            raise ValueError("the loader gave other examples for another model")
        ids_out = ids_m
        total = norms_m if total is None else total + norms_m
    return ids_out, total / num_models


def variance_of_gradients(checkpoints: Iterable[nn.Module], loader: Iterable, *,
                          device: str | torch.device = "cpu"
                          ) -> tuple[np.ndarray, np.ndarray]:
    r"""VoG of every example (Agarwal et al., 2022): for each checkpoint t the gradient
    :math:`S_t = \partial f_{t, y}(x) / \partial x` of the true-class logit with respect to
    the input; the variance over the T checkpoints of each input element, averaged over the
    elements,

    .. math::

        \mathrm{VoG}(x) = \frac{1}{D} \sum_{d=1}^{D} \frac{1}{T} \sum_{t=1}^{T}
            \big(S_{t,d} - \bar S_d\big)^2 .

    (Agarwal et al. then normalise the scores within each class; do that on the result
    if you compare across classes.)

    Parameters
    ----------
    checkpoints : iterable of torch.nn.Module
        The model at T >= 2 points of training (e.g. loaded from the checkpoints you save
        beside the recorder's epochs).
    loader : iterable of (inputs, targets, example_ids)
        Every example once, in the same order for every checkpoint.
    device : str or torch.device

    Returns
    -------
    example_ids : (N,) ndarray, sorted
    scores : (N,) float64 ndarray

    Notes
    -----
    Welford's running mean and sum of squares over the checkpoints: memory is twice the
    inputs' size in float64, whatever T.
    """
    from torch.func import grad, vmap

    count, mean, m2, ids_out = 0, None, None, None
    for model in checkpoints:
        model = model.to(device).eval()

        def true_logit(x, y, model=model):
            # gather, not [0, y]: indexing by a vmapped tensor is data-dependent control flow
            return model(x[None])[0].gather(0, y.reshape(1)).sum()

        per_example = vmap(grad(true_logit), in_dims=(0, 0))
        ids_seen, grads = [], []
        for x, y, ids in _batches(loader, device):
            grads.append(per_example(x.float(), y).detach().reshape(len(x), -1).double().cpu()
                         .numpy())
            ids_seen.append(ids)
        ids_t, g = _collect(ids_seen, grads)
        if ids_out is not None and not np.array_equal(ids_out, ids_t):
            raise ValueError("the loader gave other examples for another checkpoint")
        ids_out = ids_t
        count += 1
        if mean is None:
            mean, m2 = g.copy(), np.zeros_like(g)
        else:
            delta = g - mean
            mean += delta / count
            m2 += delta * (g - mean)
    if count < 2:
        raise ValueError(f"VoG needs at least two checkpoints, got {count}")
    return ids_out, (m2 / count).mean(axis=1)


__all__ = ["grand", "variance_of_gradients"]
