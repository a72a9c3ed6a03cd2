"""Figures for the course. Every function returns the figure (plotly or matplotlib) and
works headless; a notebook shows it by leaving it as the cell's last expression.

Curves are plotly (interactive: hover, zoom, toggle runs); image grids are matplotlib.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence

import numpy as np

from cnncourse import validation as check


def _history_dict(history) -> dict[str, list[float]]:
    """Accept a keras History, its ``.history`` dict, or a pandas DataFrame."""
    if hasattr(history, "history") and isinstance(history.history, Mapping):
        return dict(history.history)
    if hasattr(history, "to_dict") and hasattr(history, "columns"):
        return {k: list(v.values()) for k, v in history.to_dict().items()}
    if isinstance(history, Mapping):
        return dict(history)
    raise TypeError(f"expected a keras History, a dict of lists or a DataFrame, "
                    f"got {type(history).__name__}")


def plot_history(histories, metrics: Sequence[str] = ("loss", "accuracy"),
                 title: str | None = None):
    """Training vs validation curves, one panel per metric; several runs overlaid for comparison.

    ``histories`` is one History (or dict of lists) or a mapping ``{run name: history}``.
    Training curves are solid, validation curves dashed, one colour per run.
    """
    import plotly.graph_objects as go
    from plotly.colors import DEFAULT_PLOTLY_COLORS
    from plotly.subplots import make_subplots

    if not isinstance(histories, Mapping) \
            or all(isinstance(v, (list, tuple)) for v in histories.values()):
        histories = {"model": histories}
    runs = {name: _history_dict(h) for name, h in histories.items()}
    metrics = [m for m in metrics if any(m in r for r in runs.values())]
    if not metrics:
        held = sorted({key for run in runs.values() for key in run})
        raise ValueError(f"none of the requested metrics appear in the histories "
                         f"(they hold {held})")
    fig = make_subplots(rows=1, cols=len(metrics), subplot_titles=metrics)
    for i, (name, run) in enumerate(runs.items()):
        color = DEFAULT_PLOTLY_COLORS[i % len(DEFAULT_PLOTLY_COLORS)]
        for col, metric in enumerate(metrics, start=1):
            curves = ((metric, "solid", "train"), (f"val_{metric}", "dash", "validation"))
            for key, dash, label in curves:
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
    # Whole epochs only (plotly would tick 1, 1.5, 2 for a two-epoch run), about ten ticks at most.
    longest = max(len(values) for run in runs.values() for values in run.values())
    fig.update_xaxes(tick0=1, dtick=max(1, -(-longest // 10)))
    fig.update_layout(title=title, height=380, hovermode="x unified")
    return fig


def _grid(n: int, ncols: int) -> tuple[int, int]:
    """(rows, columns) of a grid of ``n`` panels at most ``ncols`` wide."""
    ncols = min(check.integer("ncols", ncols), n)
    return -(-n // ncols), ncols


def show_images(images, labels=None, predictions=None, class_names=None, ncols: int = 10,
                size: float = 1.2, cmap: str = "gray", title: str | None = None):
    """Grid of images with their true labels and, if given, predictions; mistakes in red.

    ``images``: (n, H, W) or (n, H, W, C) array. ``labels`` / ``predictions``: n class indices.
    """
    import matplotlib.pyplot as plt

    images = np.asarray(images)
    if images.ndim not in (3, 4) or len(images) == 0:
        raise ValueError(f"images must be a non-empty (n, H, W) or (n, H, W, C) array, "
                         f"got shape {images.shape}")
    n = len(images)
    for name, values in (("labels", labels), ("predictions", predictions)):
        if values is not None and len(values) != n:
            raise ValueError(f"{name} has {len(values)} entries for {n} images")
    nrows, ncols = _grid(n, ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows * 1.15),
                             squeeze=False)

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
            caption = name_of(labels[i])
            if wrong:
                caption = f"{caption}→{name_of(predictions[i])}"
            ax.set_title(caption, color="red" if wrong else "black", fontsize=9)
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


def _confusion_counts(y_true, y_pred, num_classes: int) -> np.ndarray:
    """Counts ``m[i, j]`` of examples of true class i predicted as class j."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix


