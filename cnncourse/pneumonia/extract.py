"""Extract a zip archive without trusting it.

A zip member named ``../../.bashrc`` or ``/etc/passwd``, or stored as a symbolic link, would
write outside the target folder when extracted naively ("zip slip"). :func:`safe_extract`
checks every member before writing anything, and drops what the Kaggle pneumonia archive
carries but is not data: the ``__MACOSX`` tree of ``._*`` resource forks, ``.DS_Store`` files
and the nested duplicate copy ``chest_xray/chest_xray/``.
"""

from __future__ import annotations

import shutil
import stat
import zipfile
from collections import Counter
from pathlib import Path, PurePosixPath


class UnsafeArchiveError(ValueError):
    """An archive member would be written outside the target folder, or is a link."""


def _skip_reason(parts: tuple[str, ...]) -> str | None:
    if "__MACOSX" in parts:
        return "__MACOSX"
    if parts[-1].startswith("._"):
        return "._ resource fork"
    if parts[-1] == ".DS_Store":
        return ".DS_Store"
    if any(a == b for a, b in zip(parts, parts[1:], strict=False)):
        return "nested duplicate tree"  # chest_xray/chest_xray/...
    return None


def _check_member(info: zipfile.ZipInfo, dest: Path) -> PurePosixPath:
    name = info.filename.replace("\\", "/")
    path = PurePosixPath(name)
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise UnsafeArchiveError(f"archive member {info.filename!r} has an absolute path; "
                                 "nothing was extracted")
    if ".." in path.parts:
        raise UnsafeArchiveError(f"archive member {info.filename!r} points outside the target "
                                 "folder (..); nothing was extracted")
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise UnsafeArchiveError(f"archive member {info.filename!r} is a symbolic link; "
                                 "nothing was extracted")
    target = (dest / path).resolve()
    if not target.is_relative_to(dest):
        raise UnsafeArchiveError(f"archive member {info.filename!r} resolves outside {dest}; "
                                 "nothing was extracted")
    return path


def safe_extract(archive, dest) -> dict:
    """Extract the zip ``archive`` into ``dest``.

    Returns ``{"extracted": n, "skipped": {reason: n}}``.

    Every member is checked first: an absolute path, a ``..`` component or a link raises
    :class:`UnsafeArchiveError` before a single file is written. ``__MACOSX/``, ``._*``,
    ``.DS_Store`` and nested duplicate trees (a folder inside a folder of the same name, as in
    ``chest_xray/chest_xray/``) are skipped.
    """
    archive, dest = Path(archive), Path(dest)
    if not zipfile.is_zipfile(archive):
        raise ValueError(
            f"expected a zip archive, got {archive} (missing, truncated or another format)"
        )
    dest.mkdir(parents=True, exist_ok=True)
    dest = dest.resolve()
    skipped: Counter[str] = Counter()
    extracted = 0
    with zipfile.ZipFile(archive) as zf:
        members = [(info, _check_member(info, dest)) for info in zf.infolist()]
        for info, path in members:
            if not path.parts:
                continue
            reason = _skip_reason(path.parts)
            if reason:
                skipped[reason] += not info.is_dir()
                continue
            target = dest.joinpath(*path.parts)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as source, open(target, "wb") as out:
                shutil.copyfileobj(source, out, 1 << 20)
            extracted += 1
    return {"extracted": extracted, "skipped": dict(skipped)}
