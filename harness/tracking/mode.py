"""Which W&B mode a run uses: online only where credentials are configured."""

from __future__ import annotations

import netrc
import os
from pathlib import Path
from urllib.parse import urlsplit

#: WANDB_MODE spellings W&B accepts, as the three modes used here
_ENV_MODES = {
    "online": "online",
    "run": "online",
    "offline": "offline",
    "dryrun": "offline",
    "disabled": "disabled",
}


def resolve_mode(mode: str) -> str:
    """``online``, ``offline`` or ``disabled`` for a configured mode (``auto`` included).

    ``auto`` follows ``WANDB_MODE`` when it is set (CI and the Makefile set ``offline``), else
    goes online only when credentials exist, so a fresh machine never prompts for a login or
    waits on the network.
    """
    if mode != "auto":
        return mode
    env = os.environ.get("WANDB_MODE", "").strip().lower()
    if env in _ENV_MODES:
        return _ENV_MODES[env]
    return "online" if has_credentials() else "offline"


def has_credentials() -> bool:
    """Whether W&B would find an API key: ``WANDB_API_KEY`` (or an identity token file), or a
    netrc entry for the W&B host. Only presence is checked; the key itself is never read out.

    Written here rather than calling wandb's own lookup (``wandb.sdk.lib.wbauth``): that module
    is private and has moved between releases.
    """
    if os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_IDENTITY_TOKEN_FILE"):
        return True
    host = urlsplit(os.environ.get("WANDB_BASE_URL") or "https://api.wandb.ai").hostname
    path = Path(os.environ.get("NETRC") or Path.home() / ".netrc")
    try:
        entry = netrc.netrc(str(path)).authenticators(host or "api.wandb.ai")
    except (OSError, netrc.NetrcParseError):
        return False
    return bool(entry and entry[2])
