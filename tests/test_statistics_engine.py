"""The statistics engine on real CIFAR-10 images and on the VOC / KTH fixtures."""

import numpy as np
import pandas as pd
import pytest

from agreement_core.cli import main
from agreement_core.data import CIFAR10, KTHTIPS2b, PascalVOC
from agreement_core.errors import ConfigError
from agreement_core.statistics import (
    KERNELS,
    compute_statistics,
    engine,
    read_statistics,
    soft_label_entropy,
)

FAST = ("entropy", "dct_share", "dct_largest", "sobel_edges", "segments")
REAL_COMPUTE_BATCH = engine.compute_batch


@pytest.fixture(scope="module")
def cifar_test(data_root, mirror):
    return CIFAR10("test", root=data_root, mirror=mirror, subset=4)  # 40 images


@pytest.fixture(scope="module")
def cifar_train(data_root, mirror):
    return CIFAR10("train", root=data_root, mirror=mirror, subset=4)


def test_table_matches_the_kernels_and_records_its_definition(cifar_test, tmp_path, mirror):
    out = tmp_path / "cifar-test.parquet"
    table = compute_statistics(cifar_test, out, FAST, batch_size=16, workers=2, mirror=mirror,
                               progress=False)
    assert list(table["example_id"]) == list(cifar_test.example_ids)
    images = cifar_test.load_array()
    for name in FAST:
        assert np.array_equal(table[name].to_numpy(), np.asarray(KERNELS[name](images)))
    # CIFAR-10 test: the CIFAR-10H soft-label entropy, matched by id.
    probs = np.load(mirror / "cifar10h-probs.npy")[cifar_test.example_ids]
    assert np.allclose(table["soft_label_entropy"], soft_label_entropy(probs))
    stored, meta = read_statistics(out)
    pd.testing.assert_frame_equal(stored, table)
    assert meta["spec"]["entropy"]["parameters"] == {"window": 10, "definition": "paper"}
    assert meta["spec"]["dct_share"]["parameters"] == {"threshold": 0.9998,
                                                       "definition": "paper"}
    assert meta["spec"]["dct_largest"]["parameters"] == {"definition": "paper"}
    assert meta["version"] and meta["source"] == "mirror-jpeg" and "JPEG" in meta["caveat"]
    assert not (tmp_path / "cifar-test.parquet.partial").exists()


def spy_batches(monkeypatch, fail_after=None):
    """Count compute_batch calls (and the statistics asked for); optionally fail midway."""
    calls = []

    def spy(dataset, rows, spec, device=None):
        if fail_after is not None and len(calls) == fail_after:
            raise RuntimeError("simulated crash")
        calls.append(sorted(spec))
        return REAL_COMPUTE_BATCH(dataset, rows, spec, device)

    monkeypatch.setattr(engine, "compute_batch", spy)
    return calls


def test_interrupted_run_keeps_finished_batches(cifar_train, tmp_path, monkeypatch):
    out = tmp_path / "t.parquet"
    calls = spy_batches(monkeypatch, fail_after=2)
    with pytest.raises(RuntimeError, match="simulated crash"):
        compute_statistics(cifar_train, out, ["entropy"], batch_size=10, workers=1,
                           progress=False)
    assert not out.exists()
    assert len(list((tmp_path / "t.parquet.partial").glob("batch*.parquet"))) == 2
    calls = spy_batches(monkeypatch)
    resumed = compute_statistics(cifar_train, out, ["entropy"], batch_size=10, workers=1,
                                 progress=False)
    assert len(calls) == 2  # 4 batches of 10: only the 2 unfinished ones ran
    fresh = compute_statistics(cifar_train, tmp_path / "fresh.parquet", ["entropy"],
                               workers=1, progress=False)
    pd.testing.assert_frame_equal(resumed, fresh)


