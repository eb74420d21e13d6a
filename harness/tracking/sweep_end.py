"""``tracking.wandb.workspace: true``: build the sweep's W&B comparison view when it ends.

Called by the harness launcher once all points have run. Like every tracking step it never
fails the sweep: a problem is one warning, and ``python -m harness.report SWEEP
--wandb-workspace ENTITY/PROJECT`` does the same by hand.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger("harness")


def after_sweep(config: Any) -> list[str]:
    """``config``: the sweep's composed config (``tracking`` and ``hydra.sweep.dir``)."""
    from harness.settings import to_plain
    from harness.tracking.mode import resolve_mode
    from harness.tracking.settings import tracking_settings

    try:
        tracking = to_plain(config.get("tracking")) if config.get("tracking") else None
        settings = tracking_settings(tracking).wandb if tracking else None
        if settings is None or not settings.workspace:
            return []
        mode = resolve_mode(settings.mode)
        if mode == "disabled":
            return []
        entity = settings.entity
        if not entity and mode == "online":
            import wandb

            entity = wandb.Api().default_entity
        if not entity:
            log.warning(
                "tracking.wandb.workspace: no W&B entity to name the view's project by (set "
                "tracking.wandb.entity); the sweep's view was not built"
            )
            return []
        from harness.report.points import load_points
        from harness.report.wandb_view import build

        sweep_dir = Path(str(config.hydra.sweep.dir))
        points = load_points([sweep_dir])
        lines = build(points, f"{entity}/{settings.project}", sweep_dir / "report", mode=mode)
    except Exception as exc:  # noqa: BLE001 - the sweep's results are on disk; the view is extra
        log.warning("W&B view of the sweep not built (%s: %s)", type(exc).__name__, exc)
        return []
    for line in lines:
        print(line, flush=True)
    return lines
