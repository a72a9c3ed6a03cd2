"""The course site (`make course`'s HTML): index, links between pages, one shared plotly.js, no CDN.

Built here from hand-made executed notebooks (no kernel); `tests/site/` opens a real build in
Chromium (`make test-site`).
"""

import base64
import re
import struct
import zlib

import nbformat
import plotly.graph_objects as go

from cnncourse import course, site


def _png(width=3, height=2) -> str:
    """A valid grey PNG, built by hand (the test does not trust matplotlib to make one)."""
    def chunk(kind, data):
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc
    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    raw = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
           + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
    return base64.b64encode(raw).decode()


def _executed(path, title, outputs):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell(f"# {title}\n\nWhat this notebook shows."),
        nbformat.v4.new_code_cell("draw()", execution_count=1, outputs=outputs),
    ])
    nbformat.write(nb, path)


def test_site_pages_link_to_each_other_and_share_plotly_js(tmp_path):
    figure = go.Figure(go.Bar(x=["a", "b"], y=[1, 2])).to_plotly_json()
    png = nbformat.v4.new_output(
        "display_data", data={"image/png": _png(), "text/plain": "<Figure size 3x2 with 1 Axes>"}
    )
    plotly_output = nbformat.v4.new_output(
        "display_data", data={site.PLOTLY_MIME: figure, "text/plain": "Figure"}
    )
    _executed(tmp_path / "01_first.ipynb", "01 · First", [png])
    _executed(tmp_path / "02_second.ipynb", "02 · Second", [plotly_output])
    _executed(tmp_path / "03_third.ipynb", "03 · Third", [plotly_output, png])
    results = [course.NotebookResult("01_first", "ok", 1.0, "answer = 42 (fast mode)"),
               course.NotebookResult("02_second", "ok", 2.0),
               course.NotebookResult("03_third", "FAILED", 3.0, "", "cell 1: ValueError: boom")]

    index = site.write_site(results, tmp_path).read_text()

    titles = (("01_first", "01 · First"), ("02_second", "02 · Second"), ("03_third", "03 · Third"))
    for name, title in titles:
        assert f"href='{name}.html'>{title}</a>" in index and f"href='{name}.ipynb'" in index
    assert "answer = 42 (fast mode)" in index and "cell 1: ValueError: boom" in index
    assert "src='thumbs/01_first.png'" in index and "src='thumbs/03_third.png'" in index
    assert (tmp_path / "thumbs" / "01_first.png").read_bytes() == base64.b64decode(_png())
    assert "thumbs/02_second.png" not in index  # no matplotlib figure, no thumbnail

    pages = {name: (tmp_path / f"{name}.html").read_text() for name, _ in titles}
    links = {name: re.findall(r'<a href="([^"]+)" rel="(prev|next)"', page)
             for name, page in pages.items()}
    assert links["01_first"] == [("02_second.html", "next")] * 2  # top and bottom of the page
    assert links["02_second"] == [("01_first.html", "prev"), ("03_third.html", "next")] * 2
    assert links["03_third"] == [("02_second.html", "prev")] * 2
    assert all(page.count('href="index.html"') == 2 for page in pages.values())

    plotly_js = (tmp_path / "plotly.min.js").read_text()
    assert len(plotly_js) > 1_000_000  # the library itself, written once
    for name, page in pages.items():
        scripts = re.findall(r"<script[^>]*\bsrc=\"([^\"]+)\"", page)
        assert not any(src.startswith(("http:", "https:", "//")) for src in scripts), \
            (name, scripts)
        assert len(page) < 1_000_000, f"{name}.html embeds something big ({len(page):,} characters)"
    assert "plotly.min.js" not in pages["01_first"]  # no plotly figure, no plotly.js
    for name in ("02_second", "03_third"):
        assert '<script src="plotly.min.js"></script>' in pages[name]
        assert "Plotly.newPlot" in pages[name] and '"type":"bar"' in pages[name].replace(" ", "")
    assert 'src="data:image/png;base64,' in pages["03_third"]
