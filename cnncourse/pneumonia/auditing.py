"""Look at the data before modelling it: what is in the chest X-ray folders, and what is wrong.

:func:`audit` reads every image once (header, a fast reduced-size decode to catch corrupt files,
a hash of the bytes) and returns an :class:`AuditReport`: counts per split and class, image modes
and sizes, unreadable files, exact duplicates (within and across splits) and images per patient,
as tables (``report.table()``, ``report.files``) and plotly figures (``report.plots()``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from cnncourse.pneumonia.layout import CLASSES, SPLITS, is_image, patient_id


def _inspect(path: Path) -> dict:
    """Mode, size, hash and readability of one image file."""
    from PIL import Image

    data = path.read_bytes()
    row = {"bytes": len(data), "sha1": hashlib.sha1(data).hexdigest(), "mode": None, "width": None,
           "height": None, "readable": False, "error": ""}
    try:
        with Image.open(path) as image:
            row.update(mode=image.mode, width=image.width, height=image.height)
            # JPEG: decode at 1/8 scale
            image.draft("L", (max(1, image.width // 8), max(1, image.height // 8)))
            image.load()  # a truncated or corrupt file fails here
        row["readable"] = True
    except Exception as exc:  # PIL raises OSError, SyntaxError, ValueError ... for broken files
        row["error"] = f"{type(exc).__name__}: {exc}"[:200]
    return row


@dataclass
class AuditReport:
    """What :func:`audit` found. ``files`` has one row per image file."""

    data_dir: Path
    #: pandas.DataFrame: split, label, path, name, patient, mode, width, height, bytes, sha1,
    #: readable, error
    files: object

    @property
    def counts(self):
        """Images per split (rows) and class (columns), with totals and the share of pneumonia."""
        splits = [s for s in SPLITS if s in set(self.files.split)]
        table = (self.files.groupby(["split", "label"]).size().unstack(fill_value=0)
                 .reindex(index=splits, columns=list(CLASSES), fill_value=0))
        table["total"] = table.sum(axis=1)
        table["pneumonia share"] = (table["PNEUMONIA"] / table["total"]).round(3)
        return table

    @property
    def unreadable(self) -> list[Path]:
        """Files that cannot be decoded as images (corrupt, truncated, not an image)."""
        return [Path(p) for p in self.files.loc[~self.files.readable, "path"]]

    @property
    def duplicates(self):
        """Groups of byte-identical files: one row per file, with ``group`` and
        ``across_splits``."""
        repeated = self.files[self.files.duplicated("sha1", keep=False)].copy()
        repeated["group"] = repeated.groupby("sha1").ngroup()
        repeated["across_splits"] = repeated.groupby("sha1")["split"].transform("nunique") > 1
        columns = ["group", "split", "label", "name", "across_splits"]
        return repeated.sort_values(["group", "split"])[columns]

    @property
    def patients(self):
        """Per split and class: patients, images, mean and max images per patient."""
        per = (self.files.groupby(["split", "label", "patient"]).size()
               .rename("images").reset_index())
        return per.groupby(["split", "label"])["images"].agg(
            patients="size", images="sum", mean_per_patient="mean", max_per_patient="max").round(2)

    @property
    def patients_in_several_splits(self) -> list[str]:
        """Patient ids that have images in more than one split (leakage between the given
        splits)."""
        splits = self.files.groupby("patient")["split"].nunique()
        return sorted(splits[splits > 1].index)

    def table(self):
        """One summary table: counts, modes, size ranges, unreadable files and duplicates per
        split/class."""
        import pandas as pd

        f = self.files
        rows = []
        for (split, label), g in f.groupby(["split", "label"], sort=False):
            modes = ", ".join(f"{m} {n}" for m, n in g["mode"].fillna("?").value_counts().items())
            rows.append({"split": split, "class": label, "images": len(g),
                         "patients": g.patient.nunique(),
                         "modes": modes, "width": f"{g.width.min():.0f}-{g.width.max():.0f}",
                         "height": f"{g.height.min():.0f}-{g.height.max():.0f}",
                         "unreadable": int((~g.readable).sum()),
                         "duplicated": int(g.sha1.isin(f.sha1[f.sha1.duplicated()]).sum())})
        return pd.DataFrame(rows).set_index(["split", "class"])

    def summary(self) -> str:
        """The findings in a few lines of text."""
        c = self.counts
        lines = [f"{len(self.files)} images in {self.data_dir}"]
        for split in c.index:
            n, p = c.loc[split, "NORMAL"], c.loc[split, "PNEUMONIA"]
            lines.append(f"  {split:<5} {n:>5} NORMAL  {p:>5} PNEUMONIA  "
                         f"(pneumonia {p / max(n + p, 1):.1%})")
        dup = self.duplicates
        lines.append(f"unreadable files: {len(self.unreadable)}"
                     + "".join(f"\n  {p}" for p in self.unreadable[:10]))
        groups = dup.group.nunique() if len(dup) else 0
        across = int(dup.groupby("group").across_splits.first().sum()) if len(dup) else 0
        lines.append(f"exact duplicates: {groups} groups ({across} across splits)")
        lines.append(f"patients with images in several splits: "
                     f"{len(self.patients_in_several_splits)}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def plots(self) -> dict:
        """plotly figures: ``counts`` (bar), ``sizes`` (width vs height), ``per_patient``
        (histogram)."""
        import plotly.express as px

        f = self.files
        counts = f.groupby(["split", "label"]).size().rename("images").reset_index()
        per_patient = (f.groupby(["split", "label", "patient"]).size()
                       .rename("images per patient").reset_index())
        counts_figure = px.bar(counts, x="split", y="images", color="label", barmode="group",
                               text="images", title="Images per split and class")
        # Counts above the bars, upright: inside a short bar plotly turns the text sideways
        # ("8" reads as "∞").
        counts_figure.update_traces(textposition="outside", textangle=0, cliponaxis=False)
        return {
            "counts": counts_figure,
            "sizes": px.scatter(f[f.readable], x="width", y="height", color="label",
                                symbol="split", opacity=0.6, title="Image sizes (pixels)",
                                hover_data=["name", "mode"]),
            "per_patient": px.histogram(per_patient[per_patient.split == "train"],
                                        x="images per patient",
                                        color="label", barmode="group",
                                        title="Training images per patient (or study)"),
        }


def audit(data_dir, progress: bool = False) -> AuditReport:
    """Audit a chest X-ray folder in the Kaggle layout (see :class:`AuditReport`)."""
    import pandas as pd

    root = Path(data_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder; "
                                "expected chest_xray/ with train/, val/, test/ inside")
    paths = [(s, c, p) for s in SPLITS for c in CLASSES
             for p in sorted((root / s / c).glob("*")) if is_image(p)]
    if not paths:
        raise FileNotFoundError(f"no images in {root}: "
                                "expected {train,val,test}/{NORMAL,PNEUMONIA}/*.jpeg")
    if progress:
        from tqdm.auto import tqdm

        paths = tqdm(paths, desc="audit", unit="image")
    rows = [{"split": s, "label": c, "path": str(p), "name": p.name, "patient": patient_id(p),
             **_inspect(p)}
            for s, c, p in paths]
    return AuditReport(root, pd.DataFrame(rows))
