"""Backbones: MobileNetV1 (the paper's), any timm model and any torchvision classification model, behind one
interface (`Backbone`)."""
from .base import Backbone, FeatureInfo
from .mobilenet_v1 import MobileNetV1
from .timm_backbone import TimmBackbone
from .torchvision_backbone import TorchvisionBackbone
from .weights import PretrainedWeightsError, load_pretrained

__all__ = ["Backbone", "FeatureInfo", "MobileNetV1", "TimmBackbone", "TorchvisionBackbone", "PretrainedWeightsError",
           "load_pretrained"]
