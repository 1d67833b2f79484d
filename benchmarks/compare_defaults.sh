#!/usr/bin/env bash
# The README's per-task comparisons on the embedded defaults: MobileNetV1 at alpha 0.25 and 0.5 against timm's
# MobileNetV3-Small, each task at its default resolution with a shortened schedule (about half the default epochs;
# dogs: the default 36).
# Each sweep ends with its report (comparison.md/.csv and plots) in multirun/compare/<task>/; at the end every report
# is rebuilt with its models re-timed together (python compare.py --measure).
#   bash benchmarks/compare_defaults.sh [task ...]     (all six by default; about 45 min on 2 CPU cores)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
OUT=${OUT:-multirun/compare}
BACKBONES=mobilenet_v1_025,mobilenet_v1_050,mobilenetv3_small_100
sweep() {  # sweep <task> <folder> <overrides...>
  local task=$1 dir=$2; shift 2
  $PY train.py -m task="$task" hydra.sweep.dir="$dir" "$@"
}
for task in ${@:-dogs ssd faster_rcnn face_attributes face_embedding geolocation}; do
  case $task in
    dogs)           sweep dogs "$OUT/dogs" backbone=$BACKBONES ;;   # the default 36 epochs: about 3-5 min per run
    ssd)            sweep ssd "$OUT/ssd" backbone=$BACKBONES trainer.max_epochs=12 ;;
    faster_rcnn)    # the paper's box head is MobileNet's own layers 12-13; a timm backbone takes torchvision's MLP
                    sweep faster_rcnn "$OUT/faster_rcnn/mobilenet_v1" backbone=mobilenet_v1_025,mobilenet_v1_050 \
                      trainer.max_epochs=12 trainer.check_val_every_n_epoch=6
                    sweep faster_rcnn "$OUT/faster_rcnn/timm" backbone=mobilenetv3_small_100 \
                      model.detector.box_head=mlp trainer.max_epochs=12 trainer.check_val_every_n_epoch=6
                    ;;
    face_attributes) # one teacher (default stage 1, 10 epochs) shared by the students of the sweep
                    sweep face_attributes "$OUT/face_attributes" backbone=$BACKBONES trainer.max_epochs=8 \
                      'teacher.dir=${hydra:sweep.dir}/teacher' ;;
    face_embedding) # one 14-epoch teacher (the teacher task's own default) shared by the students of the sweep
                    sweep face_embedding "$OUT/face_embedding" backbone=$BACKBONES trainer.max_epochs=6 \
                      'teacher.dir=${hydra:sweep.dir}/teacher' \
                      'teacher.overrides=["task=face_embedding_teacher","trainer.max_epochs=14"]' ;;
    geolocation)    sweep geolocation "$OUT/geolocation" backbone=$BACKBONES trainer.max_epochs=12 ;;
    *) echo "unknown task: $task" >&2; exit 2 ;;
  esac
done
# every report once more, its models re-timed together in one process (comparable latency and throughput)
for task in ${@:-dogs ssd faster_rcnn face_attributes face_embedding geolocation}; do
  if [ "$task" = faster_rcnn ]; then
    $PY compare.py "$OUT/faster_rcnn/mobilenet_v1" "$OUT/faster_rcnn/timm" --out "$OUT/faster_rcnn" --measure
  else
    $PY compare.py "$OUT/$task" --measure
  fi
done
