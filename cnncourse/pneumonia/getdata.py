"""Get the chest X-ray data: Kaggle download with clear failures, or labelled demo data.

:func:`download` fetches ``paultimothymooney/chest-xray-pneumonia`` with the ``kaggle`` package.
It checks for credentials *before* importing ``kaggle`` (which authenticates at import), downloads
into a temporary folder next to the destination, verifies the archive and the image counts,
extracts safely and only then moves the data into place with a marker file. An interrupted
download therefore never leaves a folder that looks complete, and a verified dataset is not
downloaded again. Every failure becomes one :class:`DataUnavailable` message that says what to
do; a key never appears in it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

from cnncourse import config, credentials
from cnncourse.pneumonia.demo import DEMO_LABEL, is_demo, make_demo_xrays
from cnncourse.pneumonia.extract import safe_extract
from cnncourse.pneumonia.layout import CLASSES, KAGGLE_COUNTS, SPLITS

DATASET = "paultimothymooney/chest-xray-pneumonia"
DATASET_URL = f"https://www.kaggle.com/datasets/{DATASET}"
VERIFIED_MARKER = ".verified.json"
_PARTIAL_PREFIX = ".partial-"
#: Free disk space needed to download and extract the archive (about 1.2 GB, twice while
#: extracting).
NEEDED_BYTES = 2_500_000_000


class DataUnavailable(RuntimeError):
    """The dataset cannot be had here; the message says what to do (never contains a secret).

    ``unreachable``: Kaggle gave no answer at all (no connection), so nothing is known about the
    credentials (``doctor`` reports them as not checked rather than rejected).
    """

    def __init__(self, message: str, unreachable: bool = False):
        super().__init__(message)
        self.unreachable = unreachable


def default_dest() -> Path:
    """Where :func:`download` puts the data: ``<cache>/chest-xray-pneumonia``."""
    return config.cache_dir() / "chest-xray-pneumonia"


def count_images(data_dir) -> dict[str, dict[str, int]]:
    """Images per split and class (``._*`` and hidden files not counted)."""
    from cnncourse.pneumonia.layout import is_image

    root = Path(data_dir)
    return {s: {c: sum(1 for p in (root / s / c).glob("*") if is_image(p)) for c in CLASSES}
            for s in SPLITS}


def verify_dataset(data_dir, expected=None) -> bool:
    """True when ``data_dir`` holds exactly the expected number of images per split and class
    (default: the Kaggle release's counts, :data:`KAGGLE_COUNTS`)."""
    root = Path(data_dir)
    expected = KAGGLE_COUNTS if expected is None else expected
    return all((root / s).is_dir() for s in SPLITS) and count_images(root) == expected


def _status_of(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    for candidate in (getattr(exc, "status", None), getattr(response, "status_code", None)):
        if isinstance(candidate, int):
            return candidate
    return None


#: Exceptions (by class name, so that ``requests`` and ``urllib3`` need not be imported) that mean
#: the connection broke in the middle of the archive.
_CUT_OFF = ("ChunkedEncodingError", "ProtocolError", "IncompleteRead", "ReadTimeoutError")


def _explain_failure(exc: BaseException) -> str:
    """One message saying what went wrong and what to do, with any secret blanked."""
    status = _status_of(exc)
    first = (str(exc).splitlines() or [type(exc).__name__])[0]
    first = first if len(first) <= 120 else first[:117] + "..."
    if status == 401:
        text = ("Kaggle rejected the credentials (401 Unauthorized): the token is wrong, expired "
                "or was revoked. Create a new token at https://www.kaggle.com/settings "
                "(API > Create New Token) and replace the old one (KAGGLE_API_TOKEN, "
                "~/.kaggle/access_token or ~/.kaggle/kaggle.json; on Colab the secret of that "
                "name).")
    elif status == 403:
        text = (f"Kaggle refused the download (403 Forbidden). Open {DATASET_URL}, sign in with "
                "the account of your token and accept the dataset's terms (press Download once "
                "in the browser), then run this again.")
    elif status == 404:
        text = f"Kaggle does not find the dataset {DATASET} (404): check the name at {DATASET_URL}."
    elif status is not None:
        text = f"Kaggle answered HTTP {status}: try again later."
    elif type(exc).__name__ in _CUT_OFF or "does not match expected size" in str(exc):
        text = (f"The download was cut off before it finished ({type(exc).__name__}: {first}). "
                "Nothing incomplete was kept: run this again when the connection is stable "
                "(on Colab, keep the tab open).")
    else:
        text = (f"Could not reach Kaggle ({type(exc).__name__}: {first}). Check the internet "
                "connection (on Colab/Kaggle notebooks: internet access turned on), then run "
                "this again.")
    return credentials.redact(text + " Without the data, use the demo X-rays "
                                     "(--demo, or find_data(demo=True)).")


def check_disk_space(folder, needed: int | None = None) -> None:
    """Raise :class:`DataUnavailable` unless ``folder`` (or its nearest existing parent) has
    ``needed`` bytes free (default :data:`NEEDED_BYTES`: the archive, about 1.2 GB, plus as much
    again while it is extracted)."""
    needed = NEEDED_BYTES if needed is None else needed
    folder = Path(folder).resolve()
    while not folder.exists():
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise DataUnavailable(
            f"Not enough disk space in {folder}: {free / 1e9:.1f} GB free, the download needs "
            f"about {needed / 1e9:.1f} GB (a 1.2 GB archive, and as much again while "
            "extracting). Free some space, or download elsewhere: download(dest=...) or "
            "CNNCOURSE_CACHE_DIR=/a/bigger/disk.")


def _kaggle_api(found: credentials.CredentialSource):
    """Import and authenticate the kaggle package; only called once credentials were found.

    ``import kaggle`` authenticates at import and some versions then remove ``KAGGLE_API_TOKEN``
    from the environment (kaggle-cli#882): the token is put back before the client used here
    authenticates. The client's own help text on failure is kept off the screen; the
    :class:`DataUnavailable` message says what to do instead.
    """
    token = os.environ.get("KAGGLE_API_TOKEN")
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            try:  # importing kaggle.api... runs kaggle/__init__.py, which authenticates
                from kaggle.api.kaggle_api_extended import KaggleApi
            finally:
                if token and not os.environ.get("KAGGLE_API_TOKEN"):
                    os.environ["KAGGLE_API_TOKEN"] = token
            api = KaggleApi()
            api.authenticate()
    except ImportError:
        raise DataUnavailable("The kaggle package is not installed: pip install 'kaggle>=1.8' "
                              "(it is a dependency of the course), then run this again.") from None
    except SystemExit:  # the client exits when it accepts none of the credentials
        raise DataUnavailable(credentials.redact(
            f"Kaggle did not accept the credentials from {found.kind} ({found.where}): the token "
            "is wrong, expired or was revoked. Create a new token at "
            "https://www.kaggle.com/settings (API > Create New Token) and replace the old one."
        )) from None
    except Exception as exc:
        raise DataUnavailable(_explain_failure(exc), unreachable=_status_of(exc) is None) from None
    return api


def _clean_partials(dest: Path) -> None:
    for leftover in dest.glob(_PARTIAL_PREFIX + "*"):
        shutil.rmtree(leftover, ignore_errors=True)


def download(dest=None, force: bool = False, quiet: bool = False) -> Path:
    """Download and verify the Kaggle chest X-ray dataset; returns the ``chest_xray`` folder.

    Idempotent: when ``dest/chest_xray`` is already verified it is returned at once (``force=True``
    downloads again). Credentials come from KAGGLE_USERNAME/KAGGLE_KEY, KAGGLE_API_TOKEN,
    ``~/.kaggle/kaggle.json`` (or ``access_token``) or Colab secrets; without them no network
    connection is made. Raises :class:`DataUnavailable` with what to do when it fails.
    """
    dest = Path(dest) if dest is not None else default_dest()
    data_dir = dest / "chest_xray"
    if not force and (data_dir / VERIFIED_MARKER).exists() and verify_dataset(data_dir):
        if not quiet:
            print(f"Chest X-ray data already downloaded and verified: {data_dir}")
        return data_dir
    credentials.export_colab_secrets()
    found = credentials.find_kaggle_credentials()
    if found is None:
        raise DataUnavailable(credentials.HOW_TO_GET_CREDENTIALS)
    if found.warning:
        print(f"WARNING: {found.warning}")
    dest.mkdir(parents=True, exist_ok=True)
    _clean_partials(dest)
    check_disk_space(dest)
    api = _kaggle_api(found)
    with tempfile.TemporaryDirectory(prefix=_PARTIAL_PREFIX, dir=dest) as tmp:
        tmp = Path(tmp)
        if not quiet:
            print(f"Downloading {DATASET} (about 1.2 GB) with Kaggle credentials from "
                  f"{found.kind} ...")
        try:
            api.dataset_download_files(DATASET, path=str(tmp), unzip=False, quiet=quiet)
        except (Exception, SystemExit) as exc:
            raise DataUnavailable(_explain_failure(exc)) from None
        archives = sorted(tmp.glob("*.zip"))
        if len(archives) != 1:
            raise DataUnavailable(f"Kaggle download finished without one zip archive "
                                  f"(found {len(archives)}); run download(force=True) to try "
                                  "again.")
        try:
            with zipfile.ZipFile(archives[0]) as zf:
                broken = zf.testzip()
        except zipfile.BadZipFile:
            broken = archives[0].name
        if broken is not None:
            raise DataUnavailable(f"The downloaded archive is corrupt ({broken} fails its "
                                  "checksum); run download(force=True) to try again.")
        report = safe_extract(archives[0], tmp / "extracted")
        archives[0].unlink()
        extracted = tmp / "extracted" / "chest_xray"
        # an archive without the top folder
        if not extracted.is_dir() and (tmp / "extracted" / "train").is_dir():
            extracted = tmp / "extracted"
        counts = count_images(extracted) if extracted.is_dir() else None
        if counts != KAGGLE_COUNTS:
            raise DataUnavailable(f"The archive does not hold the expected images: counted "
                                  f"{counts}, expected {KAGGLE_COUNTS}. Kaggle may have published "
                                  "a new version; please report it.")
        verified = {"dataset": DATASET, "counts": counts, "skipped": report["skipped"]}
        (extracted / VERIFIED_MARKER).write_text(json.dumps(verified, indent=1))
        if data_dir.exists():
            shutil.rmtree(data_dir)
        extracted.rename(data_dir)  # same file system: the complete folder appears at once
    if not quiet:
        print(f"Chest X-ray data ready in {data_dir} (skipped: {report['skipped']})")
    return data_dir


def find_data(data_dir=None, demo: bool | None = False, quiet: bool = False,
              demo_options: dict | None = None) -> tuple[Path, str]:
    """The data folder to use and a label for it: ``(path, "Kaggle chest X-rays")`` or the demo.

    ``data_dir``: use this folder (it must hold the Kaggle layout). Otherwise the real dataset is
    used when it is already downloaded, or downloaded when credentials exist. ``demo``: ``False``
    (the default) raises :class:`DataUnavailable` with what to do when the real data cannot be
    had; ``True`` always uses the synthetic demo X-rays (generated once into the cache);
    ``None`` tries the real data and falls back to the demo, saying why (``--demo`` on the
    command line). Synthetic data is never used unless asked for.
    ``demo_options`` are passed to :func:`make_demo_xrays` (default: ``defects=True``); each set of
    options is generated once into its own cache folder.
    """
    if data_dir is not None:
        data_dir = Path(data_dir)
        if not all((data_dir / s).is_dir() for s in ("train", "test")):
            raise DataUnavailable(f"{data_dir} does not hold the chest X-ray data: expected the "
                                  "folders train/ and test/ with NORMAL/ and PNEUMONIA/ inside "
                                  "(the Kaggle layout).")
        label = DEMO_LABEL if is_demo(data_dir) else f"chest X-rays in {data_dir}"
        return data_dir, label
    if demo is not True:
        try:
            return download(quiet=quiet), "Kaggle chest X-rays (Kermany et al. 2018)"
        except DataUnavailable as exc:
            if demo is False:
                raise
            print(f"Real data not available: {exc}")
    options = {"defects": True, **(demo_options or {})}
    key = hashlib.sha1(json.dumps(options, sort_keys=True, default=str).encode()).hexdigest()[:10]
    demo_dir = config.cache_dir() / "demo-xrays" / key / "chest_xray"
    if not is_demo(demo_dir):
        # Generate into a private folder and rename it into place, so two kernels starting on an
        # empty cache at once (parallel grading or tests) never see or delete a half-written tree.
        demo_dir.parent.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=demo_dir.parent.parent))
        make_demo_xrays(staging, **options)
        if demo_dir.parent.exists() and not is_demo(demo_dir):
            shutil.rmtree(demo_dir.parent, ignore_errors=True)  # left over by an interrupted run
        try:
            staging.rename(demo_dir.parent)
        except OSError:  # another process put a complete copy there first: use it
            shutil.rmtree(staging, ignore_errors=True)
    print(f"Using {DEMO_LABEL} in {demo_dir}: every number below is measured on synthetic images.")
    return demo_dir, DEMO_LABEL
