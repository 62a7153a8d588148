"""Loading the pretrained networks (ResNet-50, RoBERTa, CLIP, Deformable-DETR) by hub name or path.

Everything goes through `transformers`' `from_pretrained`, which reads a local folder or the hub
cache and downloads only when allowed. When the weights cannot be had (offline, no cache, a wrong
path) the error says how to provide them instead of surfacing a network traceback.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from uecity.core.errors import ExternalToolError

log = logging.getLogger(__name__)


def how_to_provide(name: str) -> str:
    """The advice given whenever pretrained weights `name` cannot be loaded."""
    return (
        f"download {name!r} on a machine with internet access (e.g. "
        f"`huggingface-cli download {name} --local-dir DIR`, or `save_pretrained(DIR)` in "
        "Python), copy DIR here and pass DIR instead of the hub name; or fill the Hugging Face "
        "cache (HF_HOME) on a connected machine and set HF_HUB_OFFLINE=1 here. Tests and demos "
        "need no weights: use the `tiny` preset or `paper-random`."
    )


def is_offline() -> bool:
    """Whether the Hugging Face hub is switched off by the environment."""
    return any(
        os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")
        for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def load_pretrained(loader: Any, name: str, what: str, **kwargs: Any) -> Any:
    """`loader.from_pretrained(name, **kwargs)` with a clear `ExternalToolError` on failure.

    `what` says which part of MLS-Track wanted the weights ("the ResNet-50 backbone").
    """
    local = Path(name).expanduser()
    looks_local = local.exists() or name.startswith((".", "/", "~"))
    if looks_local and not local.is_dir():
        raise ExternalToolError(
            f"cannot load {what}: {local} is not a folder of pretrained weights; "
            + how_to_provide(name),
            path=local,
        )
    log.info("loading %s from %s", what, name)
    try:
        return loader.from_pretrained(str(local) if looks_local else name, **kwargs)
    except (OSError, ValueError) as error:
        mode = " (the hub is switched off: HF_HUB_OFFLINE is set)" if is_offline() else ""
        raise ExternalToolError(
            f"cannot load {what} from {name!r}{mode}: {error.__class__.__name__}: "
            f"{str(error).splitlines()[0] if str(error) else ''}. To provide the weights, "
            + how_to_provide(name)
        ) from error
