"""The data layer on real data: the CIFAR-10 and Imagenette mirror, VOC and KTH fixtures."""

from __future__ import annotations

import gzip
import io
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from fixtures import write_kth
from PIL import Image

from agreement_core.data import (
    CIFAR10,
    CIFAR10_CLASSES,
    DATASETS,
    VOC_CLASSES,
    ImageNet,
    KTHTIPS2b,
    PascalVOC,
    extract_archive,
    get_dataset,
    select_subset,
)
from agreement_core.data import cifar as cifar_module
from agreement_core.errors import ConfigError, DatasetError

# --------------------------------------------------------------------------- CIFAR-10 mirror


def test_cifar_ids_follow_the_manifest(data_root, mirror):
    manifest = pd.read_csv(data_root / "cifar10" / "manifest.csv")
    for split, n in (("train", 50000), ("test", 10000)):
        ds = CIFAR10(split, root=data_root, mirror=mirror)
        rows = manifest[manifest["split"] == split].sort_values("index")
        assert len(ds) == n and ds.source == "mirror-jpeg"
        np.testing.assert_array_equal(ds.example_ids, rows["index"].to_numpy())
        np.testing.assert_array_equal(ds.targets, rows["label"].to_numpy())
        assert ds.example_ids.dtype == np.int64 and ds.targets.dtype == np.int64
        assert ds.example_ids.flags.writeable and ds.targets.flags.writeable  # torch-friendly
    assert ds.classes == list(CIFAR10_CLASSES) and ds.num_classes == 10 and not ds.multilabel
    assert "JPEG" in ds.caveat and "one pixel" in ds.caveat
    assert ds.root == data_root / "cifar10"


def test_cifar_mirror_is_extracted_only_once(data_root, mirror, monkeypatch):
    manifest = data_root / "cifar10" / "manifest.csv"
    mtime = manifest.stat().st_mtime_ns

    def fail(*args, **kwargs):
        raise AssertionError("extracted a second time")

    monkeypatch.setattr(cifar_module, "extract_archive", fail)
    assert len(CIFAR10("train", root=data_root, mirror=mirror, subset=1)) == 10
    assert manifest.stat().st_mtime_ns == mtime


def test_cifar_subset_keeps_original_ids(data_root, mirror):
    full = CIFAR10("train", root=data_root, mirror=mirror)
    ds = CIFAR10("train", root=data_root, mirror=mirror, subset=10)
    assert len(ds) == 100
    assert np.bincount(ds.targets).tolist() == [10] * 10
    expected = full.examples.groupby("label").head(10)["example_id"].sort_values()
    np.testing.assert_array_equal(ds.example_ids, expected.to_numpy())
    assert (ds.examples["class_name"] == [CIFAR10_CLASSES[k] for k in ds.targets]).all()
    assert len(CIFAR10("test", root=data_root, mirror=mirror, subset=0.01)) == 100


def test_cifar_load_array_decodes_the_jpegs_and_caches(data_root, mirror, monkeypatch):
    ds = CIFAR10("test", root=data_root, mirror=mirror, subset=10)
    images = ds.load_array()
    assert images.shape == (100, 32, 32, 3) and images.dtype == np.uint8
    jpegs = np.stack([np.asarray(Image.open(ds.root / p).convert("RGB"))
                      for p in ds.examples["path"]])
    np.testing.assert_array_equal(images, jpegs)
    assert (data_root / "cifar10" / "test_uint8.npy").is_file()

    def fail(path):
        raise AssertionError(f"decoded {path} again instead of reading the cache")

    monkeypatch.setattr(cifar_module, "open_rgb", fail)
    np.testing.assert_array_equal(ds.load_array(), images)
    assert ds.load_array(size=(16, 16)).shape == (100, 16, 16, 3)