def plot_confusion_matrix(y_true, y_pred, class_names=None, normalize: bool = False,
                          title: str | None = None):
    """Confusion matrix as a plotly heatmap: rows are true classes, columns predicted ones.

    ``y_pred`` is class indices or an (n, classes) array of probabilities (``model.predict``
    output; its argmax is taken). With ``normalize=True`` each row is divided by its total, so
    the diagonal reads as the recall of each class. The counts are in ``fig.data[0].z``.
    """
    import plotly.graph_objects as go

    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_pred.ndim == 2:
        y_pred = y_pred.argmax(axis=1)
    if y_true.ndim != 1 or y_pred.ndim != 1 or len(y_true) != len(y_pred) or len(y_true) == 0:
        raise ValueError(f"y_true and y_pred must hold the same non-zero number of class "
                         f"indices, got shapes {y_true.shape} and {y_pred.shape}")
    if not (np.issubdtype(y_true.dtype, np.integer) and np.issubdtype(y_pred.dtype, np.integer)):
        raise TypeError(f"class indices must be integers, got {y_true.dtype} and {y_pred.dtype}")
    if min(y_true.min(), y_pred.min()) < 0:
        raise ValueError("class indices must be non-negative")
    num_classes = int(max(y_true.max(), y_pred.max())) + 1
    if class_names is not None:
        if len(class_names) < num_classes:
            raise ValueError(
                f"{len(class_names)} class names for class indices up to {num_classes - 1}"
            )
        num_classes = len(class_names)
    names = [str(c) for c in (class_names if class_names is not None else range(num_classes))]
    counts = _confusion_counts(y_true, y_pred, num_classes)
    if normalize:
        totals = counts.sum(axis=1, keepdims=True)
        z = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
        text, hover = np.vectorize(lambda v: f"{v:.2f}")(z), "true %{y}, predicted %{x}: %{z:.1%}"
        scale = "share of the row"
    else:
        z, text, hover = counts, counts.astype(str), "true %{y}, predicted %{x}: %{z} examples"
        scale = "examples"
    fig = go.Figure(go.Heatmap(z=z, x=names, y=names, text=text, texttemplate="%{text}",
                               colorscale="Blues", hovertemplate=hover + "<extra></extra>",
                               colorbar={"title": {"text": scale}}))
    accuracy = np.trace(counts) / counts.sum()
    # The figure is 520 px wide: wrap a long title instead of letting plotly cut it off.
    title = title or f"Confusion matrix (accuracy {accuracy:.2%})"
    fig.update_layout(title="<br>".join(textwrap.wrap(title, 60)),
                      xaxis={"title": "predicted", "type": "category"},
                      yaxis={"title": "true", "type": "category", "autorange": "reversed"},
                      width=520, height=480)
    return fig


def _first_conv_kernel(source):
    """The kernel (kh, kw, in, out) of a Conv2D layer, of a model's first Conv2D, or an array."""
    import keras

    from cnncourse.nested import leaf_layers

    if isinstance(source, keras.Model):
        conv = [layer for layer in leaf_layers(source) if isinstance(layer, keras.layers.Conv2D)]
        if not conv:
            raise ValueError(f"model {source.name!r} has no Conv2D layer")
        return np.asarray(conv[0].kernel)
    if hasattr(source, "kernel"):
        return np.asarray(source.kernel)
    kernel = np.asarray(source)
    if kernel.ndim != 4:
        raise ValueError(f"expected a Conv2D layer, a model or a kernel array (kh, kw, in, out), "
                         f"got shape {kernel.shape}")
    return kernel


