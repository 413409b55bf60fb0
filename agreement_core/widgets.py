"""The epoch scrubber: scrub through training and see what the K networks agree on.

For the chosen epoch it shows the agreement curve with a marker at that epoch,
a grid of example images that became agreed upon at that epoch (all K networks
correct now, not all at the epoch before), and the histogram of an image
statistic over the agreed examples against all examples.

Two front ends share one data object, :class:`ScrubberData`:

- :func:`epoch_scrubber` builds a Plotly figure whose frames hold every epoch,
  so the slider works in the static HTML book with no kernel running;
- :class:`LiveEpochScrubber` is an ipywidgets slider and drop-down redrawing a
  matplotlib figure, for a live Jupyter session.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import numpy as np
import pandas as pd
from PIL import Image

from .agreement import epoch_agreement
from .plots import ACCURACY_COLOR, AGREEMENT_COLOR, STATISTIC_COLOR


@dataclass
class ScrubberData:
    """Everything the scrubber shows, per epoch (epochs are 1-based).

    ``newly_agreed[e]`` holds up to ``max_images`` row indices (into ``images``)
    of the examples agreed upon from epoch ``epochs[e]`` on; ``counts[s]`` is an
    ``(E, bins)`` array of the agreed examples' histogram of statistic ``s`` over
    ``edges[s]``, and ``all_counts[s]`` the histogram of all examples.
    """

    split: str
    epochs: np.ndarray
    tpa: np.ndarray
    lower_bound: np.ndarray
    mean_acc: np.ndarray
    num_agreed: np.ndarray
    num_new: np.ndarray
    newly_agreed: list[np.ndarray]
    images: np.ndarray
    edges: dict[str, np.ndarray]
    counts: dict[str, np.ndarray]
    all_counts: dict[str, np.ndarray]
    caption: str = ""

    @property
    def statistics(self) -> list[str]:
        return list(self.edges)

    def montage(self, index: int, columns: int = 4, rows: int = 4, pad: int = 2) -> np.ndarray:
        """The image grid of epoch index ``index`` as one uint8 RGB array (white padding)."""
        h, w = self.images.shape[1:3]
        grid = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad, 3), 255, np.uint8)
        for slot, row in enumerate(self.newly_agreed[index][:rows * columns]):
            y, x = divmod(slot, columns)
            top, left = pad + y * (h + pad), pad + x * (w + pad)
            grid[top:top + h, left:left + w] = self.images[row]
        return grid


def scrubber_data(store, split: str, images: np.ndarray, statistics: pd.DataFrame | None = None,
                  columns=None, *, max_images: int = 16, bins: int = 20, seed: int = 0,
                  caption: str = "") -> ScrubberData:
    """Collect :class:`ScrubberData` from a record store (one pass over its epochs).

    Parameters
    ----------
    store : RecordStore
    split : str
    images : ndarray, uint8, (N, H, W, 3)
        The split's images in the store's example order (thumbnails are fine).
    statistics : DataFrame, optional
        Keyed by ``example_id``, covering the store's examples.
    columns : list of str, optional
        Statistics to histogram (default: every numeric column but ids and labels).
    max_images : int
        Images shown per epoch, a seeded random choice of the newly agreed.
    bins : int
        Histogram bins between each statistic's minimum and maximum.
    """
    ids = store.example_ids(split)
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or len(images) != len(ids):
        raise ValueError(f"images must be uint8 (N, H, W, C) with N = {len(ids)} examples of "
                         f"the {split} split, got {images.dtype} {images.shape}")
    values = {}
    if statistics is not None:
        table = statistics.set_index("example_id")
        missing = ~np.isin(ids, table.index.to_numpy())
        if missing.any():
            raise ValueError(f"the statistics lack {int(missing.sum())} of the {split} examples")
        skip = {"label", "labels", "split"}
        columns = columns or [c for c in table.columns if c not in skip
                              and pd.api.types.is_numeric_dtype(table[c])]
        for column in columns:
            v = table[column].reindex(ids).to_numpy(dtype=np.float64)
            if np.isfinite(v).any():
                values[column] = v
    edges = {c: np.histogram_bin_edges(v[np.isfinite(v)], bins=bins) for c, v in values.items()}
    all_counts = {c: np.histogram(v[np.isfinite(v)], edges[c])[0] for c, v in values.items()}
    counts = {c: [] for c in values}
    rng = np.random.default_rng(seed)
    rows = {k: [] for k in ("epoch", "tpa", "lower_bound", "mean_acc", "agreed", "new")}
    newly, previous = [], np.zeros(len(ids), dtype=bool)
    for record in store.iter_epochs(split):
        # The agreed set and the curve's numbers come from the record's one computation.
        agreed = record.agreed
        summary = epoch_agreement(record)
        new = np.flatnonzero(agreed & ~previous)
        newly.append(np.sort(rng.permutation(new)[:max_images]))
        rows["epoch"].append(record.epoch)
        rows["tpa"].append(summary["tpa"])
        rows["lower_bound"].append(summary["lower_bound"])
        rows["mean_acc"].append(summary["mean_acc"])
        rows["agreed"].append(summary["n_all_correct"])
        rows["new"].append(len(new))
        for column, v in values.items():
            chosen = v[agreed]
            counts[column].append(np.histogram(chosen[np.isfinite(chosen)], edges[column])[0])
        previous = agreed
    if not rows["epoch"]:
        raise ValueError(f"the store has no recorded epochs for {split}")
    return ScrubberData(split=split, epochs=np.array(rows["epoch"]), tpa=np.array(rows["tpa"]),
                        lower_bound=np.array(rows["lower_bound"]),
                        mean_acc=np.array(rows["mean_acc"]),
                        num_agreed=np.array(rows["agreed"]), num_new=np.array(rows["new"]),
                        newly_agreed=newly, images=images, edges=edges,
                        counts={c: np.array(v) for c, v in counts.items()},
                        all_counts=all_counts, caption=caption)


def _png_uri(array: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total else np.zeros(len(counts))


def _frame_title(data: ScrubberData, i: int) -> str:
    return (f"{data.split} set, epoch {data.epochs[i]}: {data.num_agreed[i]} agreed "
            f"({data.num_new[i]} newly)")


def epoch_scrubber(data: ScrubberData, statistic: str | None = None, *, height: int = 540):
    """A Plotly figure with one frame per epoch and a slider: works in static HTML.

    Panels: the agreement curve (TPa, lower bound, mean accuracy) with a marker
    at the chosen epoch; the grid of images newly agreed upon at that epoch; the
    distribution (share per bin) of a statistic over the agreed examples against
    all examples. A drop-down chooses the statistic.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    stats = data.statistics
    if statistic is not None and statistic not in stats:
        raise ValueError(f"no statistic {statistic!r}; have {stats}")
    statistic = statistic or (stats[0] if stats else None)
    fig = make_subplots(rows=1, cols=3, column_widths=[0.38, 0.27, 0.35],
                        horizontal_spacing=0.1,
                        subplot_titles=("agreement", "newly agreed at this epoch",
                                        "statistic: agreed vs all examples"))
    e = data.epochs
    fig.add_trace(go.Scatter(x=e, y=data.tpa, name="true-positive agreement",
                             line=dict(color=AGREEMENT_COLOR)), 1, 1)
    fig.add_trace(go.Scatter(x=e, y=data.lower_bound, name="lower bound",
                             line=dict(color=AGREEMENT_COLOR, dash="dash")), 1, 1)
    fig.add_trace(go.Scatter(x=e, y=data.mean_acc, name="mean accuracy",
                             line=dict(color=ACCURACY_COLOR)), 1, 1)
    fig.add_trace(go.Scatter(x=[e[0]], y=[data.tpa[0]], mode="markers", name="chosen epoch",
                             marker=dict(size=13, color="black", symbol="diamond")), 1, 1)
    fig.add_trace(go.Image(source=_png_uri(data.montage(0)), name="newly agreed",
                           hoverinfo="skip"), 1, 2)
    first_hist = len(fig.data)
    for s in stats:
        centers = (data.edges[s][1:] + data.edges[s][:-1]) / 2
        width = float(np.diff(data.edges[s]).mean())
        visible = s == statistic
        fig.add_trace(go.Bar(x=centers, y=_shares(data.all_counts[s]), width=width,
                             name=f"all examples ({s})", marker_color="lightgray",
                             visible=visible, legendgroup="hist"), 1, 3)
        fig.add_trace(go.Bar(x=centers, y=_shares(data.counts[s][0]), width=width * 0.6,
                             name=f"agreed ({s})", marker_color=STATISTIC_COLOR,
                             visible=visible, legendgroup="hist"), 1, 3)
    moving = [3, 4] + [first_hist + 2 * j + 1 for j in range(len(stats))]
    frames = []
    for i, epoch in enumerate(e):
        frame_data = [go.Scatter(x=[epoch], y=[data.tpa[i]]),
                      go.Image(source=_png_uri(data.montage(i)))]
        frame_data += [go.Bar(y=_shares(data.counts[s][i])) for s in stats]
        frames.append(go.Frame(name=str(epoch), data=frame_data, traces=moving,
                               layout=dict(title_text=_frame_title(data, i))))
    fig.frames = frames
    step_args = dict(mode="immediate", frame=dict(duration=0, redraw=True),
                     transition=dict(duration=0))
    fig.update_layout(
        height=height, title_text=_frame_title(data, 0), bargap=0, barmode="overlay",
        legend=dict(orientation="h", y=-0.62, x=0),
        margin=dict(t=90, b=120, l=50, r=20),
        sliders=[dict(active=0, currentvalue=dict(prefix="epoch "), pad=dict(t=45),
                      steps=[dict(label=str(epoch), method="animate",
                                  args=[[str(epoch)], step_args]) for epoch in e])])
    if len(stats) > 1:
        buttons = []
        for s in stats:
            visible = [True] * first_hist + [t == s for t in stats for _ in (0, 1)]
            buttons.append(dict(label=s, method="update",
                                args=[{"visible": visible}, {"xaxis3.title.text": s}]))
        fig.update_layout(updatemenus=[dict(buttons=buttons, x=1.0, y=1.3, xanchor="right",
                                            active=stats.index(statistic))])
    fig.update_xaxes(title_text="epoch", row=1, col=1)
    fig.update_yaxes(title_text="fraction of examples", range=[0, 1], row=1, col=1)
    fig.update_xaxes(visible=False, row=1, col=2)
    fig.update_yaxes(visible=False, row=1, col=2)
    fig.update_xaxes(title_text=statistic or "", row=1, col=3)
    fig.update_yaxes(title_text="share of examples", row=1, col=3)
    return fig


