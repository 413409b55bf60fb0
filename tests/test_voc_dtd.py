"""Pascal VOC and DTD from the offline mirror (real images), and the users' official layouts.

The mirror's archives are extracted once per session into a fresh data root, as conftest.py
does for CIFAR-10 (a root of its own, so that these tests need not wait for CIFAR-10).
"""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from fixtures import VOC2012_FIXTURE, write_dtd, write_voc
from PIL import Image

from agreement_core.data import DTD, VOC_CLASSES, PascalVOC, get_dataset
from agreement_core.data import archive as archive_module
from agreement_core.errors import ConfigError, DatasetError
from agreement_core.locations import Locations

DTD10 = ("banded", "blotchy", "braided", "bubbly", "bumpy", "chequered", "cobwebbed",
         "cracked", "crosshatched", "crystalline")


@pytest.fixture(scope="session")
def mirror_root(tmp_path_factory) -> Path:
    """A fresh data root for the VOC and DTD mirrors (this module's, not conftest's)."""
    return tmp_path_factory.mktemp("voc_dtd_data")


@pytest.fixture(scope="module")
def voc(mirror_root, mirror) -> dict[str, PascalVOC]:
    """The mirror's VOC2012 subset, both splits (extracted on first use)."""
    return {split: PascalVOC(split, root=mirror_root, mirror=mirror) for split in ("train", "test")}


@pytest.fixture(scope="module")
def dtd(mirror_root, mirror) -> dict[str, DTD]:
    """The mirror's 10-class DTD, both splits (extracted on first use)."""
    return {split: DTD(split, root=mirror_root, mirror=mirror) for split in ("train", "test")}


# --------------------------------------------------------------------------- VOC, mirror


def test_voc_mirror_is_voc2012_train_and_val(voc, mirror_root):
    train, test = voc["train"], voc["test"]
    assert (len(train), len(test)) == (1697, 1729)
    devkit = mirror_root / "voc2012-subset"
    assert train.root == devkit and (devkit / "VOC2012" / "JPEGImages").is_dir()
    main = devkit / "VOC2012" / "ImageSets" / "Main"
    for ds, image_set in ((train, "train"), (test, "val")):
        assert ds.examples["image_id"].tolist() == (main / f"{image_set}.txt").read_text().split()
        assert ds.example_ids.tolist() == list(range(len(ds)))
        assert ds.source == "mirror-voc2012-subset" and ds.protocol == "VOC2012 train / VOC2012 val"
        assert "VOC2012 val" in ds.caveat and "difficult" in ds.caveat and "256" in ds.caveat
        assert ds.multilabel and ds.classes == list(VOC_CLASSES) and ds.targets.shape[1] == 20
    assert not set(train.examples["image_id"]) & set(test.examples["image_id"])
    assert train.examples["instances"].sum() == 3625 and test.examples["instances"].sum() == 3543


def test_voc_mirror_image_matches_its_xml(voc):
    """2008_000008 (checked box by box against the official file): labels and factors."""
    ds = voc["train"]
    row = ds.examples["image_id"].tolist().index("2008_000008")
    xml = ds.root / "VOC2012" / "Annotations" / "2008_000008.xml"
    annotation = ET.parse(xml).getroot()
    width, height = (int(annotation.find("size").find(k).text) for k in ("width", "height"))
    objects = [(obj.find("name").text, [int(obj.find("bndbox").find(k).text)
                                        for k in ("xmin", "ymin", "xmax", "ymax")])
               for obj in annotation.iter("object")]
    assert objects == [("horse", [31, 51, 273, 243]), ("person", [92, 26, 168, 97])]
    covered = np.zeros((height, width), dtype=bool)  # the union of the boxes, pixel by pixel
    for _, (x0, y0, x1, y1) in objects:
        covered[y0 - 1:y1, x0 - 1:x1] = True
    example = ds.examples.iloc[row]
    assert example["labels"] == tuple(sorted(VOC_CLASSES.index(n) for n, _ in objects))
    assert example["instances"] == 2 and (example["width"], example["height"]) == (290, 256)
    assert example["bbox_area_share"] == pytest.approx(covered.mean())
    assert example["vsd_score"] == pytest.approx(3.220686)
    image, target, example_id = ds[row]
    assert image.size == (width, height) and example_id == row
    assert target.dtype == torch.float32
    assert np.flatnonzero(target.numpy()).tolist() == [VOC_CLASSES.index("horse"),
                                                      VOC_CLASSES.index("person")]


