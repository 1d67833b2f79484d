"""Distillation: the teacher kinds (teachers.py) and the mixin a distilling task module adds (mixin.py). Stage 1,
training a teacher as a run of its own, is the engine's (tasks.engine.teacher_stage)."""
from .mixin import DistillingTask, resize_for, teacher_outputs
from .teachers import (KINDS, FaceNetTeacher, OnnxTeacher, OutputsTeacher, Teacher, TeacherError, TorchTeacher, View,
                       build_teacher, find_facenet_graph)

__all__ = ["KINDS", "DistillingTask", "FaceNetTeacher", "OnnxTeacher", "OutputsTeacher", "Teacher", "TeacherError",
           "TorchTeacher", "View", "build_teacher", "find_facenet_graph", "resize_for", "teacher_outputs"]
