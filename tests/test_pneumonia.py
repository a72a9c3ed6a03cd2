"""The chest X-ray lab's data side: names, extraction, demo data, audit, split, pipeline,
metrics, download.

Metrics are checked against scikit-learn; images against PIL; nothing here trains a network.
"""

import io
import json
import re
import socket
import stat
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.stats import mannwhitneyu
from sklearn import metrics as skm
from sklearn.utils.class_weight import compute_class_weight

from cnncourse import credentials
from cnncourse import pneumonia as pn
from cnncourse.pneumonia import getdata as dl

SECRET = "0123456789abcdef0123456789abcdef"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    return pn.make_demo_xrays(root, n_per_class={"NORMAL": 12, "PNEUMONIA": 30}, defects=True,
                              size_range=(200, 360))


# ---------------------------------------------------------------- names, layout, demo data

def test_patient_id_on_the_three_name_styles():
    assert pn.patient_id("person1_bacteria_1.jpeg") == "person1"
    assert pn.patient_id("person1_virus_6.jpeg") == "person1"
    assert pn.patient_id("person1000_bacteria_2931.jpeg") == "person1000"
    assert pn.patient_id("IM-0115-0001.jpeg") == "IM-0115"
    assert pn.patient_id("NORMAL2-IM-1427-0001.jpeg") == "NORMAL2-IM-1427"
    assert pn.patient_id(Path("/data/test/NORMAL/NORMAL2-IM-0030-0001.jpeg")) == "NORMAL2-IM-0030"
    assert pn.patient_id("scan_7.png") == "scan_7"  # unknown style: its own group
    with pytest.raises(TypeError):
        pn.patient_id(42)


def test_demo_xrays_have_the_kaggle_layout_and_patient_names(demo):
    counts = dl.count_images(demo)
    assert counts["train"] == {"NORMAL": 12, "PNEUMONIA": 31}  # + the truncated defect file
    assert counts["val"] == {"NORMAL": 8, "PNEUMONIA": 8}
    assert counts["test"]["NORMAL"] >= 4 and counts["test"]["PNEUMONIA"] > counts["test"]["NORMAL"]
    names = [p.name for p in demo.rglob("*.jpeg")]
    style = re.compile(r"^(person\d+_(bacteria|virus)_\d+|(NORMAL2-)?IM-\d{4}-\d{4})\.jpeg$")
    assert all(style.match(n) for n in names), [n for n in names if not style.match(n)][:3]
    per_patient = {}
    for n in names:
        per_patient[pn.patient_id(n)] = per_patient.get(pn.patient_id(n), 0) + 1
    assert max(per_patient.values()) > 1  # several images per patient, as in the real data
    sizes = {Image.open(p).size for p in list(demo.rglob("*.jpeg"))[:40] if p.stat().st_size > 2000}
    assert len(sizes) > 3 and all(200 <= w <= 360 for w, _ in sizes)
    assert pn.is_demo(demo) and "SYNTHETIC" in (demo / "SYNTHETIC_DEMO_DATA.txt").read_text()


def test_demo_xrays_are_reproducible(tmp_path):
    a = pn.make_demo_xrays(tmp_path / "a", n_per_class=3, val_per_class=1, test_per_class=1)
    b = pn.make_demo_xrays(tmp_path / "b", n_per_class=3, val_per_class=1, test_per_class=1)
    files = sorted(p.relative_to(a) for p in a.rglob("*.jpeg"))
    assert files == sorted(p.relative_to(b) for p in b.rglob("*.jpeg"))
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    with pytest.raises(ValueError, match="n_per_class"):
        pn.make_demo_xrays(tmp_path / "c", n_per_class=0)


# ---------------------------------------------------------------- safe extraction

def _zip(path: Path, members: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return path


@pytest.mark.parametrize("bad", ["../evil.txt", "chest_xray/../../evil.txt", "/tmp/evil_abs.txt"])
def test_safe_extract_rejects_paths_outside_and_writes_nothing(tmp_path, bad):
    archive = _zip(tmp_path / "a.zip",
                   {"chest_xray/train/NORMAL/IM-0001-0001.jpeg": b"ok", bad: b"pwned"})
    dest = tmp_path / "inside" / "dest"
    with pytest.raises(pn.UnsafeArchiveError, match="nothing was extracted"):
        pn.safe_extract(archive, dest)
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "inside" / "evil.txt").exists()
    assert not Path("/tmp/evil_abs.txt").exists()
    assert not any(p.is_file() for p in dest.rglob("*"))  # not even the harmless member