def test_cifar_getitem(data_root, mirror):
    ds = CIFAR10("test", root=data_root, mirror=mirror, subset=1, transform=np.asarray)
    image, target, example_id = ds[3]
    assert image.shape == (32, 32, 3)
    assert isinstance(target, int) and target == ds.targets[3]
    assert example_id == ds.example_ids[3]
    raw, _, _ = CIFAR10("test", root=data_root, mirror=mirror)[0]
    assert isinstance(raw, Image.Image) and raw.size == (32, 32) and raw.mode == "RGB"


def test_cifar10h_rows_line_up_with_the_test_set(data_root, mirror):
    probs = np.load(mirror / "cifar10h-probs.npy")
    ds = CIFAR10("test", root=data_root, mirror=mirror)
    assert probs.shape == (len(ds), 10)
    assert np.mean(probs[ds.example_ids].argmax(1) == ds.targets) > 0.9


def test_cifar_not_found_names_root_and_mirror(tmp_path, monkeypatch):
    monkeypatch.delenv("AGREEMENT_MIRROR", raising=False)
    with pytest.raises(DatasetError, match="AGREEMENT_MIRROR") as info:
        CIFAR10("train", root=tmp_path / "root")
    assert str(tmp_path / "root") in str(info.value) and "download=True" in str(info.value)
    empty_mirror = tmp_path / "mirror"
    empty_mirror.mkdir()
    with pytest.raises(DatasetError, match="cifar10-jpeg.tar.gz"):
        CIFAR10("train", root=tmp_path / "root", mirror=empty_mirror)


def test_cifar_broken_torchvision_folder(tmp_path):
    (tmp_path / "cifar-10-batches-py").mkdir()
    with pytest.raises(DatasetError, match="cifar-10-batches-py"):
        CIFAR10("test", root=tmp_path)


def test_cifar_from_torchvision_arrays(tmp_path, monkeypatch):
    import torchvision

    calls = []

    class FakeCIFAR10:  # stands in for the real batches, whose checksums a fixture cannot match
        def __init__(self, root, train, download):
            calls.append((root, train, download))
            self.data = np.arange(4 * 32 * 32 * 3, dtype=np.uint8).reshape(4, 32, 32, 3)
            self.targets = [3, 1, 3, 0]

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", FakeCIFAR10)
    monkeypatch.delenv("AGREEMENT_MIRROR", raising=False)
    ds = CIFAR10("train", root=tmp_path, download=True, subset=1)
    assert calls == [(str(tmp_path), True, True)]
    assert ds.source == "torchvision" and ds.caveat is None and ds.root == tmp_path
    assert ds.example_ids.tolist() == [0, 1, 3] and ds.examples["path"].isna().all()
    np.testing.assert_array_equal(ds.load_array(), FakeCIFAR10(None, 0, 0).data[[0, 1, 3]])
    image, target, example_id = ds[2]
    assert (target, example_id) == (0, 3)
    np.testing.assert_array_equal(np.asarray(image), ds.load_array()[2])
    (tmp_path / "cifar-10-batches-py").mkdir()  # present: read without downloading
    CIFAR10("test", root=tmp_path)
    assert calls[-1] == (str(tmp_path), False, False)


