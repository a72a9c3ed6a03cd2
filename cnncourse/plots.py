"""Figures for the course. Every function returns the figure (plotly or matplotlib) and
works headless; a notebook shows it by leaving it as the cell's last expression.

Curves are plotly (interactive: hover, zoom, toggle runs); image grids are matplotlib.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def _history_dict(history) -> dict[str, list[float]]:
    """Accept a keras History, its ``.history`` dict, or a pandas DataFrame."""
    if hasattr(history, "history") and isinstance(history.history, Mapping):
        return dict(history.history)
    if hasattr(history, "to_dict") and hasattr(history, "columns"):
        return {k: list(v.values()) for k, v in history.to_dict().items()}
    if isinstance(history, Mapping):
        return dict(history)
    raise TypeError(f"expected a keras History, a dict of lists or a DataFrame, got {type(history).__name__}")


def plot_history(histories, metrics: Sequence[str] = ("loss", "accuracy"), title: str | None = None):
    """Training vs validation curves, one panel per metric; several runs overlaid for comparison.

    ``histories`` is one History (or dict of lists) or a mapping ``{run name: history}``.
    Training curves are solid, validation curves dashed, one colour per run.
    """
    import plotly.graph_objects as go
    from plotly.colors import DEFAULT_PLOTLY_COLORS
    from plotly.subplots import make_subplots

    if not isinstance(histories, Mapping) or all(isinstance(v, (list, tuple)) for v in histories.values()):
        histories = {"model": histories}
    runs = {name: _history_dict(h) for name, h in histories.items()}
    metrics = [m for m in metrics if any(m in r for r in runs.values())]
    if not metrics:
        raise ValueError(f"none of the requested metrics appear in the histories (they hold {sorted({k for r in runs.values() for k in r})})")
    fig = make_subplots(rows=1, cols=len(metrics), subplot_titles=metrics)
    for i, (name, run) in enumerate(runs.items()):
        color = DEFAULT_PLOTLY_COLORS[i % len(DEFAULT_PLOTLY_COLORS)]
        for col, metric in enumerate(metrics, start=1):
            for key, dash, label in ((metric, "solid", "train"), (f"val_{metric}", "dash", "validation")):
                if key not in run:
                    continue
                epochs = list(range(1, len(run[key]) + 1))
                fig.add_trace(
                    go.Scatter(x=epochs, y=run[key], mode="lines+markers", name=f"{name} {label}",
                               line={"color": color, "dash": dash}, legendgroup=name,
                               showlegend=col == 1),
                    row=1, col=col,
                )
            fig.update_xaxes(title_text="epoch", row=1, col=col)
    fig.update_layout(title=title, height=380, hovermode="x unified")
    return fig


def show_images(images, labels=None, predictions=None, class_names=None, ncols: int = 10,
                size: float = 1.2, cmap: str = "gray", title: str | None = None):
    """Grid of images with their true labels and, if given, predictions; mistakes in red.

    ``images``: (n, H, W) or (n, H, W, C) array. ``labels`` / ``predictions``: n class indices.
    """
    import matplotlib.pyplot as plt

    images = np.asarray(images)
    if images.ndim not in (3, 4) or len(images) == 0:
        raise ValueError(f"images must be a non-empty (n, H, W) or (n, H, W, C) array, got shape {images.shape}")
    n = len(images)
    for name, values in (("labels", labels), ("predictions", predictions)):
        if values is not None and len(values) != n:
            raise ValueError(f"{name} has {len(values)} entries for {n} images")
    if ncols < 1:
        raise ValueError(f"ncols must be at least 1, got {ncols}")
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows * 1.15), squeeze=False)

    def name_of(k):
        return class_names[int(k)] if class_names is not None else str(int(k))

    for ax in axes.flat:
        ax.axis("off")
    for i, ax in enumerate(axes.flat[:n]):
        img = images[i]
        if img.ndim == 3 and img.shape[-1] == 1:
            img = img[..., 0]
        ax.imshow(img, cmap=cmap if img.ndim == 2 else None)
        if labels is not None and predictions is not None:
            wrong = int(labels[i]) != int(predictions[i])
            ax.set_title(f"{name_of(labels[i])}→{name_of(predictions[i])}" if wrong else name_of(labels[i]),
                         color="red" if wrong else "black", fontsize=9)
            if wrong:
                for spine in ax.spines.values():
                    spine.set_visible(True)
                    spine.set_color("red")
                    spine.set_linewidth(2)
                ax.axis("on")
                ax.set_xticks([])
                ax.set_yticks([])
        elif labels is not None:
            ax.set_title(name_of(labels[i]), fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    plt.close(fig)
    return fig
