"""The pretrained backbones the course offers, as plain data: no TensorFlow import.

:mod:`cnncourse.transfer` builds them; the CLI reads the names from here for its ``--backbone``
choices without importing TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Backbone", "BACKBONES", "BACKBONE_NAMES"]


@dataclass(frozen=True)
class Backbone:
    """A keras.applications network usable as a frozen feature extractor."""

    application: str  # class name in keras.applications
    # what the network's preprocess_input does: "tf" ([-1, 1]), "torch" (ImageNet mean/std),
    # "caffe" (BGR, mean), "none" (built into the model)
    preprocessing: str
    default_size: int
    paper: str


#: Backbones by the name ``build_transfer_model`` accepts. ``preprocessing`` is what each
#: network's ``keras.applications.<module>.preprocess_input`` does to [0, 255] pixels.
BACKBONES: dict[str, Backbone] = {
    "mobilenetv2": Backbone("MobileNetV2", "tf", 224, "Sandler et al. 2018, MobileNetV2"),
    "efficientnetb0": Backbone("EfficientNetB0", "none", 224, "Tan & Le 2019, EfficientNet"),
    "resnet50": Backbone("ResNet50", "caffe", 224, "He et al. 2016, Deep residual learning"),
    "densenet121": Backbone("DenseNet121", "torch", 224, "Huang et al. 2017, DenseNet"),
    "vgg16": Backbone("VGG16", "caffe", 224, "Simonyan & Zisserman 2015, Very deep convnets"),
    "resnet50v2": Backbone("ResNet50V2", "tf", 224, "He et al. 2016, Identity mappings"),
    "inceptionv3": Backbone("InceptionV3", "tf", 299, "Szegedy et al. 2016, Rethinking Inception"),
    "efficientnetv2b0": Backbone("EfficientNetV2B0", "none", 224, "Tan & Le 2021, EfficientNetV2"),
    "convnexttiny": Backbone("ConvNeXtTiny", "none", 224,
                             "Liu et al. 2022, A ConvNet for the 2020s"),
}

#: The names :func:`cnncourse.transfer.build_transfer_model` accepts, in the table's order.
BACKBONE_NAMES: tuple[str, ...] = tuple(BACKBONES)