def plot_filters(source, channel: int = 0, ncols: int = 8, size: float = 1.0, cmap: str = "RdBu_r",
                 title: str | None = None):
    """The kernels of a convolution layer as a grid of small images (matplotlib).

    ``source``: a Conv2D layer, a model (its first Conv2D layer) or a kernel array of shape
    (height, width, in_channels, filters). Kernels over 3 input channels are drawn as colour
    images (each filter scaled to [0, 1]); otherwise the slice for input ``channel`` is drawn
    with one symmetric colour scale for all filters (red positive, blue negative, white zero).
    """
    import matplotlib.pyplot as plt

    kernel = _first_conv_kernel(source)
    kh, kw, cin, cout = kernel.shape
    if not 0 <= channel < cin:
        raise ValueError(f"channel must be in [0, {cin}), got {channel}")
    nrows, ncols = _grid(cout, ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    limit = float(np.abs(kernel[:, :, channel, :]).max()) or 1.0
    for ax in axes.flat:
        ax.axis("off")
    for i, ax in enumerate(axes.flat[:cout]):
        if cin == 3:
            rgb = kernel[:, :, :, i]
            span = rgb.max() - rgb.min()
            ax.imshow((rgb - rgb.min()) / span if span > 0 else np.zeros_like(rgb))
        else:
            ax.imshow(kernel[:, :, channel, i], cmap=cmap, vmin=-limit, vmax=limit)
        ax.set_title(str(i), fontsize=7)
    which = f" (input channel {channel})" if cin not in (1, 3) else ""
    fig.suptitle(title or f"{cout} filters of {kh}x{kw}{which}")
    fig.tight_layout()
    if cin != 3:  # the sign of a weight is the point: say which colour is which
        fig.subplots_adjust(right=0.88)
        scale = plt.cm.ScalarMappable(norm=plt.Normalize(-limit, limit), cmap=cmap)
        fig.colorbar(scale, cax=fig.add_axes((0.91, 0.15, 0.015, 0.7)), label="weight (0 = white)")
    plt.close(fig)
    return fig


def plot_feature_maps(model, image, layer_names=None, max_maps: int = 8, size: float = 1.1,
                      cmap: str = "viridis", title: str | None = None):
    """Activations of chosen layers for one image: one row per layer, its first ``max_maps`` maps.

    ``image``: (H, W), (H, W, C) or (1, H, W, C), scaled as the model expects. ``layer_names``
    defaults to every Conv2D and pooling layer. Each map has its own colour scale (bright =
    strongly active); a map that is one value everywhere (a ReLU unit that is off, say) is
    labelled with that value. The activations themselves are in ``fig.activations``
    ({layer: array}).
    """
    import matplotlib.pyplot as plt

    check.integer("max_maps", max_maps)
    activations = _feature_maps(model, image, layer_names)
    ncols = min(max_maps, max(a.shape[-1] for a in activations.values()))
    nrows = len(activations)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows * 1.1),
                             squeeze=False)
    for row, (name, act) in enumerate(activations.items()):
        for col in range(ncols):
            ax = axes[row, col]
            ax.set_xticks([])
            ax.set_yticks([])
            if col < act.shape[-1]:
                fmap = act[:, :, col]
                ax.imshow(fmap, cmap=cmap)
                if fmap.min() == fmap.max():
                    ax.text(0.5, 0.5, f"all {float(fmap.min()):.3g}", transform=ax.transAxes,
                            ha="center", va="center", color="white", fontsize=8)
            else:
                ax.axis("off")
        axes[row, 0].set_ylabel(f"{name}\n{act.shape[0]}x{act.shape[1]}x{act.shape[2]}", fontsize=8)
    fig.suptitle(title or f"Feature maps of one image: the first {ncols} channels of each layer "
                 "(each map on its own scale, bright = strongly active)", fontsize=10)
    fig.tight_layout()
    fig.activations = activations
    plt.close(fig)
    return fig



def _feature_maps(model, image, layer_names) -> dict[str, np.ndarray]:
    """``{layer name: its (H, W, C) output for image}``, the arguments of
    :func:`plot_feature_maps` checked on the way."""
    import keras

    if not hasattr(model, "layers") or not getattr(model, "inputs", None):
        raise TypeError(f"expected a built keras Model (starting with keras.Input), "
                        f"got {type(model).__name__}")
    x = np.asarray(image, dtype="float32")
    expected = tuple(model.inputs[0].shape[1:])
    if x.ndim == len(expected) - 1:
        x = x[..., None]
    if x.ndim == len(expected):
        x = x[None]
    if x.shape[0] != 1 or tuple(x.shape[1:]) != expected:
        raise ValueError(f"image must have the model's input shape {expected} (one image), "
                         f"got {np.shape(image)}")
    if layer_names is None:  # not the global poolings: their output is one value per channel
        kinds = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D,
                 keras.layers.Conv2DTranspose, keras.layers.MaxPooling2D,
                 keras.layers.AveragePooling2D)
        layer_names = [layer.name for layer in model.layers if isinstance(layer, kinds)]
    if isinstance(layer_names, str):
        layer_names = [layer_names]
    if not layer_names:
        raise ValueError("no layers to show: pass layer_names")
    known = [layer.name for layer in model.layers]
    missing = [name for name in layer_names if name not in known]
    if missing:
        raise ValueError(f"no layer named {missing} in {model.name!r}; its layers are {known}")
    if len(model.inputs) != 1:
        raise ValueError(f"plot_feature_maps needs a model with one input, "
                         f"{model.name!r} has {len(model.inputs)}")
    extractor = keras.Model(model.inputs[0], [model.get_layer(name).output for name in layer_names])
    outputs = extractor(x, training=False)
    outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    activations = {name: np.asarray(out)[0] for name, out in zip(layer_names, outputs, strict=True)}
    for name, act in activations.items():
        if act.ndim != 3:
            raise ValueError(f"layer {name!r} does not output feature maps (H, W, C): "
                             f"its output is {act.shape}")
    return activations