def test_voc_mirror_agrees_with_its_manifest(voc):
    """Every image's objects, classes, size and score against the mirror's manifest.csv."""
    manifest = pd.read_csv(voc["train"].root / "VOC2012" / "manifest.csv").set_index("id")
    for split, ds in voc.items():
        rows = manifest.loc[ds.examples["image_id"]]
        assert (rows["split"] == ("train" if split == "train" else "val")).all()
        assert (rows["num_objects"].to_numpy() == ds.examples["instances"].to_numpy()).all()
        names = [" ".join(sorted(VOC_CLASSES[k] for k in labels))
                 for labels in ds.examples["labels"]]
        assert names == [" ".join(sorted(c.split())) for c in rows["classes"]]
        assert (rows["resized_width"].to_numpy() == ds.examples["width"].to_numpy()).all()
        assert (rows["resized_height"].to_numpy() == ds.examples["height"].to_numpy()).all()
        np.testing.assert_allclose(ds.vsd_scores(), rows["vsd_score"].to_numpy())
        shares = ds.examples["bbox_area_share"]
        assert ((shares > 0) & (shares <= 1)).all()


def test_voc_ionescu_scores(voc):
    csv = pd.read_csv(voc["train"].root / "VOC2012" / "ionescu_vsd_scores.csv")
    assert list(csv.columns) == ["name", "score"] and len(csv) == 3426
    scores = np.concatenate([voc["train"].vsd_scores(), voc["test"].vsd_scores()])
    assert len(scores) == 3426 and not np.isnan(scores).any()
    assert scores.dtype == np.float64
    assert (scores.min(), scores.max()) == pytest.approx((2.47, 7.05))
    assert voc["train"].scores_path.name == "ionescu_vsd_scores.csv"
    known = dict(zip(voc["test"].examples["image_id"], voc["test"].vsd_scores(), strict=True))
    assert known["2008_000009"] == pytest.approx(4.473554)


