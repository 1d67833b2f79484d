"""Object detection (paper Table 13): the task module (task.py), SSD and Faster R-CNN built from torchvision's
detection package on any suite backbone (models.py), COCO evaluation (coco_eval.py), and the detectors as
exported networks with their pre- and post-processing (exported.py)."""
from .task import DETECTIONS_FILE, PREDICTIONS_DIR, DetectionTask
from .coco_eval import METRICS, coco_evaluate, to_coco_results

__all__ = ["DETECTIONS_FILE", "METRICS", "PREDICTIONS_DIR", "DetectionTask", "coco_evaluate", "to_coco_results"]