def _scores_by_name(scores) -> dict[str, np.ndarray]:
    if isinstance(scores, Mapping):
        return {str(k): np.asarray(v, dtype=float).ravel() for k, v in scores.items()}
    return {"model": np.asarray(scores, dtype=float).ravel()}


def _check_binary(y_true, scores: dict[str, np.ndarray]) -> np.ndarray:
    y = check.binary_labels("y_true", y_true, both_classes=True)
    for name, s in scores.items():
        if len(s) != len(y):
            raise ValueError(f"scores for {name!r} have {len(s)} entries for {len(y)} labels")
    return y


def _threshold_for(threshold, name: str):
    return threshold.get(name) if isinstance(threshold, Mapping) else threshold


def _mark_threshold(fig, name: str, threshold: float, x: float, y: float) -> None:
    """A marker at ``(x, y)``, the operating point ``name`` reaches at ``threshold``."""
    import plotly.graph_objects as go

    fig.add_trace(go.Scatter(x=[x], y=[y], mode="markers", marker={"size": 11},
                             name=f"{name} at threshold {threshold:.3g}"))


def _unit_square(fig, title: str, xaxis_title: str, yaxis_title: str):
    """The layout both curves share: rates from 0 to 1 on both axes."""
    fig.update_layout(title=title, xaxis_title=xaxis_title, yaxis_title=yaxis_title,
                      height=420, width=560,
                      xaxis={"range": [-0.01, 1.01]}, yaxis={"range": [-0.01, 1.01]})
    return fig


def plot_roc(y_true, scores, threshold=None, title: str | None = None):
    """ROC curve(s) as a plotly figure, with the AUC in the legend.

    ``scores``: predicted probabilities of the positive class, or ``{model name: probabilities}``
    to compare models on the same labels. ``threshold`` (a number, or one per model name) marks
    the operating point: the (false positive rate, true positive rate) reached at that threshold.
    """
    import plotly.graph_objects as go
    from sklearn.metrics import roc_auc_score, roc_curve

    scores = _scores_by_name(scores)
    y = _check_binary(y_true, scores)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance (AUC 0.5)",
                             line={"dash": "dot", "color": "gray"}))
    for name, s in scores.items():
        fpr, tpr, _ = roc_curve(y, s)
        fig.add_trace(go.Scatter(x=fpr, y=tpr, mode="lines",
                                 name=f"{name} (AUC {roc_auc_score(y, s):.3f})"))
        t = _threshold_for(threshold, name)
        if t is not None:
            predicted = s >= t
            _mark_threshold(fig, name, t, predicted[y == 0].mean(), predicted[y == 1].mean())
    return _unit_square(fig, title or "ROC curve", "false positive rate (1 - specificity)",
                        "true positive rate (sensitivity)")


def plot_pr_curve(y_true, scores, threshold=None, title: str | None = None):
    """Precision-recall curve(s) as a plotly figure, with the average precision in the legend.

    Same arguments as :func:`plot_roc`. The horizontal line is the precision of guessing
    "positive" for everyone: the share of positives. Unlike ROC, this curve changes with that
    share, which is why it is shown for imbalanced data.
    """
    import plotly.graph_objects as go
    from sklearn.metrics import average_precision_score, precision_recall_curve

    scores = _scores_by_name(scores)
    y = _check_binary(y_true, scores)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[y.mean()] * 2, mode="lines",
                             line={"dash": "dot", "color": "gray"},
                             name=f"everyone positive ({y.mean():.2f})"))
    for name, s in scores.items():
        precision, recall, _ = precision_recall_curve(y, s)
        fig.add_trace(go.Scatter(x=recall, y=precision, mode="lines", line_shape="hv",
                                 name=f"{name} (AP {average_precision_score(y, s):.3f})"))
        t = _threshold_for(threshold, name)
        if t is not None and (s >= t).any():
            predicted = s >= t
            _mark_threshold(fig, name, t, predicted[y == 1].mean(), y[predicted].mean())
    return _unit_square(fig, title or "Precision-recall curve", "recall (sensitivity)",
                        "precision (positive predictive value)")