def test_only_missing_statistics_are_computed(cifar_train, tmp_path, monkeypatch):
    out = tmp_path / "t.parquet"
    compute_statistics(cifar_train, out, ["entropy"], workers=1, progress=False)
    calls = spy_batches(monkeypatch)
    table = compute_statistics(cifar_train, out, ["entropy", "dct_share"], workers=1,
                               progress=False)
    assert calls == [["dct_share"]]
    assert table[["entropy", "dct_share"]].notna().all().all()
    calls.clear()
    compute_statistics(cifar_train, out, ["entropy", "dct_share"], workers=1, progress=False)
    assert calls == []  # everything present: nothing to compute
    # Another window is another statistic definition: recomputed, and stored as such.
    compute_statistics(cifar_train, out, ["entropy"], parameters={"entropy": {"window": 5}},
                       workers=1, progress=False)
    assert calls == [["entropy"]]
    assert read_statistics(out)[1]["spec"]["entropy"]["parameters"]["window"] == 5


def test_values_of_another_profiles_table_are_reused(cifar_train, cifar_test, data_root,
                                                     mirror, tmp_path, monkeypatch):
    """A statistic computed once (e.g. by the full profile) serves a table of a subset of
    the same images with the same definition; other definitions and splits are computed."""
    elsewhere = tmp_path / "full" / "t.parquet"
    computed = compute_statistics(cifar_train, elsewhere, ["entropy"], workers=1,
                                  progress=False)
    other_split = compute_statistics(cifar_test, tmp_path / "full" / "test.parquet",
                                     ["dct_share"], workers=1, progress=False)
    smaller = CIFAR10("train", root=data_root, mirror=mirror, subset=2)
    assert set(smaller.example_ids) < set(cifar_train.example_ids)
    calls = spy_batches(monkeypatch)
    table = compute_statistics(smaller, tmp_path / "default" / "t.parquet",
                               ["entropy", "dct_share"], workers=1, progress=False,
                               reuse=[elsewhere, tmp_path / "full" / "test.parquet",
                                      tmp_path / "absent.parquet"])
    assert calls == [["dct_share"]]  # entropy reused; the test split's dct_share is not
    # The ids overlap (both splits count from 0): only the split check kept them apart.
    assert set(smaller.example_ids) & set(other_split["example_id"])
    expected = computed.set_index("example_id").loc[smaller.example_ids, "entropy"]
    assert np.array_equal(table["entropy"].to_numpy(), expected.to_numpy())
    calls.clear()
    compute_statistics(smaller, tmp_path / "default" / "w5.parquet", ["entropy"],
                       parameters={"entropy": {"window": 5}}, workers=1, progress=False,
                       reuse=[elsewhere])
    assert calls == [["entropy"]]  # another window is another definition


def test_default_statistics_use_the_papers_definitions(cifar_train, tmp_path):
    """The book's tables: the paper's code's entropy and DCT, the 8-bit variants on request;
    a table computed under another definition (or before there was one) is recomputed."""
    assert {"entropy", "dct_share", "dct_largest"} <= set(engine.DEFAULT_STATISTICS)
    assert {"entropy", "dct_share", "dct_largest"} <= engine.GPU_STATISTICS
    assert {"entropy", "dct_share", "dct_largest"} <= engine.DOWNSAMPLED_STATISTICS
    images = cifar_train.load_array()
    out = tmp_path / "t.parquet"
    paper = compute_statistics(cifar_train, out, workers=1, progress=False)
    for name in ("entropy", "dct_share", "dct_largest"):
        assert np.array_equal(paper[name], KERNELS[name](images, definition="paper"))
    assert 6.0 < paper["entropy"].mean() < 7.0
    eight_bit = {name: {"definition": "8bit"} for name in ("entropy", "dct_share")}
    table = compute_statistics(cifar_train, out, ["entropy", "dct_share"],
                               parameters=eight_bit, workers=1, progress=False)
    for name in ("entropy", "dct_share"):
        assert np.array_equal(table[name], KERNELS[name](images, definition="8bit"))
    assert read_statistics(out)[1]["spec"]["entropy"]["parameters"]["definition"] == "8bit"
    with pytest.raises(ConfigError, match="unknown \\['gray'\\]"):
        compute_statistics(cifar_train, out, ["entropy"], parameters={"entropy": {"gray": 8}})