def _write_tar_gz(path, member, files):
    """A tar.gz holding ``member/<name>`` for each ``name: bytes`` in ``files``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"{member}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_truncated_archive_leaves_nothing_behind(tmp_path):
    rng = np.random.default_rng(0)
    good = tmp_path / "good" / "cifar10-jpeg.tar.gz"
    _write_tar_gz(good, "cifar10", {f"train/x{i}.bin": rng.bytes(50_000) for i in range(8)})
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / good.name).write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    root = tmp_path / "root"
    with pytest.raises(DatasetError, match="cifar10-jpeg.tar.gz"):
        CIFAR10("train", root=root, mirror=mirror)
    assert list(root.iterdir()) == []  # neither cifar10/ nor a partial temporary folder
    (mirror / good.name).write_bytes(b"\x1f\x8b" + rng.bytes(1000))  # gzip magic, garbage after
    with pytest.raises(DatasetError, match="truncated or corrupt"):
        extract_archive(mirror / good.name, root / "cifar10", "cifar10")
    assert list(root.iterdir()) == []


def test_extract_archive_moves_the_member_up(tmp_path):
    archive = tmp_path / "a.tar.gz"
    _write_tar_gz(archive, "imagenette/val", {"n1/a.txt": b"a", "n2/b.txt": b"b"})
    dest = extract_archive(archive, tmp_path / "out" / "val", "imagenette/val")
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*.txt")) == [
        "n1/a.txt", "n2/b.txt"]
    assert sorted(p.name for p in dest.iterdir()) == ["n1", "n2"]
    with pytest.raises(DatasetError, match="no folder imagenette/train"):
        extract_archive(archive, tmp_path / "out" / "train", "imagenette/train")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["val"]
    with pytest.raises(DatasetError, match="not found"):
        extract_archive(tmp_path / "missing.tar.gz", tmp_path / "x", "x")


# --------------------------------------------------------------------------- ImageNet / Imagenette


def test_imagenette_val_subset(data_root, mirror):
    from torchvision.datasets import ImageFolder

    ds = get_dataset("imagenette", "val", root=data_root, mirror=mirror, subset=2)
    assert isinstance(ds, ImageNet) and ds.split == "val" and ds.source == "imagefolder"
    assert len(ds) == 20 and np.bincount(ds.targets).tolist() == [2] * 10
    folder = ImageFolder(str(data_root / "imagenette" / "val"))
    assert ds.classes == folder.classes
    for example_id, path in zip(ds.example_ids, ds.examples["path"], strict=True):
        assert data_root / "imagenette" / path == Path(folder.samples[example_id][0])
    assert ds.examples["class_name"].iloc[0] == "tench"
    assert (ds.examples["wnid"] == [ds.classes[k] for k in ds.targets]).all()
    image, target, example_id = ds[2]
    assert image.size == (128, 128) and target == 1 and example_id == ds.example_ids[2]
    assert ds.load_array().shape == (20, 128, 128, 3)
    test = get_dataset("imagenette", "test", root=data_root, mirror=mirror, subset=2)
    np.testing.assert_array_equal(test.example_ids, ds.example_ids)


def test_imagenet_layout_and_unreadable_images(tmp_path):
    with pytest.raises(DatasetError, match="train"):
        ImageNet("train", root=tmp_path)
    for k, size in enumerate([(20, 10), (20, 10), (30, 30)]):
        folder = tmp_path / "train" / f"n{k % 2}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", size).save(folder / f"{k}.png")
    ds = ImageNet("train", root=tmp_path)
    assert ds.examples["path"].tolist() == ["train/n0/0.png", "train/n0/2.png", "train/n1/1.png"]
    with pytest.raises(ValueError, match="size="):
        ds.load_array()
    assert ds.load_array(size=(8, 12)).shape == (3, 8, 12, 3)
    (tmp_path / "train" / "n1" / "9.jpg").write_bytes(b"garbage, not a jpeg")
    ds = ImageNet("train", root=tmp_path)
    with pytest.raises(DatasetError, match="9.jpg"):
        ds[3]
    with pytest.raises(DatasetError, match="9.jpg"):
        ds.load_array(size=(8, 8))


# --------------------------------------------------------------------------- Pascal VOC


def test_voc_train_is_2007_and_2012_trainval(voc_root):
    ds = PascalVOC("train", root=voc_root)
    assert ds.examples["image_id"].tolist() == ["000005", "000007", "2008_000002"]
    assert ds.examples["year"].tolist() == [2007, 2007, 2012]
    assert ds.example_ids.tolist() == [0, 1, 2]
    assert ds.multilabel and ds.classes == list(VOC_CLASSES) and ds.source == "voc"
    assert ds.targets.dtype == bool and ds.targets.shape == (3, 20)
    chair, car, tv, bird = (VOC_CLASSES.index(c) for c in ("chair", "car", "tvmonitor", "bird"))
    assert ds.examples["labels"].tolist() == [(chair,), (car,), (bird, tv)]
    assert np.flatnonzero(ds.targets[2]).tolist() == [bird, tv]
    image, target, example_id = ds[0]
    assert image.size == (100, 50) and example_id == 0
    assert target.dtype == torch.float32 and target.shape == (20,)
    assert target.sum() == 1 and target[chair] == 1
    only_2012 = PascalVOC("train", root=voc_root / "VOCdevkit", years=(2012,))
    assert only_2012.examples["image_id"].tolist() == ["2008_000002"]


def test_voc_factors_and_difficult_objects(voc_root):
    ds = PascalVOC("train", root=voc_root)
    first = ds.examples.iloc[0]  # two overlapping chairs and a difficult person
    assert first["instances"] == 2 and first["width"] == 100 and first["height"] == 50
    assert first["bbox_area_share"] == pytest.approx(3125 / 5000)
    assert ds.examples["bbox_area_share"].iloc[1] == pytest.approx(1.0)
    with_difficult = PascalVOC("train", root=voc_root, ignore_difficult=False)
    assert VOC_CLASSES.index("person") in with_difficult.examples["labels"].iloc[0]
    assert with_difficult.examples["instances"].iloc[0] == 3
    test = PascalVOC("test", root=voc_root)
    assert test.examples["image_id"].tolist() == ["000001", "000002"]
    assert test.examples["bbox_area_share"].tolist() == pytest.approx([700 / 2400, 0.0])
    assert test.examples["labels"].iloc[1] == () and not test.targets[1].any()
    assert PascalVOC("test", root=voc_root, subset=1).example_ids.tolist() == [0]


def test_voc_errors(voc_root, tmp_path):
    with pytest.raises(ConfigError, match="years"):
        PascalVOC("train", root=voc_root, years=(2010,))
    copy = shutil.copytree(voc_root, tmp_path / "voc")
    xml = copy / "VOCdevkit" / "VOC2007" / "Annotations" / "000007.xml"
    xml.write_text(xml.read_text()[:-40])
    with pytest.raises(DatasetError, match="000007.xml"):
        PascalVOC("train", root=copy)
    shutil.rmtree(copy / "VOCdevkit" / "VOC2012" / "Annotations")
    with pytest.raises(DatasetError, match="Annotations"):
        PascalVOC("train", root=copy, years=(2012,))
    jpeg = copy / "VOCdevkit" / "VOC2007" / "JPEGImages" / "000001.jpg"
    jpeg.write_bytes(b"garbage")
    with pytest.raises(DatasetError, match="000001.jpg"):
        PascalVOC("test", root=copy)[0]


# --------------------------------------------------------------------------- KTH-TIPS2-b


def test_kth_split_by_sample_and_factors(kth_root):
    train, test = KTHTIPS2b("train", root=kth_root), KTHTIPS2b("test", root=kth_root)
    assert len(train) == 2 * 3 * 3 and len(test) == 2 * 1 * 3
    assert set(train.examples["sample"]) == {"b", "c", "d"}
    assert set(test.examples["sample"]) == {"a"}
    assert train.examples["path"].tolist() == sorted(train.examples["path"])
    assert train.example_ids.tolist() == list(range(18))
    assert set(test.examples["material"]) == {"cork", "wool"}
    assert set(test.targets) == {3, 10} and test.classes[3] == "cork"
    rows = test.examples[test.examples["material"] == "cork"].set_index("image_number")
    assert rows.loc[1, ["scale", "pose", "illumination"]].tolist() == [2, "frontal", "frontal"]
    assert rows.loc[4, ["scale", "pose", "illumination"]].tolist() == [5, "right", "frontal"]
    assert rows.loc[12, ["scale", "pose", "illumination"]].tolist() == [10, "left", "ambient"]
    assert rows.loc[1, "path"] == "cork/sample_a/10a-scale_2_im_1_col.png"
    image, target, _ = test[0]
    assert image.size == (200, 200) and target == 3
    assert test.load_array().shape == (6, 200, 200, 3)


def test_kth_pose_and_illumination_of_every_image_number(tmp_path):
    root = write_kth(tmp_path, materials=("linen",), images=[(3, i) for i in range(1, 13)])
    rows = KTHTIPS2b("test", root=root).examples.sort_values("image_number")
    assert rows["pose"].tolist() == ["frontal"] * 3 + ["right"] * 3 + ["left"] * 3 + [
        "frontal", "right", "left"]
    assert rows["illumination"].tolist() == ["frontal", "top", "side"] * 3 + ["ambient"] * 3


def test_kth_errors(kth_root, tmp_path):
    with pytest.raises(DatasetError, match="material folders"):
        KTHTIPS2b("train", root=tmp_path)
    copy = shutil.copytree(kth_root, tmp_path / "kth")
    bad = copy / "wool" / "sample_b" / "11b-scale_1_im_13_col.png"
    shutil.copy(copy / "wool" / "sample_b" / "11b-scale_2_im_1_col.png", bad)
    with pytest.raises(DatasetError, match="11b-scale_1_im_13_col.png"):
        KTHTIPS2b("train", root=copy)
    bad.unlink()
    (copy / "cork" / "sample_a" / "10a-scale_2_im_1_col.png").write_bytes(b"garbage")
    ds = KTHTIPS2b("test", root=copy)
    row = ds.examples["path"].tolist().index("cork/sample_a/10a-scale_2_im_1_col.png")
    with pytest.raises(DatasetError, match="10a-scale_2_im_1_col.png"):
        ds[row]
    with pytest.raises(DatasetError, match="10a-scale_2_im_1_col.png"):
        ds.load_array()


# --------------------------------------------------------------------------- subsets, registry


def test_select_subset():
    examples = pd.DataFrame({"label": [0, 1, 0, 0, 1, 2, 0]})
    assert select_subset(examples, None).tolist() == list(range(7))
    assert select_subset(examples, 2).tolist() == [0, 1, 2, 4, 5]
    assert select_subset(examples, 0.5).tolist() == [0, 1, 2, 5]  # ceil(2), ceil(1), ceil(.5)
    assert select_subset(examples, 1.0).tolist() == list(range(7))
    assert select_subset(pd.DataFrame({"label": [0] * 30}), 0.1).tolist() == [0, 1, 2]
    multi = pd.DataFrame({"labels": [(0,), (1, 2), (), (0,)]})
    assert select_subset(multi, 3).tolist() == [0, 1, 2]
    assert select_subset(multi, 0.3).tolist() == [0, 1]
    for bad in (0, -1, 0.0, 1.5, True, "10", float("nan")):
        with pytest.raises(ValueError, match="subset"):
            select_subset(examples, bad)


def test_registry():
    assert set(DATASETS) == {"cifar10", "imagenet", "imagenette", "voc", "kth", "dtd"}
    with pytest.raises(ConfigError, match="cifar10.*kth"):
        get_dataset("mnist", "train")
    with pytest.raises(ConfigError, match="'train', 'test'"):
        get_dataset("cifar10", "validation")
    with pytest.raises(ConfigError, match="'val'"):
        get_dataset("imagenet", "dev")


def test_gzip_error_is_caught(tmp_path):
    path = tmp_path / "x.tar.gz"
    path.write_bytes(gzip.compress(b"not a tar file at all" * 100))
    with pytest.raises(DatasetError, match="x.tar.gz"):
        extract_archive(path, tmp_path / "out", "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.tar.gz"]