def test_safe_extract_rejects_links(tmp_path):
    archive = _zip(tmp_path / "l.zip", {"a.txt": b"x"}, links={"chest_xray/link": "/etc/passwd"})
    with pytest.raises(pn.UnsafeArchiveError, match="symbolic link"):
        pn.safe_extract(archive, tmp_path / "dest")
    assert not (tmp_path / "dest" / "chest_xray" / "link").exists()


def test_safe_extract_drops_macos_files_and_the_nested_duplicate(tmp_path):
    archive = _zip(tmp_path / "k.zip", {
        "chest_xray/train/NORMAL/IM-0001-0001.jpeg": b"1",
        "chest_xray/test/PNEUMONIA/person1_virus_6.jpeg": b"2",
        "chest_xray/chest_xray/train/NORMAL/IM-0001-0001.jpeg": b"1",
        "__MACOSX/chest_xray/train/NORMAL/._IM-0001-0001.jpeg": b"\x00\x05",
        "chest_xray/train/NORMAL/._IM-0001-0001.jpeg": b"\x00\x05",
        "chest_xray/.DS_Store": b"\x00",
    })
    report = pn.safe_extract(archive, tmp_path / "dest")
    dest = tmp_path / "dest"
    files = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    assert files == ["chest_xray/test/PNEUMONIA/person1_virus_6.jpeg",
                     "chest_xray/train/NORMAL/IM-0001-0001.jpeg"]
    assert report == {"extracted": 2, "skipped": {"nested duplicate tree": 1, "__MACOSX": 1,
                                                  "._ resource fork": 1, ".DS_Store": 1}}
    with pytest.raises(ValueError, match="zip archive"):
        pn.safe_extract(tmp_path / "missing.zip", tmp_path / "dest")


# ---------------------------------------------------------------- audit and split

def test_audit_reports_corrupt_files_duplicates_and_patients(demo, tmp_path):
    report = pn.audit(demo)
    truncated = next(p.name for p in (demo / "train" / "PNEUMONIA").iterdir()
                     if p.stat().st_size < 3000 and p.suffix == ".jpeg")
    assert [p.name for p in report.unreadable] == [truncated]
    dup = report.duplicates
    assert len(dup) == 2 and dup.across_splits.all() and set(dup.split) == {"train", "test"}
    counts = report.counts
    assert counts.loc["train", "PNEUMONIA"] == 31 and counts.loc["val", "total"] == 16
    assert set(report.files["mode"].dropna()) <= {"L", "RGB"}
    assert report.patients.loc[("train", "PNEUMONIA"), "max_per_patient"] > 1
    assert report.patients_in_several_splits == []
    assert "unreadable files: 1" in report.summary()
    assert set(report.plots()) == {"counts", "sizes", "per_patient"}
    assert report.table().loc[("train", "PNEUMONIA"), "unreadable"] == 1
    # A file that is not an image at all is reported too, not a crash.
    broken = tmp_path / "chest_xray" / "train" / "NORMAL"
    broken.mkdir(parents=True)
    (broken / "IM-0001-0001.jpeg").write_bytes(b"this is not a jpeg")
    Image.new("L", (50, 40), 128).save(broken / "IM-0002-0001.jpeg")
    small = pn.audit(tmp_path / "chest_xray")
    assert [p.name for p in small.unreadable] == ["IM-0001-0001.jpeg"]
    assert small.files.set_index("name").loc["IM-0002-0001.jpeg", "width"] == 50


def _patient(name: str) -> str:
    """Independent of pn.patient_id: the file name up to the per-patient image number."""
    return re.sub(r"_(bacteria|virus)_\d+$|-\d{4}$", "", Path(name).stem)


