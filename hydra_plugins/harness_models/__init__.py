"""Checkpoints registered by ``python -m training`` as harness model configs (see
``harness_models_searchpath``)."""
