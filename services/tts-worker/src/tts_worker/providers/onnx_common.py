"""What the ONNX Runtime engines (Kokoro, Piper) share when they load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ConfigError


def require_files(engine: str, files: dict[str, Path]) -> None:
    """Raises ConfigError for the first missing file (keyed by the variable that sets it)."""
    for what, path in files.items():
        if not path.is_file():
            raise ConfigError(
                f"{engine} file {path} not found: run scripts/assemble-models.sh or set {what}"
            )


def session_options(threads: int) -> Any:
    """ONNX Runtime session options: ``threads`` intra-op threads that sleep when idle."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Idle threads sleep instead of spinning: on a small shared CPU the spinning
    # steals the cores the STT and LLM need (and was slower under load here).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options