def test_split_keeps_patients_together_and_classes_balanced(demo):
    report = pn.audit(demo)
    train, val = pn.split_train_val(demo, val_fraction=0.25, seed=0, exclude=report.unreadable)
    assert not {_patient(p.name) for p in train} & {_patient(p.name) for p in val}
    assert pn.patients_in_both(train, val) == []
    assert all(p.parent.parent.name == "train" for p in train + val)  # the val/ folder is not used
    assert not set(report.unreadable) & set(train + val)
    assert len(train) + len(val) == 12 + 30
    for label in (0, 1):
        n_val = sum(pn.label_of(p) == label for p in val)
        n_all = n_val + sum(pn.label_of(p) == label for p in train)
        assert 0.1 <= n_val / n_all <= 0.4, (label, n_val, n_all)
    assert pn.split_train_val(demo, 0.25, seed=0, exclude=report.unreadable) == (train, val)
    assert pn.split_train_val(demo, 0.25, seed=1, exclude=report.unreadable) != (train, val)
    # A random split by image, for contrast, does put patients on both sides.
    rng = np.random.default_rng(0)
    files = np.array(train + val, dtype=object)
    mask = rng.random(len(files)) < 0.25
    assert pn.patients_in_both(files[mask], files[~mask])
    with pytest.raises(ValueError, match="val_fraction"):
        pn.split_train_val(demo, val_fraction=1.5)


# ---------------------------------------------------------------- tf.data pipeline

def test_dataset_batches_and_skips_a_corrupt_file(demo):
    files = pn.list_images(demo, "train")
    ds = pn.make_dataset(files, image_size=48, batch_size=8)
    batches = list(ds)
    x, y = batches[0]
    assert x.shape == (8, 48, 48, 3) and x.dtype.name == "float32" and y.dtype.name == "float32"
    labels = np.concatenate([b[1].numpy() for b in batches])
    assert len(labels) == len(files) - 1  # the truncated JPEG is skipped, not fatal
    images = np.concatenate([b[0].numpy() for b in batches])
    assert 0 <= images.min() and images.max() <= 255 and images.max() > 100
    np.testing.assert_array_equal(images[..., 0], images[..., 2])  # grey repeated into 3 channels
    with_paths = pn.make_dataset(files, image_size=48, include_paths=True)
    kept = [Path(f.decode()) for batch in with_paths for f in batch[2].numpy()]
    # order kept, labels from the folders
    assert labels.tolist() == [float(pn.label_of(p)) for p in kept]
    training = pn.make_dataset(files[:8], image_size=48, batch_size=8, training=True)
    augmented = next(iter(training))[0]
    assert augmented.shape == (8, 48, 48, 3)


def test_resize_keeps_the_aspect_ratio(tmp_path):
    wide = np.full((100, 200), 200, np.uint8)
    Image.fromarray(wide).save(tmp_path / "wide.png")
    padded = pn.decode_and_resize(str(tmp_path / "wide.png"), 64).numpy()[..., 0]
    # 200x100 scaled to 64x32, then 16 black rows above and below.
    assert (padded[:15] == 0).all() and (padded[-15:] == 0).all() and (padded[17:47] > 190).all()
    cropped = pn.decode_and_resize(str(tmp_path / "wide.png"), 64, resize="crop").numpy()[..., 0]
    assert (cropped > 190).all()  # short side scaled to 64, the centre cut out: no padding


def test_large_jpegs_are_decoded_at_reduced_scale_like_a_full_decode(tmp_path):
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:1200, 0:1600]
    image = 127 + 100 * np.sin(xx / 90) * np.cos(yy / 70) + rng.normal(0, 3, xx.shape)
    image = image.clip(0, 255)
    Image.fromarray(image.astype(np.uint8)).save(tmp_path / "big.jpeg", quality=95)
    fast = pn.decode_and_resize(str(tmp_path / "big.jpeg"), 128).numpy()[..., 0].astype(float)
    # Reference: PIL decodes every pixel and resizes with antialiasing (1600x1200 -> 128x96,
    # centred).
    big = Image.open(tmp_path / "big.jpeg")
    reference = np.asarray(big.resize((128, 96), Image.Resampling.BILINEAR, reducing_gap=None),
                           float)
    assert np.abs(fast[16:112] - reference).mean() < 4.0



