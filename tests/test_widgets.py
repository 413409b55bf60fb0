"""The epoch scrubber: its data, the static Plotly version and the live ipywidgets version."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from agreement_core.records import RecordStore  # noqa: E402
from agreement_core.widgets import (  # noqa: E402
    LABEL_PX,
    NARROW_PX,
    THUMBNAIL_PX,
    LiveEpochScrubber,
    PlotlyHTML,
    epoch_scrubber,
    scrubber_data,
    scrubber_script,
)

N, K, E = 60, 3, 5


@pytest.fixture
def store(tmp_path):
    """Example n is learned by every network from epoch 1 + n % E on (never when n % 6 == 5)."""
    targets = np.arange(N) % 3
    store = RecordStore.create(tmp_path / "s", num_networks=K, num_epochs=E, num_classes=3,
                               splits={"train": (np.arange(N) + 100, targets)})
    learned = 1 + np.arange(N) % E
    for k in range(K):
        for epoch in range(1, E + 1):
            right = (epoch >= learned) & (np.arange(N) % 6 != 5)
            store.write_epoch(k, "train", epoch, np.where(right, targets, (targets + 1) % 3))
    return store


@pytest.fixture
def data(store):
    images = np.zeros((N, 8, 8, 3), np.uint8)
    images[..., 0] = np.arange(N)[:, None, None]  # red channel = row, to find images again
    stats = pd.DataFrame({"example_id": np.arange(N) + 100, "detail": np.arange(N, dtype=float),
                          "label": np.arange(N) % 3})
    return scrubber_data(store, "train", images, stats, max_images=4, bins=6)


def test_newly_agreed_are_the_examples_learned_at_that_epoch(data):
    assert data.epochs.tolist() == list(range(1, E + 1))
    assert data.statistics == ["detail"]  # label is not a statistic
    never = np.arange(N) % 6 == 5
    for i, epoch in enumerate(data.epochs):
        new = np.flatnonzero((1 + np.arange(N) % E == epoch) & ~never)
        assert data.num_new[i] == len(new)
        assert set(data.newly_agreed[i]) <= set(new) and len(data.newly_agreed[i]) == 4
        assert data.num_agreed[i] == int(((1 + np.arange(N) % E <= epoch) & ~never).sum())
        # the agreed histogram holds exactly the agreed examples
        assert data.counts["detail"][i].sum() == data.num_agreed[i]
    assert data.all_counts["detail"].sum() == N
    assert data.tpa[-1] == pytest.approx(1.0)  # all networks identical


def test_scrubber_curve_is_the_agreement_table(store, data):
    from agreement_core.agreement import agreement_table

    table = agreement_table(store, "train")
    assert data.epochs.tolist() == table["epoch"].tolist()
    for name in ("tpa", "lower_bound", "mean_acc"):
        assert getattr(data, name).tolist() == table[name].tolist(), name  # exactly
    assert data.num_agreed.tolist() == table["n_all_correct"].tolist()


def test_montage_places_the_chosen_images(data):
    grid = data.montage(2, columns=2, rows=2, pad=1)
    assert grid.shape == (2 * 9 + 1, 2 * 9 + 1, 3)
    assert grid[1, 1, 0] == data.newly_agreed[2][0]  # first tile is the first chosen image


def test_static_scrubber_has_one_frame_per_epoch_and_a_slider(data):
    fig = epoch_scrubber(data)
    assert [f.name for f in fig.frames] == [str(e) for e in data.epochs]
    assert len(fig.layout.sliders[0].steps) == E
    # The image grid is a layout image (a URL in the book: fetched when its epoch is shown).
    sources = [f.layout.images[0].source for f in fig.frames]
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert len(set(sources)) == E  # a different image grid at every epoch
    assert fig.layout.images[0].source == sources[0]
    grid = fig.layout.images[0]
    assert (grid.xref, grid.yref, grid.sizing) == ("x2", "y2", "stretch")
    assert list(fig.layout.xaxis2.range) == [0, grid.sizex]
    assert list(fig.layout.yaxis2.range) == [grid.sizey, 0]  # top row first
    assert "epoch 3" in fig.frames[2].layout.title.text
    assert fig.layout.yaxis.automargin  # the y title is not cut off on a phone
    html = PlotlyHTML(fig, css_class="epoch-scrubber", post_script=scrubber_script()).html()
    assert html.startswith('<div class="epoch-scrubber">')
    assert "cdn" not in html.lower() and "<script src" not in html  # plotly.js comes from the page
    assert "ArrowRight" in html and "{plot_id}" not in html
    # Drawn once the book's loader (or a plain plotly.js) has brought Plotly.
    assert "window.agreementPlotly" in html and "Plotly.addFrames(gd" in html
    assert "</script>" not in html[html.index("<script"):-len("</script></div>")]
    with pytest.raises(ValueError, match="no statistic"):
        epoch_scrubber(data, "nope")


def test_live_scrubber_redraws_on_slider_and_dropdown(data):
    live = LiveEpochScrubber(data)
    assert live.shown == (1, "detail")
    assert (live.slider.min, live.slider.max) == (1, E)
    live.slider.value = 4
    assert live.shown == (4, "detail")
    fig = live.draw(2, "detail")
    assert "epoch 2" in fig._suptitle.get_text()
    with pytest.raises(ValueError, match="not recorded"):
        live.draw(E + 1)


def test_bad_inputs_are_rejected(store):
    with pytest.raises(ValueError, match="uint8"):
        scrubber_data(store, "train", np.zeros((N, 8, 8, 3)))
    with pytest.raises(ValueError, match="lack"):
        scrubber_data(store, "train", np.zeros((N, 8, 8, 3), np.uint8),
                      pd.DataFrame({"example_id": [100], "x": [1.0]}))


def test_title_names_the_dataset_and_thumbnails_carry_class_names(store):
    images = np.zeros((N, 8, 8, 3), np.uint8)
    data = scrubber_data(store, "train", images, dataset="cifar10", max_images=4)
    assert data.dataset == "CIFAR-10"
    assert data.labels[:3].tolist() == ["airplane", "automobile", "bird"]  # targets 0, 1, 2
    fig = epoch_scrubber(data)
    assert fig.layout.title.text.startswith("CIFAR-10 train set, epoch 1:")
    assert fig.frames[2].layout.title.text.startswith("CIFAR-10 train set, epoch 3:")
    named = scrubber_data(store, "train", images, class_names=["a", "b", "c"])
    assert named.dataset == "" and named.labels[:3].tolist() == ["a", "b", "c"]
    unnamed = scrubber_data(store, "train", images, dataset="imagenette")
    assert unnamed.dataset == "Imagenette" and unnamed.labels[0] == "class 0"


def test_montage_enlarges_thumbnails_and_writes_labels_under_them(data):
    plain = data.montage(0, columns=2, rows=2, pad=1)
    grid = data.montage(0, columns=2, rows=2, pad=1, scale=3, label_size=10)
    assert grid.shape == (2 * (24 + 14 + 1) + 1, 2 * (24 + 1) + 1, 3)
    assert plain.shape == (2 * 9 + 1, 2 * 9 + 1, 3)
    first = data.newly_agreed[0][0]
    assert (grid[1:25, 1:25, 0] == first).all()  # the image, three times as large
    label_strip = grid[25:39, 1:25]
    assert (label_strip < 128).any()  # dark text on white under the image


def test_scrubber_layouts_wide_and_narrow(data):
    fig = epoch_scrubber(data)
    meta = fig.layout.meta
    assert meta["thumbnail_px"] >= THUMBNAIL_PX and meta["label_px"] == LABEL_PX
    assert meta["narrow_px"] == NARROW_PX
    wide, narrow = meta["wide"], meta["narrow"]
    assert list(fig.layout.xaxis.domain) == wide["xaxis.domain"]  # drawn wide
    assert wide["xaxis2.domain"][0] > wide["xaxis.domain"][1]  # images beside the curve
    assert all(narrow[f"xaxis{a}.domain"] == [0, 1] for a in ("", "2", "3"))  # stacked
    tops = sorted((narrow[f"yaxis{a}.domain"] for a in ("", "2", "3")), reverse=True)
    assert all(upper[0] > lower[1] for upper, lower in zip(tops, tops[1:], strict=False))
    assert narrow["height"] > wide["height"]
    script = scrubber_script(500)
    assert "< 500" in script and "meta[want]" in script and "sliders[0].active" in script
