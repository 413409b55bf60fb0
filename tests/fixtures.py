"""Writers of small Pascal VOC and KTH-TIPS2-b trees in their real on-disk formats.

Neither dataset is in the offline mirror, so the loaders are tested on these.
Images are random pixels (numpy + PIL); only the layout and names matter.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
from PIL import Image

# (year, image set) -> [(image_id, (width, height), [(class, difficult, (xmin, ymin, xmax, ymax))])]
VOC_FIXTURE = {
    (2007, "trainval"): [
        # Two overlapping chairs (union 3125 of 5000 px) and a difficult person.
        ("000005", (100, 50), [("chair", 0, (1, 1, 50, 50)), ("chair", 0, (26, 1, 75, 25)),
                               ("person", 1, (60, 30, 90, 50))]),
        ("000007", (80, 60), [("car", 0, (1, 1, 80, 60))]),
    ],
    (2007, "test"): [
        # Dog and person overlap in a 10x10 square: union 700 of 2400 px.
        ("000001", (60, 40), [("dog", 0, (11, 11, 30, 30)), ("person", 0, (21, 21, 40, 40))]),
        ("000002", (50, 50), [("train", 1, (1, 1, 10, 10))]),  # only a difficult object
    ],
    (2012, "trainval"): [
        ("2008_000002", (70, 70), [("tvmonitor", 0, (1, 1, 35, 70)), ("bird", 0, (36, 1, 70, 70))]),
    ],
}

# (scale, image number) pairs written for every material and sample.
KTH_IMAGES = ((2, 1), (5, 4), (10, 12))
KTH_FIXTURE_MATERIALS = ("cork", "wool")


def _write_image(path: Path, size: tuple[int, int], seed: int) -> None:
    """A random RGB image of ``size = (width, height)``, format from the suffix."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def _annotation(year: int, image_id: str, size: tuple[int, int], objects) -> ET.ElementTree:
    root = ET.Element("annotation")
    ET.SubElement(root, "folder").text = f"VOC{year}"
    ET.SubElement(root, "filename").text = f"{image_id}.jpg"
    size_el = ET.SubElement(root, "size")
    for tag, value in (("width", size[0]), ("height", size[1]), ("depth", 3)):
        ET.SubElement(size_el, tag).text = str(value)
    ET.SubElement(root, "segmented").text = "0"
    for name, difficult, box in objects:
        obj = ET.SubElement(root, "object")
        ET.SubElement(obj, "name").text = name
        ET.SubElement(obj, "pose").text = "Unspecified"
        ET.SubElement(obj, "truncated").text = "0"
        ET.SubElement(obj, "difficult").text = str(difficult)
        bndbox = ET.SubElement(obj, "bndbox")
        for tag, value in zip(("xmin", "ymin", "xmax", "ymax"), box, strict=True):
            ET.SubElement(bndbox, tag).text = str(value)
    ET.indent(root)
    return ET.ElementTree(root)


def write_voc(root: Path, images: dict = VOC_FIXTURE) -> Path:
    """Write ``<root>/VOCdevkit/VOC<year>/{JPEGImages,Annotations,ImageSets/Main}``; return root."""
    seed = 0
    for (year, image_set), entries in images.items():
        folder = Path(root) / "VOCdevkit" / f"VOC{year}"
        for image_id, size, objects in entries:
            _write_image(folder / "JPEGImages" / f"{image_id}.jpg", size, seed)
            seed += 1
            xml = folder / "Annotations" / f"{image_id}.xml"
            xml.parent.mkdir(parents=True, exist_ok=True)
            _annotation(year, image_id, size, objects).write(xml)
        main = folder / "ImageSets" / "Main"
        main.mkdir(parents=True, exist_ok=True)
        (main / f"{image_set}.txt").write_text("".join(f"{e[0]}\n" for e in entries))
    return Path(root)


def write_kth(root: Path, materials=KTH_FIXTURE_MATERIALS, images=KTH_IMAGES) -> Path:
    """Write ``<root>/<material>/sample_<x>/<id><x>-scale_<s>_im_<i>_col.png``; return root.

    Every material gets samples a..d with one 200x200 PNG per (scale, image
    number) in ``images``, plus a stray non-PNG file the loader must ignore.
    """
    seed = 0
    for number, material in enumerate(materials, start=10):
        for sample in "abcd":
            folder = Path(root) / material / f"sample_{sample}"
            for scale, i in images:
                _write_image(folder / f"{number}{sample}-scale_{scale}_im_{i}_col.png",
                             (200, 200), seed)
                seed += 1
        (folder / "Thumbs.db").write_bytes(b"not an image")
    return Path(root)


# A user's VOC2012 alone (no VOC2007): the official Main split, train and val.
VOC2012_FIXTURE = {
    (2012, "train"): [
        ("2008_000008", (60, 40), [("horse", 0, (1, 1, 30, 40)), ("person", 0, (21, 1, 60, 20))]),
        ("2008_000015", (40, 40), [("bottle", 1, (1, 1, 10, 10)), ("cat", 0, (1, 1, 40, 40))]),
    ],
    (2012, "val"): [
        ("2008_000009", (50, 50), [("cow", 0, (1, 1, 25, 50))]),
    ],
}

# Classes of the small DTD tree (official layout, folds 1 and 2) that write_dtd writes.
DTD_FIXTURE_CLASSES = ("banded", "zigzagged", "dotted")


def write_dtd(root: Path, classes=DTD_FIXTURE_CLASSES, per_class: int = 6) -> Path:
    """Write ``<root>/dtd/{images/<class>/<class>_NNNN.jpg,labels/{train,val,test}{1,2}.txt}``.

    Each class gets ``per_class`` images of varied sizes; fold 1 lists them in
    the order train, val, test (a third each), fold 2 the other way round, as
    DTD's list files do (``<class>/<name>.jpg`` per line, grouped by class).
    Returns the data root (the folder holding ``dtd/``).
    """
    folder = Path(root) / "dtd"
    third = per_class // 3
    lists = {name: [] for name in ("train1", "val1", "test1", "train2", "val2", "test2")}
    for k, name in enumerate(classes):
        files = [f"{name}/{name}_{i:04d}.jpg" for i in range(1, per_class + 1)]
        for i, rel in enumerate(files):
            _write_image(folder / "images" / rel, (40 + 10 * i, 30 + 5 * k), 100 + 10 * k + i)
        for fold, parts in ((1, files), (2, files[::-1])):
            for j, split in enumerate(("train", "val", "test")):
                lists[f"{split}{fold}"] += sorted(parts[j * third:(j + 1) * third])
    (folder / "labels").mkdir(parents=True, exist_ok=True)
    for name, lines in lists.items():
        (folder / "labels" / f"{name}.txt").write_text("".join(f"{x}\n" for x in lines))
    (folder / "labels" / "labels_joint_anno.txt").write_text("banded/banded_0001.jpg banded\n")
    return Path(root)