@pytest.mark.parametrize("resize", ["pad", "crop"])
def test_resize_matches_pil_area_average_of_the_brightness(tmp_path, resize):
    # A colour JPEG (R, G and B differ): the pipeline must give its brightness (what PIL's "L"
    # gives), shrunk by averaging the pixels under each output pixel (PIL's BOX filter), padded or
    # cropped around the centre. 1200x800 at 96: "pad" 96x64 with 16 black rows above and below,
    # "crop" 144x96 with 24 columns cut on each side.
    yy, xx = np.mgrid[0:800, 0:1200]
    rgb = np.stack([127 + 100 * np.sin(xx / 60), 127 + 100 * np.cos(yy / 45),
                    127 + 100 * np.sin((xx + yy) / 80)], -1)
    Image.fromarray(rgb.astype(np.uint8)).save(tmp_path / "colour.jpeg", quality=95)
    ours = pn.decode_and_resize(str(tmp_path / "colour.jpeg"), 96, resize)
    ours = ours.numpy()[..., 0].astype(float)
    grey = Image.open(tmp_path / "colour.jpeg").convert("L")
    if resize == "pad":
        reference = np.asarray(grey.resize((96, 64), Image.Resampling.BOX), float)
        assert (ours[:16] == 0).all() and (ours[80:] == 0).all()
        ours = ours[16:80]
    else:
        cropped = grey.resize((144, 96), Image.Resampling.BOX).crop((24, 0, 120, 96))
        reference = np.asarray(cropped, float)
    assert np.abs(ours - reference).mean() < 1.0 and np.abs(ours - reference).max() <= 4


def test_small_images_are_enlarged_bilinearly_like_pil(tmp_path):
    small = (np.add.outer(np.arange(30) * 8, np.arange(40) * 5) % 256).astype(np.uint8)
    Image.fromarray(small).save(tmp_path / "small.png")
    ours = pn.decode_and_resize(str(tmp_path / "small.png"), 80).numpy()[..., 0].astype(float)
    reference = np.asarray(Image.fromarray(small).resize((80, 60), Image.Resampling.BILINEAR),
                           float)
    assert np.abs(ours[10:70] - reference).mean() < 0.5

# ---------------------------------------------------------------- metrics against scikit-learn

@pytest.fixture
def scores():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 300)
    p = np.clip(0.35 * y + rng.normal(0.35, 0.2, 300), 0, 1).round(2)  # rounding makes ties
    return y, p


def test_binary_metrics_match_scikit_learn(scores):
    y, p = scores
    for threshold in (0.2, 0.5, 0.71):
        m = pn.binary_metrics(y, p, threshold)
        pred = (p >= threshold).astype(int)
        assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
        assert m["sensitivity"] == pytest.approx(skm.recall_score(y, pred))
        assert m["specificity"] == pytest.approx(skm.recall_score(y, pred, pos_label=0))
        assert m["precision"] == pytest.approx(skm.precision_score(y, pred, zero_division=0))
        assert m["f1"] == pytest.approx(skm.f1_score(y, pred, zero_division=0))
        assert m["confusion"] == skm.confusion_matrix(y, pred, labels=[0, 1]).tolist()
    assert pn.binary_metrics([0, 0, 1], [0.1, 0.2, 0.3], threshold=0.9)["precision"] == 0.0


def test_roc_and_pr_against_hand_counts_and_mann_whitney(scores):
    # The package's ROC/AUC is scikit-learn's; the references here are independent of it.
    # Four images by hand: scores 0.9 (1), 0.8 (0), 0.8 (1), 0.1 (0).
    fpr, tpr, thresholds = pn.roc_curve([1, 0, 1, 0], [0.9, 0.8, 0.8, 0.1])
    np.testing.assert_allclose(fpr, [0, 0, 0.5, 1])
    np.testing.assert_allclose(tpr, [0, 0.5, 1, 1])
    np.testing.assert_allclose(thresholds, [np.inf, 0.9, 0.8, 0.1])
    # positive/negative pairs: (0.9 > 0.8), (0.9 > 0.1), (0.8 = 0.8: 1/2), (0.8 > 0.1) -> 3.5 / 4
    assert pn.roc_auc([1, 0, 1, 0], [0.9, 0.8, 0.8, 0.1]) == pytest.approx(3.5 / 4)
    # AP: recall 1/2 at precision 1 (threshold 0.9), recall 1 at precision 2/3 (0.8)
    assert pn.average_precision([1, 0, 1, 0], [0.9, 0.8, 0.8, 0.1]) \
        == pytest.approx(0.5 + 0.5 * 2 / 3)
    y, p = scores
    u = mannwhitneyu(p[y == 1], p[y == 0]).statistic  # AUC = U / (n1 n0)
    assert pn.roc_auc(y, p) == pytest.approx(u / ((y == 1).sum() * (y == 0).sum()), abs=1e-12)
    with pytest.raises(ValueError, match="both classes"):
        pn.roc_auc([1, 1], [0.2, 0.3])
    with pytest.raises(ValueError, match="binary labels 0 and 1, got values"):
        pn.roc_auc([0, 2], [0.2, 0.3])


