"""GraNd and VoG equal a direct per-example loop (one backward pass per example)."""

import numpy as np
import pytest
import torch
from torch import nn

from agreement_core.gradients import grand, variance_of_gradients


def _data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(20, 6, generator=g)
    y = torch.randint(0, 3, (20,), generator=g)
    ids = torch.arange(100, 120).flip(0)               # unsorted ids: results are by id
    return x, y, ids


def _model(seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, 3))


def _loader(x, y, ids):
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y, ids),
                                       batch_size=7, shuffle=True)


def test_grand_is_the_mean_gradient_norm_over_initialisations():
    x, y, ids = _data()
    got_ids, scores = grand(_model, _loader(x, y, ids), num_models=3)
    assert got_ids.tolist() == sorted(ids.tolist())
    expected = np.zeros(20)
    for m in range(3):
        model = _model(m).eval()
        for i in range(20):
            model.zero_grad()
            nn.functional.cross_entropy(model(x[i:i + 1]), y[i:i + 1]).backward()
            expected[i] += torch.sqrt(sum((p.grad.double() ** 2).sum()
                                          for p in model.parameters())).item() / 3
    by_id = dict(zip(ids.tolist(), expected, strict=True))
    np.testing.assert_allclose(scores, [by_id[i] for i in got_ids], rtol=1e-5)


def test_vog_is_the_variance_of_input_gradients_over_checkpoints():
    x, y, ids = _data()
    checkpoints = [_model(s) for s in (0, 1, 2, 3)]
    got_ids, scores = variance_of_gradients(checkpoints, _loader(x, y, ids))
    per_checkpoint = []
    for model in checkpoints:
        model.eval()
        xi = x.clone().requires_grad_(True)
        model(xi)[torch.arange(20), y].sum().backward()   # rows independent in eval mode
        per_checkpoint.append(xi.grad.numpy().astype(np.float64))
    expected = np.var(np.stack(per_checkpoint), axis=0).mean(axis=1)
    by_id = dict(zip(ids.tolist(), expected, strict=True))
    np.testing.assert_allclose(scores, [by_id[i] for i in got_ids], rtol=1e-5, atol=1e-12)
    assert scores.std() > 0
    with pytest.raises(ValueError, match="at least two checkpoints"):
        variance_of_gradients(checkpoints[:1], _loader(x, y, ids))
