"""The epoch scrubber: scrub through training and see what the K networks agree on.

For the chosen epoch it shows the agreement curve with a marker at that epoch,
a grid of example images that became agreed upon at that epoch (all K networks
correct now, not all at the epoch before), and the histogram of an image
statistic over the agreed examples against all examples.

Two front ends share one data object, :class:`ScrubberData`:

- :func:`epoch_scrubber` builds a Plotly figure whose frames hold every epoch,
  so the slider works in the static HTML book with no kernel running (each epoch's image
  grid is a layout image: the book serves it as a file, fetched when the slider reaches
  that epoch);
- :class:`LiveEpochScrubber` is an ipywidgets slider and drop-down redrawing a
  matplotlib figure, for a live Jupyter session.

In the book (:func:`show_scrubbers`) the static scrubber stacks its panels on narrow
screens, and the arrow keys move its slider once it has the focus (:func:`scrubber_script`).
"""

from __future__ import annotations

import base64
import io
import json
import uuid
from dataclasses import dataclass

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFont

from .agreement import epoch_agreement
from .plots import ACCURACY_COLOR, AGREEMENT_COLOR, STATISTIC_COLOR


@dataclass
class ScrubberData:
    """Everything the scrubber shows, per epoch (epochs are 1-based).

    ``newly_agreed[e]`` holds up to ``max_images`` row indices (into ``images``)
    of the examples agreed upon from epoch ``epochs[e]`` on; ``counts[s]`` is an
    ``(E, bins)`` array of the agreed examples' histogram of statistic ``s`` over
    ``edges[s]``, and ``all_counts[s]`` the histogram of all examples. ``labels`` holds
    each image's class name (shown under its thumbnail) and ``dataset`` the dataset's
    name (in the title).
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
    labels: np.ndarray | None = None
    dataset: str = ""

    @property
    def statistics(self) -> list[str]:
        return list(self.edges)

    def montage(self, index: int, columns: int = 4, rows: int = 4, pad: int = 2, *,
                scale: int = 1, label_size: int = 0) -> np.ndarray:
        """The image grid of epoch index ``index`` as one uint8 RGB array (white padding).

        ``scale`` enlarges every image (nearest neighbour); with ``label_size`` (font size
        in pixels) each image's class name is written under it.
        """
        images = self.images
        if images.shape[-1] == 1:
            images = np.repeat(images, 3, axis=-1)
        if scale > 1:
            images = images.repeat(scale, axis=1).repeat(scale, axis=2)
        h, w = images.shape[1:3]
        text = label_size + 4 if label_size and self.labels is not None else 0
        cell_h = h + text
        grid = np.full((rows * (cell_h + pad) + pad, columns * (w + pad) + pad, 3), 255,
                       np.uint8)
        chosen = self.newly_agreed[index][:rows * columns]
        for slot, row in enumerate(chosen):
            y, x = divmod(slot, columns)
            top, left = pad + y * (cell_h + pad), pad + x * (w + pad)
            grid[top:top + h, left:left + w] = images[row]
        if text:
            picture = Image.fromarray(grid)
            draw = ImageDraw.Draw(picture)
            font = _font(label_size)
            for slot, row in enumerate(chosen):
                y, x = divmod(slot, columns)
                name = _fit(str(self.labels[row]), font, w)
                left = pad + x * (w + pad) + (w - font.getlength(name)) / 2
                draw.text((left, pad + y * (cell_h + pad) + h + 1), name, fill=(40, 40, 40),
                          font=font)
            grid = np.asarray(picture)
        return grid


def _font(size: int):
    """Pillow's built-in font at ``size`` pixels (a bitmap font where FreeType is missing)."""
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ImportError, OSError):  # Pillow < 10.1 or no FreeType
        return ImageFont.load_default()


def _fit(text: str, font, width: float) -> str:
    """``text``, shortened with an ellipsis until it is at most ``width`` pixels long."""
    if font.getlength(text) <= width:
        return text
    while text and font.getlength(text + "…") > width:
        text = text[:-1]
    return text + "…"


#: How the scrubber's title names the datasets (others by their own name).
DATASET_NAMES = {"cifar10": "CIFAR-10", "imagenette": "Imagenette", "imagenet": "ImageNet",
                 "voc": "Pascal VOC", "dtd": "DTD", "kth": "KTH-TIPS2-b"}


