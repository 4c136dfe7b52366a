"""``python -m sip_edge``: reads the settings once and runs the edge until SIGTERM."""

from __future__ import annotations

import asyncio
import faulthandler
import sys

from pipeline.logs import setup

from .settings import Settings, SettingsError


def main() -> None:
    # A crash in native code (PJSUA2, the VAD) leaves the Python stacks of every thread in
    # the log instead of a silent exit.
    faulthandler.enable()
    try:
        settings = Settings.from_env()
        settings.source_policy()  # host names in SIP_EDGE_ALLOWED_SOURCES must resolve
    except SettingsError as e:
        print(f"sip-edge: configuração inválida: {e}", file=sys.stderr)
        raise SystemExit(2) from e
    setup("sip-edge", settings.log_level)
    from .app import EdgeApp  # imports pjsua2: after the settings are known to be valid

    asyncio.run(EdgeApp(settings).run())


if __name__ == "__main__":
    main()
