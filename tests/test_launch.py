"""Grids of studies, one job per (configuration, network), through each launcher."""

import json

import numpy as np
import pytest

from agreement_core.cli import main
from agreement_core.errors import ConfigError
from agreement_core.records import RecordStore
from agreement_core.study import train_study
from agreement_core.study.launch import expand_grid, run_grid

BASE = dict(dataset="cifar10", arch="fastnet_small", num_networks=2, epochs=1,
            train_subset=10, test_subset=5, batch_size=50)


def test_expand_grid_names_and_errors():
    configs = expand_grid({"base": BASE, "grid": {"batch_size": [25, 50], "lr": [0.1]},
                           "studies": {"lenet": {"arch": "lenet5_bn"}}})
    assert sorted(configs) == ["batch_size=25,lr=0.1", "batch_size=50,lr=0.1", "lenet"]
    assert configs["lenet"].arch == "lenet5_bn" and configs["lenet"].epochs == 1
    with pytest.raises(ConfigError, match="unknown keys"):
        expand_grid({"bse": {}})
    with pytest.raises(ConfigError, match="study 'x'.*unexpected keyword"):
        expand_grid({"studies": {"x": {"epocs": 3}}})


def records(store):
    return [store.read_predictions(k, s, 1) for k in range(2) for s in ("train", "test")]


def test_submitit_local_executor_fills_one_store_per_study(tmp_path, locations):
    configs = expand_grid({"base": BASE, "grid": {"batch_size": [25, 50]}})
    stores = run_grid(configs, tmp_path / "grid", launcher="submitit-local",
                      locations=locations)
    for name, store in stores.items():
        assert all(store.completed_epochs(k) == 1 for k in range(2))
        plain = train_study(configs[name], tmp_path / f"plain-{name}",
                            locations=locations, progress=False)
        assert all(np.array_equal(a, b) for a, b in zip(records(store), records(plain),
                                                         strict=True))


def test_grid_from_the_command_line_with_parallel_local_jobs(tmp_path, data_root, mirror,
                                                             capsys):
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps({"base": BASE, "studies": {"a": {}, "b": {"seed": 5}}}))
    args = ["train", "--grid", str(grid), "--out", str(tmp_path / "out"), "--parallel", "2",
            "--data-root", str(data_root), "--mirror", str(mirror)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "== a" in out and "== b" in out and "tpa" in out
    b = RecordStore.open(tmp_path / "out" / "b")
    assert b.seeds == [5, 6] and all(b.completed_epochs(k) == 1 for k in range(2))
