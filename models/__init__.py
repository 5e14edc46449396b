"""Network definitions, the model registry, and safetensors save/load (``streamcolor.models``)."""

from streamcolor.models import cnn, hints, koalarization, lite_unet, patchgan, resnet, resnet_unet, unet, zhang  # noqa: F401  (registers)
from streamcolor.models.io import from_pretrained, save_calibration, save_pretrained, shipped_models
from streamcolor.models.registry import Generator, create_model, is_model, list_models, register_model

__all__ = [
    "Generator",
    "create_model",
    "from_pretrained",
    "is_model",
    "list_models",
    "register_model",
    "save_calibration",
    "save_pretrained",
    "shipped_models",
]