class PlotlyHTML:
    """Display a Plotly figure so that it works offline in the book and live in Jupyter.

    The HTML expects plotly.js on the page (the book serves it from its own
    static files; no CDN); JupyterLab renders the Plotly JSON instead.
    """

    def __init__(self, fig, div_id: str | None = None, css_class: str = "plotly-figure"):
        self.fig, self.div_id, self.css_class = fig, div_id, css_class

    def html(self) -> str:
        inner = self.fig.to_html(include_plotlyjs=False, full_html=False, div_id=self.div_id,
                                 auto_play=False, config={"responsive": True})
        return f'<div class="{self.css_class}">{inner}</div>'

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/html": self.html(),
                "application/vnd.plotly.v1+json": self.fig.to_plotly_json()}


class LiveEpochScrubber:
    """ipywidgets version for a live kernel: an epoch slider and a statistic drop-down.

    ``widget`` is the box to display; :meth:`draw` renders one state as a
    matplotlib figure (also usable without widgets).
    """

    def __init__(self, data: ScrubberData, statistic: str | None = None):
        import ipywidgets as widgets

        self.data = data
        self.shown: tuple[int, str | None] | None = None
        self.slider = widgets.IntSlider(value=int(data.epochs[0]), min=int(data.epochs[0]),
                                        max=int(data.epochs[-1]), description="epoch",
                                        continuous_update=False)
        options = data.statistics or [None]
        self.statistic = widgets.Dropdown(options=options,
                                          value=statistic if statistic else options[0],
                                          description="statistic")
        self.output = widgets.Output()
        self.widget = widgets.VBox([widgets.HBox([self.slider, self.statistic]), self.output])
        self.slider.observe(self._update, names="value")
        self.statistic.observe(self._update, names="value")
        self._update()

    def _update(self, change=None) -> None:
        import matplotlib.pyplot as plt
        from IPython.display import display

        self.output.clear_output(wait=True)
        with self.output:
            fig = self.draw(self.slider.value, self.statistic.value)
            display(fig)
            plt.close(fig)

    def draw(self, epoch: int, statistic: str | None = None):
        import matplotlib.pyplot as plt

        data = self.data
        i = int(np.searchsorted(data.epochs, epoch))
        if i >= len(data.epochs) or data.epochs[i] != epoch:
            raise ValueError(f"epoch {epoch} not recorded; have {data.epochs.tolist()}")
        fig, (a, b, c) = plt.subplots(1, 3, figsize=(13, 3.6),
                                      gridspec_kw=dict(width_ratios=[1.3, 1, 1.2]))
        a.plot(data.epochs, data.tpa, color=AGREEMENT_COLOR, label="true-positive agreement")
        a.plot(data.epochs, data.lower_bound, "--", color=AGREEMENT_COLOR, label="lower bound")
        a.plot(data.epochs, data.mean_acc, color=ACCURACY_COLOR, label="mean accuracy")
        a.plot([epoch], [data.tpa[i]], "kD", markersize=9)
        a.set(xlabel="epoch", ylim=(0, 1), title="agreement")
        a.legend(fontsize=7, loc="lower right")
        b.imshow(data.montage(i))
        b.set_axis_off()
        b.set_title("newly agreed at this epoch")
        if statistic:
            edges = data.edges[statistic]
            centers, width = (edges[1:] + edges[:-1]) / 2, np.diff(edges)
            c.bar(centers, _shares(data.all_counts[statistic]), width, color="lightgray",
                  label="all examples")
            c.bar(centers, _shares(data.counts[statistic][i]), width * 0.6,
                  color=STATISTIC_COLOR, label="agreed")
            c.set(xlabel=statistic, ylabel="share of examples")
            c.legend(fontsize=7)
        fig.suptitle(_frame_title(data, i), fontsize=10)
        fig.tight_layout()
        self.shown = (epoch, statistic)
        return fig


def show_scrubbers(scrubbers: dict) -> None:
    """Show the embedded epoch scrubber of every entry with its caption below it.

    Parameters
    ----------
    scrubbers : dict of str to ScrubberData
        Label (e.g. ``"cifar10 train"``) -> data; the caption reads
        ``"<label> set. <data.caption>"``.
    """
    from IPython.display import Markdown, display

    for label, data in scrubbers.items():
        display(PlotlyHTML(epoch_scrubber(data), css_class="epoch-scrubber"))
        display(Markdown(f"*{label} set. {data.caption}*"))


__all__ = ["LiveEpochScrubber", "PlotlyHTML", "ScrubberData", "epoch_scrubber",
           "scrubber_data", "show_scrubbers"]