def test_bootstrap_interval_brackets_the_estimate_and_shrinks_with_more_data(scores):
    y, p = scores
    auc = pn.roc_auc(y, p)
    low, high = pn.bootstrap_ci(y, p, pn.roc_auc, n_resamples=400, seed=0)
    assert low < auc < high and high - low < 0.2
    small_low, small_high = pn.bootstrap_ci(y[:60], p[:60], pn.roc_auc, n_resamples=400, seed=0)
    assert small_high - small_low > high - low


def test_threshold_rules(scores):
    y, p = scores
    fpr, tpr, thr = skm.roc_curve(y, p, drop_intermediate=False)  # reference operating points
    t, rule = pn.choose_threshold(y, p, "sensitivity", target=0.9)
    assert "90%" in rule
    best = thr[np.argmax(tpr >= 0.9)]  # most specific point with sensitivity >= 90%
    np.testing.assert_array_equal(p >= t, p >= best)  # the same validation decisions ...
    assert best > t > np.max(p[p < best])  # ... from a threshold inside the gap below that score
    assert skm.recall_score(y, (p >= t).astype(int)) >= 0.9
    t_j, _ = pn.choose_threshold(y, p, "youden")
    np.testing.assert_array_equal(p >= t_j, p >= thr[np.argmax(tpr - fpr)])
    with pytest.raises(ValueError, match="rule"):
        pn.choose_threshold(y, p, "accuracy")


def test_class_weights_and_initial_bias():
    y = np.array([0] * 1341 + [1] * 3875)  # the Kaggle training set
    weights = pn.class_weights(y)
    ref = compute_class_weight("balanced", classes=np.array([0, 1]), y=y)
    assert [weights[0], weights[1]] == pytest.approx(ref.tolist())
    assert pn.initial_bias(y) == pytest.approx(np.log(3875 / 1341))
    assert pn.initial_bias(y, weights) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="both classes"):
        pn.class_weights([1, 1, 1])


# ------------------------------------------------------------- download: credentials and failures

@pytest.fixture
def no_credentials(monkeypatch, tmp_path):
    for name in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "kaggle-config"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # ~/.kaggle/access_token
    monkeypatch.setenv("CNNCOURSE_CACHE_DIR", str(tmp_path / "cache"))

    def no_network(*args, **kwargs):
        raise AssertionError("the network was used")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    return tmp_path


def test_missing_credentials_say_what_to_do_without_network(no_credentials):
    with pytest.raises(pn.DataUnavailable, match="kaggle.com/settings") as info:
        pn.download()
    assert "KAGGLE_USERNAME" in str(info.value) and "chmod 600" in str(info.value)
    with pytest.raises(pn.DataUnavailable, match="Kaggle layout"):
        pn.find_data(no_credentials / "nothing-here")
    with pytest.raises(pn.DataUnavailable):
        pn.find_data(demo=False)


def test_verified_data_is_not_downloaded_again(no_credentials, capsys):
    data = no_credentials / "dest" / "chest_xray"
    for split, classes in pn.KAGGLE_COUNTS.items():
        for cls, n in classes.items():
            (data / split / cls).mkdir(parents=True)
            for i in range(n):
                (data / split / cls / f"f{i}.jpeg").touch()
    (data / dl.VERIFIED_MARKER).write_text("{}")
    assert pn.download(no_credentials / "dest") == data  # no credentials, no network needed
    assert "already downloaded and verified" in capsys.readouterr().out


