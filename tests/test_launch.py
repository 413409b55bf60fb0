"""Grids of studies, one job per (configuration, network), through each launcher."""

import json
from pathlib import Path

import numpy as np
import pytest
from submitit.helpers import DelayedSubmission

from agreement_core.cli import main
from agreement_core.errors import ConfigError
from agreement_core.records import RecordStore
from agreement_core.study import runs, train_study
from agreement_core.study.launch import GridJob, LaunchError, expand_grid, run_grid
from agreement_core.training import TrainConfig

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


# ------------------------------------------------------------------ failures and requeues
FAILING = {"base": BASE, "studies": {"good": {}, "bad": {"dataset": "nope"}}}


def test_every_job_is_waited_on_and_reported_then_the_failures_raise(tmp_path, locations,
                                                                     capsys):
    with pytest.raises(LaunchError) as raised:
        run_grid(expand_grid(FAILING), tmp_path / "grid", locations=locations)
    assert str(raised.value).startswith("2 of 4 grid jobs did not finish: bad network 0 "
                                        "(failed), bad network 1 (failed)")
    assert "\n" not in str(raised.value)
    out = capsys.readouterr().out
    assert "grid: 4 jobs: 2 finished, 2 failed" in out
    for k in range(2):
        assert f"  finished    good network {k}\n" in out
        assert f"  failed      bad network {k}: ConfigError: unknown dataset 'nope'" in out
    good = RecordStore.open(tmp_path / "grid" / "good")
    assert all(good.completed_epochs(k) == 1 for k in range(2))


def test_submitit_jobs_report_their_errors_and_the_command_exits_non_zero(
        tmp_path, data_root, mirror, capsys):
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps(FAILING))
    args = ["train", "--grid", str(grid), "--out", str(tmp_path / "out"),
            "--launcher", "submitit-local", "--data-root", str(data_root), "--mirror",
            str(mirror)]
    assert main(args) == 2
    captured = capsys.readouterr()
    assert "grid: 4 jobs: 2 finished, 2 failed" in captured.out
    assert "  finished    good network 1\n" in captured.out
    assert "  failed      bad network 0: ConfigError: unknown dataset 'nope'" in captured.out
    assert captured.err.startswith("error: 2 of 4 grid jobs did not finish: bad network 0 "
                                   "(failed), bad network 1 (failed)")
    assert f"logs under {tmp_path / 'out' / 'submitit'}" in captured.err


def test_a_job_stopped_at_its_time_limit_is_requeued_and_resumes(tmp_path, locations,
                                                                 monkeypatch):
    config = TrainConfig(**{**BASE, "epochs": 3})
    job = GridJob("study", config, str(tmp_path / "grid" / "study"), 1, locations)
    saved = tmp_path / "requeued.pkl"

    # Slurm's time-limit signal, as submitit handles it, arrives after the first epoch:
    # checkpoint() gives the submission to requeue, then the process exits.
    def recorder(store):
        record = real_recorder(store)

        def record_then_time_out(k, epoch, *args):
            record(k, epoch, *args)
            if epoch == 1:
                job.checkpoint().dump(saved)
                raise SystemExit(-1)
        return record_then_time_out

    real_recorder = runs.store_recorder
    monkeypatch.setattr(runs, "store_recorder", recorder)
    with pytest.raises(SystemExit):
        DelayedSubmission(job).result()
    monkeypatch.undo()
    store = RecordStore.open(job.out)
    assert store.completed_epochs(1) == 1 and not list(Path(job.out).glob(".*.lock"))

    requeued = DelayedSubmission.load(saved)  # what the requeued Slurm job runs
    assert isinstance(requeued.function, GridJob) and requeued.function.requeues == 1
    outcome = requeued.result()
    assert (outcome.status, outcome.requeues) == ("finished", 1)
    assert outcome.line() == "finished    study network 1 (requeued 1x)"
    plain = train_study(config, tmp_path / "plain", locations=locations, networks=[1],
                        progress=False)
    for split in ("train", "test"):
        for epoch in (1, 2, 3):
            assert np.array_equal(store.read_predictions(1, split, epoch),
                                  plain.read_predictions(1, split, epoch))


def test_a_job_whose_network_another_process_trains_is_reported_unfinished(tmp_path,
                                                                            locations, capsys):
    configs = expand_grid({"base": BASE, "studies": {"a": {}}})
    with runs.network_lock(tmp_path / "grid" / "a", 1):  # as another job would hold it
        with pytest.raises(LaunchError, match=r"^1 of 2 grid jobs did not finish: "
                                              r"a network 1 \(unfinished\)"):
            run_grid(configs, tmp_path / "grid", locations=locations)
    out = capsys.readouterr().out
    assert "net 1: skipped for now, pid" in out
    assert "  unfinished  a network 1: another process is training it; rerun once that has " \
           "ended\n" in out
