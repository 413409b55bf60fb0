"""wrap_dataset hands inputs on as they are: float tensors keep their values and channels,
text and tabular rows work, and only the image statistics ask for 8-bit images."""

import numpy as np
import pytest
import torch

from agreement_core.data import wrap_dataset
from agreement_core.errors import ConfigError


def test_a_normalised_float_tensor_keeps_its_values_and_its_one_channel():
    image = torch.tensor([-1.5, -0.2, 0.5, 0.99]).reshape(1, 2, 2)
    wrapped = wrap_dataset([(image, 0), (image * 2, 1)], classes=["a", "b"])
    got, target, example_id = wrapped[0]
    assert (target, example_id) == (0, 0)
    assert got.shape == (1, 2, 2) and got.dtype == torch.float32
    torch.testing.assert_close(got, image)              # not [0, 0, 127, 252] in RGB
    torch.testing.assert_close(wrapped[1][0], image * 2)
    with pytest.raises(ConfigError, match=r"custom\[0\] is a float32 array .* not an 8-bit"):
        wrapped.load_image(0)
    # A transform sees the input as the dataset gives it.
    shifted = wrap_dataset([(image, 0)], transform=lambda x: x + 1)
    torch.testing.assert_close(shifted[0][0], image + 1)


def test_uint8_images_still_feed_the_image_statistics():
    gray = np.arange(16, dtype=np.uint8).reshape(4, 4)
    wrapped = wrap_dataset([(gray, 0)])
    np.testing.assert_array_equal(wrapped[0][0], gray)  # the input itself
    assert wrapped.load_array().shape == (1, 4, 4, 3)   # RGB for the statistics only


class _Rows:
    def __init__(self, rows):
        self.rows = rows

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        return self.rows[i]


def test_text_and_tabular_rows_are_wrapped_without_an_image():
    texts = _Rows([{"text": f"review {i}", "label": i % 2, "uid": 10 + i} for i in range(4)])
    wrapped = wrap_dataset(texts, id_key="uid")
    assert wrapped[2] == ("review 2", 0, 12)
    assert wrapped.example_ids.tolist() == [10, 11, 12, 13]
    rows = _Rows([{"age": 30 + i, "income": 1.5 * i, "label": i % 3} for i in range(3)])
    assert wrap_dataset(rows)[1] == ({"age": 31, "income": 1.5}, 1, 1)
    with pytest.raises(ConfigError, match="no input besides"):
        wrap_dataset(_Rows([{"label": 0}]))