class FakeKaggle:
    """Stands in for KaggleApi: writes a zip like Kaggle's, or fails like Kaggle does."""

    def __init__(self, archive_from=None, fail=None, interrupt=False):
        self.archive_from, self.fail, self.interrupt, self.calls = archive_from, fail, interrupt, 0

    def dataset_download_files(self, dataset, path, unzip, quiet):
        self.calls += 1
        assert dataset == "paultimothymooney/chest-xray-pneumonia" and not unzip
        if self.fail is not None:
            raise self.fail
        target = Path(path) / "chest-xray-pneumonia.zip"
        with zipfile.ZipFile(target, "w") as zf:
            for f in sorted(self.archive_from.rglob("*.jpeg")):
                rel = f.relative_to(self.archive_from.parent)
                zf.write(f, f"{rel}")
                zf.write(f, f"chest_xray/{rel}")  # the nested duplicate tree
                zf.writestr(f"__MACOSX/{rel.parent}/._{f.name}", b"\x00\x05\x16\x07")
                if self.interrupt:
                    raise KeyboardInterrupt  # the connection drops half-way


class HTTPError(Exception):
    def __init__(self, status):
        super().__init__(f"{status} Client Error for url https://api.kaggle.com/?token={SECRET}")
        self.response = type("Response", (), {"status_code": status})()


@pytest.fixture
def with_credentials(no_credentials, monkeypatch, demo):
    monkeypatch.setenv("KAGGLE_USERNAME", "student")
    monkeypatch.setenv("KAGGLE_KEY", SECRET)
    monkeypatch.setattr(dl, "KAGGLE_COUNTS", dl.count_images(demo))
    return no_credentials


def test_download_verifies_extracts_and_is_idempotent(with_credentials, monkeypatch, demo):
    fake = FakeKaggle(archive_from=demo)
    monkeypatch.setattr(dl, "_kaggle_api", lambda found: fake)
    data = pn.download(with_credentials / "dest", quiet=True)
    assert dl.count_images(data) == dl.count_images(demo)
    assert not (data / "chest_xray").exists() and not list(data.rglob("._*"))
    verified = json.loads((data / dl.VERIFIED_MARKER).read_text())
    assert verified["skipped"]["nested duplicate tree"] > 0
    assert pn.download(with_credentials / "dest", quiet=True) == data and fake.calls == 1
    pn.download(with_credentials / "dest", force=True, quiet=True)
    assert fake.calls == 2


def test_interrupted_download_leaves_nothing_that_looks_complete(with_credentials, monkeypatch,
                                                                 demo):
    monkeypatch.setattr(dl, "_kaggle_api",
                        lambda found: FakeKaggle(archive_from=demo, interrupt=True))
    dest = with_credentials / "dest"
    with pytest.raises(KeyboardInterrupt):
        pn.download(dest, quiet=True)
    assert not (dest / "chest_xray").exists() and not list(dest.glob(".partial-*"))
    stale = dest / ".partial-left-by-a-killed-process"
    stale.mkdir()
    monkeypatch.setattr(dl, "_kaggle_api", lambda found: FakeKaggle(archive_from=demo))
    assert pn.download(dest, quiet=True).is_dir() and not stale.exists()


@pytest.mark.parametrize("status, advice", [(401, "token is wrong"),
                                            (403, "accept the dataset's terms"),
                                            (404, "does not find")])
def test_kaggle_http_errors_become_one_clear_message_without_the_key(with_credentials, monkeypatch,
                                                                     status, advice):
    monkeypatch.setattr(dl, "_kaggle_api", lambda found: FakeKaggle(fail=HTTPError(status)))
    with pytest.raises(pn.DataUnavailable, match=advice) as info:
        pn.download(with_credentials / "dest", quiet=True)
    assert SECRET not in str(info.value) and info.value.__cause__ is None
    assert not (with_credentials / "dest" / "chest_xray").exists()


