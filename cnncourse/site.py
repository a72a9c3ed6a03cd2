"""The executed course as a small offline web site: one page per notebook and an index.

:func:`write_site` turns the notebooks that ``python -m cnncourse course`` executed into
``index.html`` (the notebook map: title, status, seconds, key figure and a thumbnail of the
notebook's first figure) and one HTML page per notebook with links to the previous and next
page and back to the index. Plotly figures are drawn by ``plotly.min.js``, written once next to
the pages and shared by them, so the pages work offline and stay small. Nothing is loaded from a
CDN: require.js and MathJax, which nbconvert's template would fetch, are left out (formulas show
as their TeX source in the pages; JupyterLab renders them in the executed notebooks).
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

from cnncourse import config

PLOTLY_JS = "plotly.min.js"
PLOTLY_MIME = "application/vnd.plotly.v1+json"
THUMBS = "thumbs"

_NAV_CSS = (
    ".course-nav{display:flex;justify-content:space-between;gap:1em;margin:1em auto;"
    "max-width:1100px;padding:.5em 1em;background:#f3f5f8;border-radius:6px;"
    "font-family:sans-serif}"
    ".course-nav a{text-decoration:none}"
)

# nbconvert's lab template, without the CDN scripts, with plotly.js from the site and the nav bar.
_PAGE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}
{%- if resources.course.uses_plotly -%}
<script src="{{ resources.course.plotly_js }}"></script>
{%- endif -%}
{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_css -%}<style>{{ resources.course.css }}</style>{%- endblock html_head_css -%}
{%- block body_header -%}{{ super() }}{{ resources.course.nav }}{%- endblock body_header -%}
{%- block body_footer -%}{{ resources.course.nav }}{{ super() }}{%- endblock body_footer -%}
"""


def notebook_title(nb, fallback: str) -> str:
    """The title of a notebook: its first markdown heading."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return fallback


def first_figure_png(nb) -> bytes | None:
    """The PNG bytes of the notebook's first matplotlib figure, or None."""
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            png = output.get("data", {}).get("image/png")
            if png:
                return base64.b64decode(png)
    return None


def _with_plotly_as_html(nb) -> tuple[object, bool]:
    """A copy of ``nb`` whose plotly outputs are HTML that draws them with the page's plotly.js."""
    import copy

    import plotly.io as pio

    nb = copy.deepcopy(nb)
    found = False
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if PLOTLY_MIME in data:
                data["text/html"] = pio.to_html(data.pop(PLOTLY_MIME), include_plotlyjs=False,
                                                full_html=False, validate=False)
                found = True
    return nb, found


def _nav(pages: list[tuple[str, str]], index: int) -> str:
    def link(i: int, rel: str, arrow: str) -> str:
        if not 0 <= i < len(pages):
            return "<span></span>"
        name, title = pages[i]
        text = f"{arrow} {html.escape(title)}" if rel == "prev" else f"{html.escape(title)} {arrow}"
        return f"<a rel='{rel}' href='{html.escape(name)}.html'>{text}</a>"

    return (f"<nav class='course-nav'>{link(index - 1, 'prev', '&larr;')}"
            "<a href='index.html'>Course index</a>"
            f"{link(index + 1, 'next', '&rarr;')}</nav>")


def write_page(nb, name: str, out_dir: Path, nav: str) -> Path:
    """Write ``out_dir/<name>.html`` for an executed notebook, with ``nav`` at its top and
    bottom."""
    import jinja2
    from nbconvert import HTMLExporter

    nb, uses_plotly = _with_plotly_as_html(nb)
    templates = jinja2.DictLoader({"course_page.html.j2": _PAGE_TEMPLATE})
    exporter = HTMLExporter(template_name="lab", template_file="course_page.html.j2",
                            extra_loaders=[templates])
    course = {"uses_plotly": uses_plotly, "plotly_js": PLOTLY_JS, "nav": nav, "css": _NAV_CSS}
    resources = {"metadata": {"name": name}, "course": course}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    page = out_dir / f"{name}.html"
    page.write_text(body, encoding="utf-8")
    return page


def _write_plotly_js(out_dir: Path) -> None:
    from plotly.offline import get_plotlyjs

    (out_dir / PLOTLY_JS).write_text(get_plotlyjs(), encoding="utf-8")


def write_site(results, out_dir: Path) -> Path:
    """Write the pages and ``index.html`` for the executed notebooks
    ``out_dir/<result.name>.ipynb``.

    ``results`` are the runner's :class:`cnncourse.course.NotebookResult` objects, in course order.
    Returns the path of the index page.
    """
    import nbformat

    out_dir = Path(out_dir)
    notebooks = [nbformat.read(out_dir / f"{r.name}.ipynb", as_version=4) for r in results]
    pages = [(r.name, notebook_title(nb, r.name)) for r, nb in zip(results, notebooks, strict=True)]
    _write_plotly_js(out_dir)
    (out_dir / THUMBS).mkdir(exist_ok=True)
    rows = []
    for i, (result, nb) in enumerate(zip(results, notebooks, strict=True)):
        write_page(nb, result.name, out_dir, _nav(pages, i))
        png = first_figure_png(nb)
        name, thumb = html.escape(result.name), ""
        if png is not None:
            (out_dir / THUMBS / f"{result.name}.png").write_bytes(png)
            thumb = f"<img src='{THUMBS}/{name}.png' alt='first figure of {name}'>"
        rows.append(
            f"<tr><td><a href='{name}.html'>{html.escape(pages[i][1])}</a><br>"
            f"<small><a href='{name}.ipynb'>{name}.ipynb</a></small></td>"
            f"<td>{html.escape(result.status)}</td><td>{result.seconds:.0f}</td>"
            f"<td>{html.escape(result.key_figure or result.error)}</td><td>{thumb}</td></tr>"
        )
    index = out_dir / "index.html"
    index.write_text(
        "<!doctype html><html lang='en'><meta charset='utf-8'><title>cnncourse</title>"
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:4px 12px;text-align:left;"
        "vertical-align:top}img{max-width:260px;max-height:160px}</style>"
        f"<h1>cnncourse - executed notebooks ({config.mode_name()} mode)</h1>"
        "<p>Each page is a notebook as the course runner executed it. Thumbnails show each "
        "notebook's first figure.</p>"
        "<table><tr><th>notebook</th><th>status</th><th>seconds</th><th>key figure / error</th>"
        f"<th>first figure</th></tr>{''.join(rows)}</table></html>",
        encoding="utf-8")
    return index