def _known_classes(dataset: str):
    """The class names of the datasets that have fixed ones (else None)."""
    if dataset == "cifar10":
        from .data import CIFAR10_CLASSES
        return CIFAR10_CLASSES
    if dataset == "voc":
        from .data import VOC_CLASSES
        return VOC_CLASSES
    return None


def _class_labels(targets: np.ndarray, class_names) -> np.ndarray:
    """One name per example: the class name (index where unnamed); label sets joined by +."""
    def name(k):
        return str(class_names[k]) if class_names is not None and k < len(class_names) \
            else f"class {k}"
    if targets.ndim == 2:  # multi-label: bool (N, C)
        return np.array(["+".join(name(k) for k in np.flatnonzero(t)) or "none"
                         for t in targets])
    return np.array([name(int(k)) for k in targets])


def scrubber_data(store, split: str, images: np.ndarray, statistics: pd.DataFrame | None = None,
                  columns=None, *, max_images: int = 16, bins: int = 20, seed: int = 0,
                  caption: str = "", class_names=None, dataset: str | None = None
                  ) -> ScrubberData:
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
    class_names : sequence of str, optional
        Names of the classes, for the labels under the thumbnails (default: the dataset's
        fixed names where it has them, CIFAR-10 and Pascal VOC; else "class k").
    dataset : str, optional
        The dataset's name for the title (default: the store's configuration's).
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
    if dataset is None:
        dataset = str((getattr(store, "meta", None) or {}).get("config", {}).get("dataset", ""))
    labels = _class_labels(np.asarray(store.targets(split)),
                           class_names if class_names is not None else _known_classes(dataset))
    return ScrubberData(split=split, epochs=np.array(rows["epoch"]), tpa=np.array(rows["tpa"]),
                        lower_bound=np.array(rows["lower_bound"]),
                        mean_acc=np.array(rows["mean_acc"]),
                        num_agreed=np.array(rows["agreed"]), num_new=np.array(rows["new"]),
                        newly_agreed=newly, images=images, edges=edges,
                        counts={c: np.array(v) for c, v in counts.items()},
                        all_counts=all_counts, caption=caption, labels=labels,
                        dataset=DATASET_NAMES.get(dataset, dataset))