def test_network_failure_message_and_redaction(with_credentials, monkeypatch):
    failure = OSError(f"[Errno -2] Name or service not known (key {SECRET})")
    monkeypatch.setattr(dl, "_kaggle_api", lambda found: FakeKaggle(fail=failure))
    with pytest.raises(pn.DataUnavailable, match="internet connection") as info:
        pn.download(with_credentials / "dest", quiet=True)
    assert SECRET not in str(info.value) and "***" in str(info.value)
    token = with_credentials / "kaggle-config"
    token.mkdir()
    (token / "kaggle.json").write_text(json.dumps({"username": "s", "key": "fromthefile123"}))
    assert credentials.redact("key=fromthefile123 and " + SECRET) == "key=*** and ***"


def test_importing_the_lab_does_not_import_tensorflow():
    import subprocess
    import sys

    code = ("import sys, cnncourse.pneumonia as p; p.patient_id('IM-0001-0001.jpeg'); "
            "print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


def test_demo_image_is_a_real_jpeg(demo):
    path = next((demo / "test" / "PNEUMONIA").glob("*.jpeg"))
    with Image.open(io.BytesIO(path.read_bytes())) as image:
        assert image.format == "JPEG" and image.mode in ("L", "RGB")


def test_missing_kaggle_package_says_how_to_install_it(with_credentials, monkeypatch):
    import sys

    for name in [m for m in sys.modules if m == "kaggle" or m.startswith("kaggle.")] + ["kaggle"]:
        monkeypatch.setitem(sys.modules, name, None)  # import kaggle now fails as if not installed
    with pytest.raises(pn.DataUnavailable, match="pip install 'kaggle>=1.8'"):
        pn.download(with_credentials / "dest", quiet=True)


def test_two_processes_on_an_empty_cache_both_get_complete_demo_data(tmp_path):
    """Parallel grading starts several kernels on an empty cache: none may see a half-written
    tree."""
    import subprocess
    import sys

    code = ("from cnncourse.pneumonia.getdata import find_data\n"
            "options = {'n_per_class': 6, 'test_per_class': 4}\n"
            "path, _ = find_data(demo=True, quiet=True, demo_options=options)\n"
            "print(sum(1 for p in path.rglob('*.jpeg')))")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
           "CNNCOURSE_CACHE_DIR": str(tmp_path / "cache"), "TF_CPP_MIN_LOG_LEVEL": "3"}
    runs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert all(run.returncode == 0 for run in runs), [err for _, err in outputs]
    counts = {out.strip().splitlines()[-1] for out, _ in outputs}
    assert len(counts) == 1 and int(counts.pop()) > 0
    leftovers = [p.name for p in (tmp_path / "cache" / "demo-xrays").iterdir()]
    assert len(leftovers) == 1 and not leftovers[0].startswith("."), leftovers


# ----------------------------------------------------------------- one table of lab defaults


def test_lab_defaults_are_read_by_train_run_lab_and_the_cli():
    import inspect
    import subprocess
    import sys

    from cnncourse.cli import build_parser
    from cnncourse.pneumonia import defaults, lab, training

    full = {"backbone": "mobilenetv2", "image_size": 224, "batch_size": 32, "epochs": 6,
            "fine_tune_epochs": 10, "fine_tune_layers": 50, "learning_rate": 1e-3,
            "fine_tune_learning_rate": 1e-5, "dropout": 0.2, "patience": 3}
    train_defaults = inspect.signature(training.train).parameters
    assert {name: train_defaults[name].default for name in full} == full
    lab_defaults = inspect.signature(lab.run_lab).parameters
    assert lab_defaults["fine_tune_layers"].default == 50
    assert lab_defaults["batch_size"].default == 32
    args = build_parser().parse_args(["lab", "pneumonia"])
    assert (args.backbone, args.batch_size) == ("mobilenetv2", 32)
    assert args.epochs is None  # picked by mode in run_lab
    assert defaults.LAB_DEFAULTS["epochs"] == (6, 1)
    with pytest.raises(KeyError, match="no lab default named 'epoch'"):
        defaults.lab_default("epoch")
    # the CLI's backbone choices come from a list that imports neither TensorFlow nor Keras
    code = ("import sys; from cnncourse.backbones import BACKBONE_NAMES; "
            "import cnncourse.pneumonia.defaults; "
            "print(len(BACKBONE_NAMES), 'tensorflow' in sys.modules or 'keras' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["9", "False"]