def test_voc_mirror_is_extracted_once_and_a_subset_keeps_scores(voc, mirror_root, mirror,
                                                                 monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("extracted a second time")

    monkeypatch.setattr(archive_module, "extract_archive", fail)
    ds = get_dataset("voc", "test", Locations(mirror_root, mirror), subset=5)
    assert ds.example_ids.tolist() == [0, 1, 2, 3, 4]
    np.testing.assert_array_equal(ds.vsd_scores(), voc["test"].vsd_scores()[:5])


# --------------------------------------------------------------------------- VOC, users' layouts


def test_voc_user_devkit_comes_before_the_mirror(voc_root, mirror, monkeypatch):
    monkeypatch.setattr(archive_module, "extract_archive", lambda *a, **k: pytest.fail("extracted"))
    ds = PascalVOC("test", root=voc_root, mirror=mirror)
    assert ds.source == "voc" and ds.caveat is None
    assert ds.protocol == "VOC2007+2012 trainval / VOC2007 test"
    assert ds.examples["image_id"].tolist() == ["000001", "000002"]
    with pytest.raises(DatasetError, match="VSD_dataset.csv"):
        ds.vsd_scores()  # no scores file: an error only when asked for


def test_voc2012_alone_trains_on_train_and_tests_on_val(tmp_path):
    root = write_voc(tmp_path, VOC2012_FIXTURE)
    train, test = PascalVOC("train", root=root), PascalVOC("test", root=root)
    assert train.examples["image_id"].tolist() == ["2008_000008", "2008_000015"]
    assert test.examples["image_id"].tolist() == ["2008_000009"]
    assert train.source == "voc" and "VOC2012 val" in train.caveat
    assert train.protocol == "VOC2012 train / VOC2012 val"
    # The bottle is difficult: ignored; horse and person overlap in 10 x 20 pixels.
    assert train.examples["instances"].tolist() == [2, 1]
    assert train.examples["bbox_area_share"].tolist() == pytest.approx(
        [(30 * 40 + 40 * 20 - 10 * 20) / 2400, 1.0])
    assert PascalVOC("train", root=root, years=[2012]).examples.equals(train.examples)
    with pytest.raises(DatasetError, match="VOC2007"):
        PascalVOC("train", root=root, years=(2007, 2012))
    with pytest.raises(DatasetError, match="no Ionescu.*VSD_dataset.csv.*scores=PATH"):
        train.vsd_scores()


def test_voc_scores_file_formats_and_errors(tmp_path, voc_root):
    root = write_voc(tmp_path / "voc12", VOC2012_FIXTURE)
    scores = root / "VOCdevkit" / "VOC2012" / "VSD_dataset.csv"
    scores.write_text("2008_000008.jpg,3.5\n2008_000009.jpg,4.25\n")  # the authors' format
    train = PascalVOC("train", root=root)
    assert train.scores_path == scores
    np.testing.assert_array_equal(train.vsd_scores(), [3.5, np.nan])  # 2008_000015: no score
    assert PascalVOC("test", root=root).vsd_scores().tolist() == [4.25]
    other = tmp_path / "mine.csv"
    other.write_text("name,score\n2008_000015,2.0\n")
    assert PascalVOC("train", root=root, scores=other).vsd_scores()[1] == 2.0
    with pytest.raises(DatasetError, match="nowhere.csv"):
        PascalVOC("train", root=root, scores=tmp_path / "nowhere.csv")
    for text, message in (("2008_000008,3.5\n2008_000008,3.5\n", "twice"),
                          ("2008_000008,hard\n", "row 1"), ("a,b,c\n", "two columns")):
        other.write_text(text)
        with pytest.raises(DatasetError, match=message):
            PascalVOC("train", root=root, scores=other)
    # The full layout: the scores cover VOC2012 only, VOC2007 images have none.
    full = shutil.copytree(voc_root, tmp_path / "full")
    (full / "VOCdevkit" / "VOC2012" / "VSD_dataset.csv").write_text("2008_000002,5.0\n")
    np.testing.assert_array_equal(PascalVOC("train", root=full).vsd_scores(), [np.nan, np.nan, 5])


def test_voc_not_found_says_what_to_get(tmp_path, monkeypatch):
    (tmp_path / "mirror").mkdir()
    with pytest.raises(DatasetError, match="host.robots.ox.ac.uk.*voc2012-subset.tar.gz"):
        PascalVOC("train", root=tmp_path / "root", mirror=tmp_path / "mirror")
    monkeypatch.delenv("AGREEMENT_MIRROR", raising=False)
    with pytest.raises(DatasetError, match="AGREEMENT_MIRROR unset"):
        PascalVOC("train", root=tmp_path / "root")
    (tmp_path / "mirror" / "voc2012-subset.tar.gz").write_bytes(b"\x1f\x8b truncated")
    with pytest.raises(DatasetError, match="voc2012-subset.tar.gz"):
        PascalVOC("train", root=tmp_path / "root", mirror=tmp_path / "mirror")
    assert not (tmp_path / "root" / "voc2012-subset").exists()
    assert [p.name for p in (tmp_path / "root").iterdir()] == []  # nothing half-extracted


def test_voc_corrupt_image_is_named(tmp_path):
    root = write_voc(tmp_path, VOC2012_FIXTURE)
    (root / "VOCdevkit" / "VOC2012" / "JPEGImages" / "2008_000015.jpg").write_bytes(b"garbage")
    ds = PascalVOC("train", root=root)
    assert ds[0][0].size == (60, 40)
    with pytest.raises(DatasetError, match="2008_000015.jpg"):
        ds[1]


# --------------------------------------------------------------------------- DTD, mirror


def test_dtd_mirror_splits(dtd, mirror_root):
    train, test = dtd["train"], dtd["test"]
    folder = mirror_root / "dtd10"
    assert train.root == folder and test.root == folder
    assert train.classes == list(DTD10) and train.num_classes == 10 and not train.multilabel
    assert np.bincount(train.targets).tolist() == [80] * 10
    assert np.bincount(test.targets).tolist() == [40] * 10
    lists = {name: (folder / "labels" / f"{name}.txt").read_text().split()
             for name in ("train1", "val1", "test1")}
    assert train.examples["path"].tolist() == [f"images/{p}" for p in
                                               lists["train1"] + lists["val1"]]
    assert test.examples["path"].tolist() == [f"images/{p}" for p in lists["test1"]]
    assert train.examples["image_set"].value_counts().to_dict() == {"train1": 400, "val1": 400}
    assert set(test.examples["image_set"]) == {"test1"}
    assert not set(train.examples["path"]) & set(test.examples["path"])
    assert len(set(train.examples["path"])) == 800
    assert (train.examples["class_name"] == [DTD10[k] for k in train.targets]).all()
    assert train.example_ids.tolist() == list(range(800))
    for ds in (train, test):
        assert ds.source == "mirror-dtd10" and "10 of DTD's 47" in ds.caveat
        assert "KTH-TIPS2-b" in ds.caveat


def test_dtd_images_and_training_sizes(dtd, mirror_root, mirror):
    ds = get_dataset("dtd", "train", Locations(mirror_root, mirror), subset=2)
    assert len(ds) == 20 and np.bincount(ds.targets).tolist() == [2] * 10
    image, target, example_id = ds[3]
    assert min(image.size) == 256 and max(image.size) <= 640
    assert target == ds.targets[3] == 1 and example_id == ds.example_ids[3] == 41  # train1
    with Image.open(ds.root / ds.examples["path"].iat[3]) as raw:
        assert raw.size == image.size
    sizes = {ds.load_image(i).size for i in range(len(ds))}
    assert len(sizes) > 1  # mixed sizes: training resizes to a square (image_size)
    with pytest.raises(ValueError, match="size="):
        ds.load_array()
    assert ds.load_array(size=(64, 64)).shape == (20, 64, 64, 3)
    batch = ds.load_batch([0, 1, 2])
    assert [a.shape[2] for a in batch] == [3, 3, 3]


def test_dtd_mirror_is_extracted_once(dtd, mirror_root, mirror, monkeypatch):
    monkeypatch.setattr(archive_module, "extract_archive", lambda *a, **k: pytest.fail("extracted"))
    assert len(DTD("test", root=mirror_root, mirror=mirror)) == 400


# --------------------------------------------------------------------------- DTD, official layout


def test_dtd_official_layout_and_folds(tmp_path, mirror, monkeypatch):
    root = write_dtd(tmp_path)
    monkeypatch.setattr(archive_module, "extract_archive", lambda *a, **k: pytest.fail("extracted"))
    train = DTD("train", root=root, mirror=mirror)
    test = DTD("test", root=root / "dtd")  # the DTD folder itself also works
    assert train.source == "dtd" and train.caveat is None and train.root == root / "dtd"
    assert train.classes == ["banded", "dotted", "zigzagged"]
    assert train.examples["path"].tolist() == [
        "images/banded/banded_0001.jpg", "images/banded/banded_0002.jpg",
        "images/zigzagged/zigzagged_0001.jpg", "images/zigzagged/zigzagged_0002.jpg",
        "images/dotted/dotted_0001.jpg", "images/dotted/dotted_0002.jpg",
        "images/banded/banded_0003.jpg", "images/banded/banded_0004.jpg",
        "images/zigzagged/zigzagged_0003.jpg", "images/zigzagged/zigzagged_0004.jpg",
        "images/dotted/dotted_0003.jpg", "images/dotted/dotted_0004.jpg"]
    assert train.targets.tolist() == [0, 0, 2, 2, 1, 1] * 2
    assert len(test) == 6 and set(test.examples["image_set"]) == {"test1"}
    fold2 = DTD("test", root=root, fold=2)
    assert fold2.fold == 2 and fold2.examples["path"].iloc[0] == "images/banded/banded_0001.jpg"
    for bad in (0, 11, True, "1"):
        with pytest.raises(ConfigError, match="fold"):
            DTD("train", root=root, fold=bad)
    with pytest.raises(DatasetError, match="train3.txt"):
        DTD("train", root=root, fold=3)


def test_dtd_errors(tmp_path, monkeypatch):
    (tmp_path / "mirror").mkdir()
    with pytest.raises(DatasetError, match="robots.ox.ac.uk.*dtd10.tar.gz"):
        DTD("train", root=tmp_path / "empty", mirror=tmp_path / "mirror")
    monkeypatch.delenv("AGREEMENT_MIRROR", raising=False)
    with pytest.raises(DatasetError, match="AGREEMENT_MIRROR unset"):
        DTD("train", root=tmp_path / "empty")
    root = write_dtd(tmp_path / "data")
    folder = root / "dtd"
    (folder / "images" / "dotted" / "dotted_0005.jpg").write_bytes(b"not a jpeg")
    ds = DTD("test", root=root)
    row = ds.examples["path"].tolist().index("images/dotted/dotted_0005.jpg")
    with pytest.raises(DatasetError, match="dotted_0005.jpg"):
        ds[row]
    (folder / "images" / "dotted" / "dotted_0005.jpg").unlink()
    with pytest.raises(DatasetError, match="1 images of the test split are missing.*dotted_0005"):
        DTD("test", root=root)
    labels = folder / "labels" / "val1.txt"
    labels.write_text(labels.read_text() + "wavy/wavy_0001.jpg\n")
    with pytest.raises(DatasetError, match="val1.txt, line 7"):
        DTD("train", root=root)
    labels.write_text("banded/banded_0001.jpg\n")  # also in train1
    with pytest.raises(DatasetError, match="listed twice"):
        DTD("train", root=root)
