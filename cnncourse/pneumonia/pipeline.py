"""tf.data input pipeline for chest X-rays: decode, resize without squashing, cache, augment.

Steps of :func:`make_dataset`, in order, and why:

1. **decode** straight to one grey channel (X-rays are grey; a colour file is converted to its
   brightness, a grey one costs nothing). Large JPEGs are decoded at 1/2, 1/4 or 1/8 scale right
   away (libjpeg's DCT scaling, ``ratio=``) when the result is still at least the target size:
   most X-rays are 1,000-2,900 px and the network sees 224, so decoding every pixel is wasted work.
2. **resize keeping the aspect ratio**: pad to a square with black (``resize="pad"``, the
   default: nothing of the lungs is cut off) or crop the centre (``"crop"``). Squashing to a
   square would distort the anatomy differently for each image shape. Shrinking uses
   ``method="area"`` (each output pixel is the average of the pixels it covers, so fine detail
   does not alias); it is also several times cheaper than bilinear with ``antialias=True``.
3. **cache** the decoded images (in memory, or in a file when ``cache`` is a path), stored with
   one channel (three identical channels would triple the memory). From the
   second epoch on, nothing is read or decoded again.
4. **shuffle** (training only) after the cache, so each epoch sees a new order.
5. **batch**, then **augment** (training only) with Keras preprocessing layers, see
   :func:`xray_augmentation`.
6. repeat the grey channel three times (ImageNet backbones take RGB) and **prefetch**, so the
   next batch is prepared while the model trains on this one.

Images come out as float32 in [0, 255]; the model does its own scaling (cnncourse.transfer).
A file that cannot be decoded is skipped with a warning instead of stopping training.
"""

from __future__ import annotations

from pathlib import Path

from cnncourse import validation as check
from cnncourse.pneumonia.layout import labels_of

RESIZE_MODES = ("pad", "crop")


def xray_augmentation(seed: int = 0):
    """Augmentations that keep a chest X-ray plausible.

    Sound: small rotations (about +-7 degrees) and shifts (5%), and a little zoom (10%), because
    patients are not positioned identically; small brightness and contrast changes (10%), because
    exposure differs between machines and patients. Not used: horizontal flips (the heart is on
    the patient's left; a mirrored chest is anatomically wrong, and side markers would be
    mirrored too), vertical flips and large rotations (never seen in practice), colour changes
    (the images are grey), and cut-out or strong crops (they can remove the very opacity that
    makes the diagnosis, turning a pneumonia image into a wrongly labelled normal one).
    """
    import keras

    layers = keras.layers
    return keras.Sequential([
        layers.RandomRotation(0.02, fill_mode="constant", seed=seed),
        layers.RandomTranslation(0.05, 0.05, fill_mode="constant", seed=seed + 1),
        layers.RandomZoom(0.1, fill_mode="constant", seed=seed + 2),
        layers.RandomBrightness(0.1, value_range=(0, 255), seed=seed + 3),
        layers.RandomContrast(0.1, seed=seed + 4),
    ], name="xray_augmentation")


def decode_and_resize(path, image_size: int, resize: str = "pad"):
    """Read one image file into a (image_size, image_size, 1) uint8 tensor (see module
    docstring)."""
    import tensorflow as tf

    data = tf.io.read_file(path)

    def jpeg():  # decoded straight to one grey channel, at reduced scale when the file is large
        shape = tf.io.extract_jpeg_shape(data)
        side = tf.reduce_max(shape[:2]) if resize == "pad" else tf.reduce_min(shape[:2])
        # Largest reduction 1, 2, 4 or 8 that keeps the relevant side at least image_size.
        index = tf.reduce_sum(tf.cast(side // tf.constant([2, 4, 8]) >= image_size, tf.int32))
        decoders = [lambda r=r: tf.io.decode_jpeg(data, channels=1, ratio=r) for r in (1, 2, 4, 8)]
        return tf.switch_case(index, decoders)

    def other():  # PNG, BMP, GIF
        rgb = tf.io.decode_image(data, channels=3, expand_animations=False)
        return tf.image.rgb_to_grayscale(rgb)

    gray = tf.cond(tf.io.is_jpeg(data), jpeg, other)
    gray.set_shape([None, None, 1])
    hw = tf.cast(tf.shape(gray)[:2], tf.float32)
    side = tf.reduce_max(hw) if resize == "pad" else tf.reduce_min(hw)

    # long side to image_size, then pad with black; or short side, then cut the centre
    def fit(method):
        if resize == "pad":
            return tf.image.resize_with_pad(gray, image_size, image_size, method=method)
        new_hw = tf.cast(tf.math.ceil(hw * (image_size / side)), tf.int32)
        resized = tf.image.resize(gray, new_hw, method=method)
        return tf.image.resize_with_crop_or_pad(resized, image_size, image_size)

    # Shrinking: "area" averages all the pixels under each output pixel (no aliasing, and several
    # times faster than bilinear with antialias=True). Enlarging: bilinear interpolation. Both
    # only average pixels, so the result stays within 0-255.
    out = tf.cond(side >= image_size, lambda: fit("area"), lambda: fit("bilinear"))
    return tf.cast(tf.round(out), tf.uint8)


def make_dataset(files, labels=None, image_size: int = 224, batch_size: int = 32, *,
                 training: bool = False, augment: bool | None = None, shuffle: bool | None = None,
                 cache=True, resize: str = "pad", seed: int = 0, include_paths: bool = False):
    """A ``tf.data.Dataset`` of ``(images, labels)`` batches from image files.

    ``labels`` default to the files' folders (NORMAL 0, PNEUMONIA 1). ``training=True`` turns on
    shuffling and augmentation (override with ``shuffle=`` / ``augment=``). ``cache``: True
    (memory), a file path prefix, or False. Images: float32
    ``(batch, image_size, image_size, 3)`` in [0, 255]; labels: float32 ``(batch,)``. Without
    shuffling the order is that of ``files``
    (minus any file that cannot be decoded). ``include_paths=True`` adds each image's path as a
    third element, to tell which files were kept (for prediction, not for ``fit``).
    """
    import tensorflow as tf

    files = [str(Path(f)) for f in files]
    if not files:
        raise ValueError("files is empty: expected a list of image paths")
    labels = labels_of(files) if labels is None else [float(y) for y in labels]
    if len(labels) != len(files):
        raise ValueError(f"got {len(labels)} labels for {len(files)} files")
    check.integer("image_size (pixels)", image_size, minimum=16)
    check.integer("batch_size", batch_size)
    check.one_of("resize", resize, RESIZE_MODES)
    augment = training if augment is None else augment
    shuffle = training if shuffle is None else shuffle
    autotune = tf.data.AUTOTUNE

    ds = tf.data.Dataset.from_tensor_slices((files, tf.constant(labels, tf.float32)))
    ds = ds.map(lambda f, y: (decode_and_resize(f, image_size, resize), y, f),
                num_parallel_calls=autotune)
    ds = ds.ignore_errors(log_warning=True)  # a corrupt file is skipped, not fatal
    if cache:
        ds = ds.cache("" if cache is True else str(cache))
    if shuffle:
        ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    augmentation = xray_augmentation(seed) if augment else None

    def finish(x, y, f):
        x = tf.cast(x, tf.float32)
        if augmentation is not None:
            x = augmentation(x, training=True)
        x = tf.image.grayscale_to_rgb(x)
        return (x, y, f) if include_paths else (x, y)

    return ds.map(finish, num_parallel_calls=autotune).prefetch(autotune)
