"""Supervised fine-tuning on multi-agent traces (M500 → M1) and the export that makes them.

``python -m training`` trains (HF Trainer + DeepSpeed, see ``training.train``);
``python -m training.export`` turns a harness run's correct episodes into M500 records.
"""
