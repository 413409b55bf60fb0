"""Pascal VOC 2007+2012 as a 20-class multi-label classification dataset."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from .. import locations
from ..errors import ConfigError, DatasetError
from .base import ImageDataset, Subset

VOC_CLASSES = ("aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
               "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant",
               "sheep", "sofa", "train", "tvmonitor")
TRAIN_YEARS = (2007, 2012)
_CLASS_INDEX = {name: k for k, name in enumerate(VOC_CLASSES)}


class PascalVOC(ImageDataset):
    """Pascal VOC: which of the 20 classes appear in each image (multi-label).

    ``"train"`` is VOC2007 trainval followed by VOC2012 trainval, ``"test"`` is
    VOC2007 test; within each part the order (and so the example id) is the
    file order of ``ImageSets/Main/<set>.txt``. Objects marked difficult are
    ignored by default: they neither set a label nor count as factors.

    Factor columns: ``image_id``, ``year``, ``width``, ``height``, ``instances``
    (number of objects kept) and ``bbox_area_share``: the share of the image
    covered by the *union* of the kept objects' boxes, in [0, 1] (overlapping
    boxes are not counted twice).

    Parameters
    ----------
    split : {"train", "test"}
    root : path, optional
        The folder holding ``VOCdevkit/``, or ``VOCdevkit`` itself (default
        :func:`agreement_core.locations.data_root`); it holds ``VOC2007/`` and
        ``VOC2012/``, each with ``JPEGImages/``, ``Annotations/`` and
        ``ImageSets/Main/``.
    mirror : path, optional
        Accepted for a uniform interface; VOC is not in the offline mirror.
    transform : callable, optional
        Applied to the PIL image in ``__getitem__``.
    subset : int, float or None
        See :func:`~agreement_core.data.select_subset` (multi-label: the first examples).
    years : sequence of int
        The years whose trainval makes up ``"train"`` (2007 and/or 2012).
    ignore_difficult : bool
        Ignore objects marked ``<difficult>1</difficult>``.
    """

    splits = ("train", "test")
    multilabel = True

    def __init__(self, split: str = "train", root: str | os.PathLike | None = None,
                 mirror: str | os.PathLike | None = None, transform: Callable | None = None,
                 subset: Subset = None, years: Sequence[int] = TRAIN_YEARS,
                 ignore_difficult: bool = True):
        split = self.check_split(split)
        years = tuple(years)
        if not years or not set(years) <= set(TRAIN_YEARS):
            raise ConfigError(f"years must be a non-empty subset of {TRAIN_YEARS}, got {years}")
        base = locations.data_root(root)
        devkit = base / "VOCdevkit" if (base / "VOCdevkit").is_dir() else base
        parts = [(year, "trainval") for year in years] if split == "train" else [(2007, "test")]
        rows = []
        for year, image_set in parts:
            folder = devkit / f"VOC{year}"
            list_file = folder / "ImageSets" / "Main" / f"{image_set}.txt"
            for needed in (folder / "JPEGImages", folder / "Annotations", list_file):
                if not needed.exists():
                    raise DatasetError(f"{needed} not found: {devkit} is not a VOCdevkit folder "
                                       f"(VOC<year>/JPEGImages, Annotations, ImageSets/Main)")
            image_ids = [line.split()[0] for line in list_file.read_text().splitlines()
                         if line.strip()]
            rows += [_read_annotation(folder, year, i, ignore_difficult) for i in image_ids]
        examples = pd.DataFrame(rows, columns=[
            "image_id", "year", "path", "labels", "width", "height", "instances",
            "bbox_area_share"])
        examples.insert(0, "example_id", np.arange(len(examples), dtype=np.int64))
        examples.insert(1, "split", split)
        super().__init__(split, devkit, VOC_CLASSES, examples, source="voc",
                         transform=transform, subset=subset)


def _read_annotation(folder: Path, year: int, image_id: str, ignore_difficult: bool) -> tuple:
    """One example row from ``Annotations/<image_id>.xml``."""
    xml = folder / "Annotations" / f"{image_id}.xml"
    path = f"VOC{year}/JPEGImages/{image_id}.jpg"
    try:
        annotation = ET.parse(xml).getroot()
        width = int(float(annotation.findtext("size/width", "0")))
        height = int(float(annotation.findtext("size/height", "0")))
        labels, boxes = set(), []
        for obj in annotation.findall("object"):
            name = obj.findtext("name", "").strip()
            if name not in _CLASS_INDEX:
                raise DatasetError(f"{xml}: unknown VOC class {name!r}")
            if ignore_difficult and obj.findtext("difficult", "0").strip() == "1":
                continue
            labels.add(_CLASS_INDEX[name])
            box = obj.find("bndbox")
            boxes.append([float(box.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax")])
    except ET.ParseError as exc:
        raise DatasetError(f"malformed annotation {xml}: {exc}") from exc
    except OSError as exc:
        raise DatasetError(f"cannot read annotation {xml}: {exc}") from exc
    except (AttributeError, TypeError, ValueError) as exc:  # a missing or non-numeric field
        raise DatasetError(f"malformed annotation {xml}: {exc}") from exc
    if width <= 0 or height <= 0:  # a few annotations lack the size: read the JPEG header
        try:
            with Image.open(folder.parent / path) as image:
                width, height = image.size
        except OSError as exc:
            raise DatasetError(f"{xml} has no image size and {path} is unreadable") from exc
    # VOC boxes are 1-based inclusive pixel ranges: pixels xmin..xmax span [xmin - 1, xmax].
    spans = np.array(boxes, dtype=float).reshape(-1, 4) - [1, 1, 0, 0]
    spans = np.clip(spans, 0, [width, height, width, height])
    share = union_area(spans) / (width * height)
    return (image_id, year, path, tuple(sorted(labels)), width, height, len(boxes), share)


def union_area(boxes: np.ndarray) -> float:
    """Area of the union of boxes ``(x0, y0, x1, y1)``; overlapping parts count once.

    The box edges cut the plane into grid cells that lie either wholly inside a
    box or wholly outside all of them, so summing the covered cells is exact.
    """
    if len(boxes) == 0:
        return 0.0
    xs, ys = np.unique(boxes[:, [0, 2]]), np.unique(boxes[:, [1, 3]])
    cx, cy = (xs[:-1] + xs[1:]) / 2, (ys[:-1] + ys[1:]) / 2
    in_x = (boxes[:, [0]] <= cx) & (cx <= boxes[:, [2]])  # (boxes, cells in x)
    in_y = (boxes[:, [1]] <= cy) & (cy <= boxes[:, [3]])
    covered = (in_y[:, :, None] & in_x[:, None, :]).any(axis=0)
    return float((covered * np.outer(np.diff(ys), np.diff(xs))).sum())