def _png_uri(array: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total else np.zeros(len(counts))


def _frame_title(data: ScrubberData, i: int, sep: str = " ") -> str:
    """``"<dataset> <split> set, epoch <e>:<sep><n> agreed (<m> newly)"``."""
    name = f"{data.dataset} " if data.dataset else ""
    return (f"{name}{data.split} set, epoch {data.epochs[i]}:{sep}{data.num_agreed[i]} "
            f"agreed ({data.num_new[i]} newly)")


#: Thumbnails in the scrubber: at least this many image pixels a side (small images are
#: enlarged by a whole factor), with the class name under each in a font of this size.
THUMBNAIL_PX, LABEL_PX = 64, 11
#: Container width (CSS pixels) under which the scrubber stacks its panels.
NARROW_PX = 640


def _scrubber_layouts(n_annotations: int, hist_axis: str, menu: bool) -> dict:
    """Plotly relayout updates of the scrubber's two arrangements, ``wide`` and ``narrow``.

    Wide: agreement curve over the histogram on the left, the image grid on the right, the
    slider below. Narrow (phones): the slider on top, then the image grid, the agreement
    curve and the histogram, one below the other.
    """
    h = hist_axis  # "3" for xaxis3 / yaxis3
    boxes = {
        "wide": {"": ([0, 0.46], [0.63, 1]), "2": ([0.54, 1], [0, 1]),
                 h: ([0, 0.46], [0, 0.38])},
        "narrow": {"2": ([0, 1], [0.65, 1]), "": ([0, 1], [0.32, 0.58]), h: ([0, 1], [0, 0.2])},
    }
    frame = {"wide": dict(height=720, t=95, b=195, legend=-0.37, title=15,
                          slider=dict(y=0, yanchor="top", pad=(55, 0))),
             "narrow": dict(height=1290, t=175, b=120, legend=-0.07, title=13,
                            slider=dict(y=1, yanchor="bottom", pad=(0, 32)))}
    layouts = {}
    for mode, panels in boxes.items():
        f = frame[mode]
        update = {"height": f["height"], "margin.t": f["t"], "margin.b": f["b"],
                  "title.font.size": f["title"], "title.y": 1 - 12 / f["height"],
                  "title.yanchor": "top", "legend.y": f["legend"],
                  "sliders[0].y": f["slider"]["y"], "sliders[0].yanchor": f["slider"]["yanchor"],
                  "sliders[0].pad.t": f["slider"]["pad"][0],
                  "sliders[0].pad.b": f["slider"]["pad"][1]}
        for i, axis in enumerate(["", "2", h][:n_annotations]):
            x, y = panels[axis]
            update[f"xaxis{axis}.domain"], update[f"yaxis{axis}.domain"] = x, y
            update[f"annotations[{i}].x"] = (x[0] + x[1]) / 2
            update[f"annotations[{i}].y"] = y[1]
        if menu:  # the histogram's title ("statistic:") left of the drop-down naming it
            x, y = panels[h]
            update["annotations[2].x"] = (x[0] + x[1]) / 2 - 0.01
            update["updatemenus[0].x"], update["updatemenus[0].y"] = (x[0] + x[1]) / 2, y[1]
        layouts[mode] = update
    return layouts


def _apply(fig, update: dict) -> None:
    """Apply a relayout dictionary (``"a.b[0].c": value`` keys) to a Plotly figure."""
    for key, value in update.items():
        path = key.replace("[", ".").replace("]", "").split(".")
        target = fig.layout
        for part in path[:-1]:
            target = target[int(part)] if part.isdigit() else target[part]
        target[path[-1]] = value


def epoch_scrubber(data: ScrubberData, statistic: str | None = None):
    """A Plotly figure with one frame per epoch and a slider: works in static HTML.

    Panels: the agreement curve (TPa, lower bound, mean accuracy) with a marker
    at the chosen epoch; the grid of images newly agreed upon at that epoch, each with its
    class name; the distribution (share per bin) of a statistic over the agreed examples
    against all examples. A drop-down chooses the statistic. The figure is laid out for a
    wide page; ``layout.meta`` holds the narrow arrangement (``"narrow"``, used by
    :func:`scrubber_script`), the wide one (``"wide"``) and the thumbnails' size.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    stats = data.statistics
    if statistic is not None and statistic not in stats:
        raise ValueError(f"no statistic {statistic!r}; have {stats}")
    statistic = statistic or (stats[0] if stats else None)
    fig = make_subplots(rows=2, cols=2, specs=[[{}, {"rowspan": 2}], [{}, None]],
                        subplot_titles=("agreement", "newly agreed at this epoch",
                                        "statistic:"))
    e = data.epochs
    scale = max(1, -(-THUMBNAIL_PX // data.images.shape[2]))

    grid_h, grid_w = data.montage(0, scale=scale, label_size=LABEL_PX).shape[:2]

    def grid(i):
        """The image grid of epoch index ``i`` as a layout image filling the second panel.

        A layout image, not an image trace: its source may be a URL (an image trace's must
        be a data URI), so the book can serve each epoch's grid as a file
        (``book/_ext/book_assets.py``) that is fetched only when shown.
        """
        return dict(source=_png_uri(data.montage(i, scale=scale, label_size=LABEL_PX)),
                    xref="x2", yref="y2", x=0, y=0, sizex=grid_w, sizey=grid_h,
                    xanchor="left", yanchor="top", sizing="stretch", layer="above",
                    name="newly agreed")

    fig.add_trace(go.Scatter(x=e, y=data.tpa, name="true-positive agreement",
                             line=dict(color=AGREEMENT_COLOR)), 1, 1)
    fig.add_trace(go.Scatter(x=e, y=data.lower_bound, name="lower bound",
                             line=dict(color=AGREEMENT_COLOR, dash="dash")), 1, 1)
    fig.add_trace(go.Scatter(x=e, y=data.mean_acc, name="mean accuracy",
                             line=dict(color=ACCURACY_COLOR)), 1, 1)
    fig.add_trace(go.Scatter(x=[e[0]], y=[data.tpa[0]], mode="markers", name="chosen epoch",
                             marker=dict(size=13, color="black", symbol="diamond")), 1, 1)
    # An invisible trace spanning the grid: the second panel is a subplot of its own.
    fig.add_trace(go.Scatter(x=[0, grid_w], y=[0, grid_h], mode="markers", hoverinfo="skip",
                             marker=dict(opacity=0), showlegend=False, name="image grid"),
                  1, 2)
    first_hist = len(fig.data)
    for s in stats:
        centers = (data.edges[s][1:] + data.edges[s][:-1]) / 2
        width = float(np.diff(data.edges[s]).mean())
        visible = s == statistic
        fig.add_trace(go.Bar(x=centers, y=_shares(data.all_counts[s]), width=width,
                             name=f"all examples ({s})", marker_color="lightgray",
                             visible=visible, legendgroup="hist"), 2, 1)
        fig.add_trace(go.Bar(x=centers, y=_shares(data.counts[s][0]), width=width * 0.6,
                             name=f"agreed ({s})", marker_color=STATISTIC_COLOR,
                             visible=visible, legendgroup="hist"), 2, 1)
    moving = [3] + [first_hist + 2 * j + 1 for j in range(len(stats))]
    frames = []
    for i, epoch in enumerate(e):
        frame_data = [go.Scatter(x=[epoch], y=[data.tpa[i]])]
        frame_data += [go.Bar(y=_shares(data.counts[s][i])) for s in stats]
        frames.append(go.Frame(name=str(epoch), data=frame_data, traces=moving,
                               layout=dict(title_text=_frame_title(data, i, "<br>"),
                                           images=[grid(i)])))
    fig.frames = frames
    step_args = dict(mode="immediate", frame=dict(duration=0, redraw=True),
                     transition=dict(duration=0))
    fig.update_layout(
        images=[grid(0)],
        title=dict(text=_frame_title(data, 0, "<br>"), x=0.5, xanchor="center"),
        bargap=0, barmode="overlay", autosize=True,
        legend=dict(orientation="h", x=0, yanchor="top"),
        margin=dict(l=55, r=15),
        sliders=[dict(active=0, currentvalue=dict(prefix="epoch "), x=0, len=1,
                      y=0, yanchor="top",
                      steps=[dict(label=str(epoch), method="animate",
                                  args=[[str(epoch)], step_args]) for epoch in e])])
    hist_axis = fig.data[first_hist].xaxis[1:] if stats else "3"
    if len(stats) > 1:
        buttons = []
        for s in stats:
            visible = [True] * first_hist + [t == s for t in stats for _ in (0, 1)]
            buttons.append(dict(label=s, method="update",
                                args=[{"visible": visible},
                                      {f"xaxis{hist_axis}.title.text": s}]))
        fig.update_layout(updatemenus=[dict(buttons=buttons, xanchor="left",
                                            yanchor="bottom", pad=dict(r=0, t=0, b=2),
                                            active=stats.index(statistic))])
    fig.update_xaxes(title_text="epoch", row=1, col=1)
    fig.update_yaxes(title_text="fraction of examples", range=[0, 1], row=1, col=1)
    # The grid's panel: its pixels at a fixed aspect ratio, top row first.
    fig.update_xaxes(visible=False, range=[0, grid_w], constrain="domain", row=1, col=2)
    fig.update_yaxes(visible=False, range=[grid_h, 0], constrain="domain", scaleanchor="x2",
                     row=1, col=2)
    fig.update_xaxes(title_text=statistic or "", row=2, col=1)
    fig.update_yaxes(title_text="share of examples", row=2, col=1)
    # Room for the tick labels and the title of every y axis (else cut off on a phone).
    fig.update_yaxes(automargin=True)
    layouts = _scrubber_layouts(len(fig.layout.annotations), hist_axis, len(stats) > 1)
    fig.layout.annotations[2].xanchor = "right" if len(stats) > 1 else "center"
    if len(stats) <= 1:
        fig.layout.annotations[2].text = f"statistic: {statistic or 'none'}"
    _apply(fig, layouts["wide"])
    fig.layout.meta = {**layouts, "thumbnail_px": int(data.images.shape[2] * scale),
                       "label_px": LABEL_PX, "columns": 4, "narrow_px": NARROW_PX}
    return fig


def scrubber_script(narrow_px: int = NARROW_PX) -> str:
    """JavaScript run after the scrubber is drawn (``PlotlyHTML(post_script=...)``).

    Switches between the wide and the narrow arrangement of ``layout.meta`` as the
    figure's container crosses ``narrow_px`` (the figure's ``data-layout`` attribute names the
    one in place once it is drawn), and lets the arrow keys (Home, End) move the slider when
    the figure has the keyboard focus (it is focusable, tab or click).
    """
    return """
