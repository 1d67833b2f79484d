"""Backbones: MobileNetV1 (the paper's) and any timm model, behind one interface (`Backbone`)."""
from .base import Backbone, FeatureInfo
from .mobilenet_v1 import MobileNetV1
from .timm_backbone import TimmBackbone
from .weights import PretrainedWeightsError, load_pretrained

__all__ = ["Backbone", "FeatureInfo", "MobileNetV1", "TimmBackbone", "PretrainedWeightsError", "load_pretrained"]
