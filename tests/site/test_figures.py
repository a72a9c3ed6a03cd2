"""Every figure of the executed course is a picture, not the text `<Figure size ...>`."""

import re

import pytest

from cnncourse import course

PLOTLY = "application/vnd.plotly.v1+json"
# Calls that draw: the package's plotting helpers, the lab's figure helpers, plain
# matplotlib/plotly.
DRAWS = re.compile(
    r"\b(plots\.(plot_\w+|show_images)|conv\.plot_\w+|overlay_heatmap|gradcam_examples"
    r"|plt\.(subplots|figure|plot|imshow|show)"
    r"|px\.\w+|go\.Figure|make_subplots)\s*\(|\.plots\(\)|\.figures\(")
AT_LEAST = {"01_convolution_by_hand": 3, "02_padding_stride_pooling": 3,
            "03_mnist_convnet_vs_mlp": 3, "07_what_cnns_learn": 3, "lab3_pneumonia": 3}
NAMES = [p.stem for p in course.course_notebooks()]


def pictures(cell) -> list[str]:
    return [kind for output in cell.get("outputs", []) for kind in output.get("data", {})
            if kind in ("image/png", PLOTLY)]


def skipped_by_its_guard(cell) -> bool:
    """A cell like `if imagenet_net is not None: ...` that had nothing to draw offline."""
    return cell.source.startswith("if ") and not cell.outputs


def figure_texts(nb) -> list[str]:
    """Outputs that are only the text of a matplotlib figure: a figure that was not displayed."""
    return [text for cell in nb.cells for output in cell.get("outputs", [])
            for text in [str(output.get("data", {}).get("text/plain", output.get("text", "")))]
            if "<Figure size" in text and "image/png" not in output.get("data", {})]


@pytest.mark.parametrize("name", NAMES)
def test_every_drawing_cell_shows_a_picture(executed_notebooks, name):
    nb = executed_notebooks[name]
    silent = [f"cell {i}: {cell.source.strip().splitlines()[0][:80]}"
              for i, cell in enumerate(nb.cells)
              if cell.cell_type == "code" and DRAWS.search(cell.source) and not pictures(cell)
              and not skipped_by_its_guard(cell)]
    assert not silent, f"{name}: cells that draw but show no image/png or plotly figure: {silent}"
    texts = figure_texts(nb)
    assert not texts, f"{name}: figures shown as text instead of pictures: {texts}"


@pytest.mark.parametrize("name", NAMES)
def test_every_notebook_has_matplotlib_figures(executed_notebooks, name):
    cells = executed_notebooks[name].cells
    count = sum(kind == "image/png" for cell in cells for kind in pictures(cell))
    least = AT_LEAST.get(name, 1)
    assert count >= least, f"{name}: {count} image/png outputs, expected at least {least}"