var gd = document.getElementById('{plot_id}');
var meta = gd.layout.meta, mode = 'wide';
var step = {mode: 'immediate', frame: {duration: 0, redraw: true}, transition: {duration: 0}};
function fit() {
  var want = gd.parentElement.clientWidth < NARROW ? 'narrow' : 'wide';
  if (want === mode) { gd.setAttribute('data-layout', mode); return; }
  mode = want;
  Plotly.relayout(gd, meta[want]).then(function () { gd.setAttribute('data-layout', want); });
}
fit();
window.addEventListener('resize', fit);
gd.tabIndex = 0;
gd.setAttribute('role', 'group');
gd.setAttribute('aria-label', 'Epoch scrubber: left and right arrow keys change the epoch');
gd.addEventListener('keydown', function (event) {
  var slider = gd.layout.sliders[0], last = slider.steps.length - 1;
  var moves = {ArrowLeft: -1, ArrowDown: -1, ArrowRight: 1, ArrowUp: 1};
  var target = event.key in moves ? (slider.active || 0) + moves[event.key]
    : event.key === 'Home' ? 0 : event.key === 'End' ? last : null;
  if (target === null) { return; }
  event.preventDefault();
  target = Math.max(0, Math.min(last, target));
  Plotly.animate(gd, [slider.steps[target].args[0][0]], step).then(function () {
    return Plotly.relayout(gd, {'sliders[0].active': target});
  });
});
""".replace("NARROW", str(int(narrow_px)))


class PlotlyHTML:
    """Display a Plotly figure so that it works offline in the book and live in Jupyter.

    The HTML expects plotly.js on the page, from no CDN: the book loads it on the pages that
    hold a Plotly figure (``book/_ext/plotly_loader.js``, which inflates its gzip copy), and
    the figure is drawn once ``window.agreementPlotly`` (the loader's promise) or, without the
    loader, ``window.Plotly`` is there. JupyterLab renders the Plotly JSON instead.
    ``post_script`` is JavaScript run once the figure is drawn (``{plot_id}`` is the
    figure's element id); ``config`` updates Plotly's configuration (``{"responsive": True}``).
    """

    def __init__(self, fig, div_id: str | None = None, css_class: str = "plotly-figure",
                 post_script: str | None = None, config: dict | None = None):
        self.fig, self.div_id, self.css_class = fig, div_id, css_class
        self.post_script = post_script
        self.config = {"responsive": True, **(config or {})}

    def html(self) -> str:
        from plotly.io.json import to_json_plotly

        figure = self.fig.to_dict()
        div_id = self.div_id or f"plotly-{uuid.uuid4()}"
        # plotly's JSON encoder writes "/" as \u002f: nothing in it can close the script.
        data, layout, frames = (to_json_plotly(figure.get(key, empty)) for key, empty in
                                (("data", []), ("layout", {}), ("frames", [])))
        config = to_json_plotly(self.config)
        after = (self.post_script or "").replace("{plot_id}", div_id)
        script = f"""(function () {{
  var ready = window.agreementPlotly || new Promise(function (done) {{
    if (window.Plotly) {{ done(window.Plotly); return; }}
    window.addEventListener('load', function () {{ done(window.Plotly); }});
  }});
  ready.then(function (Plotly) {{
    var gd = document.getElementById({json.dumps(div_id)});
    if (!Plotly || !gd) {{ return; }}
    Plotly.newPlot(gd, {data}, {layout}, {config}).then(function () {{
      return Plotly.addFrames(gd, {frames});
    }}).then(function () {{
{after}
    }});
  }});
}})();"""
        return (f'<div class="{self.css_class}"><div id="{div_id}" class="plotly-graph-div" '
                f'style="height:100%; width:100%;"></div>'
                f'<script type="text/javascript">{script}</script></div>')

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
        display(PlotlyHTML(epoch_scrubber(data), css_class="epoch-scrubber",
                           post_script=scrubber_script(), config={"displayModeBar": False}))
        display(Markdown(f"*{label} set. {data.caption} Click the figure (or tab to it): "
                         "the arrow keys move the slider.*"))


__all__ = ["LiveEpochScrubber", "PlotlyHTML", "ScrubberData", "epoch_scrubber",
           "scrubber_data", "scrubber_script", "show_scrubbers"]
