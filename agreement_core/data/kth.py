"""KTH-TIPS2-b: 11 materials, 4 physical samples each, photographed under varied conditions."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from .. import locations
from ..errors import DatasetError
from .base import ImageDataset, Subset

KTH_MATERIALS = ("aluminium_foil", "brown_bread", "corduroy", "cork", "cotton", "cracker",
                 "lettuce_leaf", "linen", "white_bread", "wood", "wool")
KTH_URL = "https://www.csc.kth.se/cvap/databases/kth-tips/"
SPLIT_SAMPLES = {"train": ("b", "c", "d"), "test": ("a",)}
# Image number i (1..12) encodes the pose and the illumination.
POSES = {i: pose for pose, numbers in (("frontal", (1, 2, 3, 10)), ("right", (4, 5, 6, 11)),
                                       ("left", (7, 8, 9, 12))) for i in numbers}
ILLUMINATIONS = {i: light for light, numbers in (
    ("frontal", (1, 4, 7)), ("top", (2, 5, 8)), ("side", (3, 6, 9)), ("ambient", (10, 11, 12)))
    for i in numbers}
_NAME = re.compile(r"(?P<id>\d+)(?P<sample>[a-d])-scale_(?P<scale>\d+)_im_(?P<im>\d+)_col\.png")


class KTHTIPS2b(ImageDataset):
    """KTH-TIPS2-b: ``<root>/<material>/sample_<x>/<id><x>-scale_<s>_im_<i>_col.png``.

    The label is the material. ``"test"`` is ``sample_a`` of every material,
    ``"train"`` samples b, c and d. The canonical order (and so the example id)
    is the sorted relative path. Factor columns: ``material``, ``sample``
    (a..d), ``scale`` (2..10), ``image_number`` (1..12), ``pose`` (frontal,
    right = turned 22.5 degrees right, left) and ``illumination`` (frontal, top
    = 45 degrees from the top, side = 45 degrees from the side, ambient).

    Parameters
    ----------
    split : {"train", "test"}
    root : path, optional
        The folder of material folders, or one holding ``KTH-TIPS2-b/`` (default
        :func:`agreement_core.locations.data_root`).
    mirror : path, optional
        Accepted for a uniform interface; KTH-TIPS2-b is not in the offline mirror.
    transform : callable, optional
        Applied to the PIL image in ``__getitem__``.
    subset : int, float or None
        See :func:`~agreement_core.data.select_subset`.
    """

    splits = ("train", "test")

    def __init__(self, split: str = "train", root: str | os.PathLike | None = None,
                 mirror: str | os.PathLike | None = None, transform: Callable | None = None,
                 subset: Subset = None):
        split = self.check_split(split)
        base = locations.data_root(root)
        folder = base / "KTH-TIPS2-b" if (base / "KTH-TIPS2-b").is_dir() else base
        materials = [m for m in KTH_MATERIALS if (folder / m).is_dir()]
        if not materials:
            raise DatasetError(
                f"no material folders ({', '.join(KTH_MATERIALS)}) in {folder}. KTH-TIPS2-b "
                f"is not in the offline mirror: download KTH-TIPS2-b_col_200x200.tar from "
                f"{KTH_URL} and extract it into the data root (giving KTH-TIPS2-b/<material>/"
                f"sample_<x>/*.png); the dataset 'dtd' is the offline texture stand-in, "
                f"without illumination, pose or scale factors.")
        files = sorted(path.relative_to(folder).as_posix()
                       for material in materials for sample in SPLIT_SAMPLES[split]
                       for path in (folder / material / f"sample_{sample}").glob("*")
                       if path.suffix.lower() == ".png")
        examples = pd.DataFrame([_parse(folder, rel) for rel in files], columns=[
            "path", "label", "class_name", "material", "sample", "scale", "image_number",
            "pose", "illumination"])
        examples.insert(0, "example_id", np.arange(len(examples), dtype=np.int64))
        examples.insert(1, "split", split)
        super().__init__(split, folder, KTH_MATERIALS, examples, source="kth",
                         transform=transform, subset=subset)


def _parse(folder: Path, rel: str) -> tuple:
    """The example row of ``<material>/sample_<x>/<file>``; a malformed name is an error."""
    material, sample_dir, name = rel.split("/")
    match = _NAME.fullmatch(name)
    if (match is None or sample_dir != f"sample_{match['sample']}"
            or not 2 <= int(match["scale"]) <= 10 or int(match["im"]) not in POSES):
        raise DatasetError(f"{folder / rel}: not a KTH-TIPS2-b file name "
                           f"(<id><sample>-scale_<2..10>_im_<1..12>_col.png in sample_<sample>/)")
    i = int(match["im"])
    return (rel, KTH_MATERIALS.index(material), material, material, match["sample"],
            int(match["scale"]), i, POSES[i], ILLUMINATIONS[i])