def test_images_of_different_sizes_and_dataset_factors(voc_root, kth_root, tmp_path):
    voc = PascalVOC("train", root=voc_root)
    table = compute_statistics(voc, tmp_path / "voc.parquet", FAST, workers=1, progress=False)
    assert len(table) == len(voc) and table[list(FAST)].notna().all().all()
    assert np.array_equal(table["instances"], voc.examples["instances"])
    assert np.allclose(table["bbox_area_share"], voc.examples["bbox_area_share"])
    kth = KTHTIPS2b("test", root=kth_root)
    table = compute_statistics(kth, tmp_path / "kth.parquet", ["entropy"], workers=1,
                               progress=False)
    assert {"illumination", "pose", "scale", "label"} <= set(table.columns)
    assert list(table["pose"]) == list(kth.examples["pose"])


def test_missing_cifar10h_is_a_warning_not_a_crash(data_root, tmp_path, monkeypatch):
    monkeypatch.delenv("AGREEMENT_MIRROR", raising=False)
    dataset = CIFAR10("test", root=data_root, subset=1)  # already extracted: no mirror needed
    with pytest.warns(UserWarning, match="CIFAR-10H soft labels not found"):
        table = compute_statistics(dataset, tmp_path / "t.parquet", ["entropy"], workers=1,
                                   progress=False)
    assert "soft_label_entropy" not in table.columns and table["entropy"].notna().all()


def test_soft_label_entropy_known_values():
    probs = np.array([[1.0, 0, 0, 0], [0.25] * 4, [0.5, 0.5, 0, 0]])
    assert np.allclose(soft_label_entropy(probs), [0.0, 2.0, 1.0])
    with pytest.raises(ValueError, match="sum to 1"):
        soft_label_entropy(np.array([[0.5, 0.2]]))


def test_bad_requests_are_clear_errors(cifar_train, tmp_path):
    with pytest.raises(ConfigError, match="unknown statistic.*'brightness'"):
        compute_statistics(cifar_train, tmp_path / "t.parquet", ["brightness"])
    with pytest.raises(ConfigError, match="unknown \\['windw'\\]"):
        compute_statistics(cifar_train, tmp_path / "t.parquet", ["entropy"],
                           parameters={"entropy": {"windw": 3}})


def test_stats_command_writes_one_table_per_split(data_root, mirror, tmp_path, capsys):
    args = ["stats", "cifar10", "--subset", "2", "--statistics", "entropy,dct_share",
            "--out-dir", str(tmp_path), "--data-root", str(data_root), "--mirror", str(mirror),
            "--workers", "1", "--no-progress"]
    assert main(args) == 0
    for split in ("train", "test"):
        table = pd.read_parquet(tmp_path / f"cifar10-{split}.parquet")
        assert len(table) == 20 and table["entropy"].notna().all()
    assert "entropy" in capsys.readouterr().out
    assert main([*args[:5], "brightness", *args[6:]]) == 2
    assert "unknown statistic(s) ['brightness']" in capsys.readouterr().err


def test_device_path_gives_the_same_table(cifar_train, tmp_path):
    # device= sends entropy, DCT share and Sobel through the torch kernels (a GPU when given).
    cpu = compute_statistics(cifar_train, tmp_path / "a.parquet", FAST, workers=1,
                             progress=False)
    torch_path = compute_statistics(cifar_train, tmp_path / "b.parquet", FAST, device="cpu",
                                    progress=False)
    pd.testing.assert_frame_equal(cpu[["entropy", "dct_share", "segments"]],
                                  torch_path[["entropy", "dct_share", "segments"]])
    for name in ("sobel_edges", "dct_largest"):
        np.testing.assert_allclose(cpu[name], torch_path[name], rtol=1e-12)


def test_a_complete_table_is_left_untouched(tmp_path, data_root, mirror):
    """Rerunning with nothing to compute keeps the file (and its mtime: builds stay incremental)."""
    import os

    from agreement_core.data import CIFAR10
    from agreement_core.statistics import compute_statistics

    data = CIFAR10("test", root=data_root, mirror=mirror, subset=2)
    out = tmp_path / "t.parquet"
    first = compute_statistics(data, out, ["entropy"], workers=1, progress=False)
    os.utime(out, (1, 1))
    again = compute_statistics(data, out, ["entropy"], workers=1, progress=False)
    assert out.stat().st_mtime == 1 and again.equals(first)
    compute_statistics(data, out, ["entropy", "dct_share"], workers=1, progress=False)
    assert out.stat().st_mtime > 1  # a new column is written
