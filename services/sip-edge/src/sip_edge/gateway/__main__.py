"""``python -m sip_edge.gateway`` / ``asp-gateway``: reads the settings once and serves ASP
over WebSocket until SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import sys

from pipeline.logs import setup

from ..settings import SettingsError
from .settings import GatewaySettings


def main() -> None:
    try:
        settings = GatewaySettings.from_env()
    except SettingsError as e:
        print(f"asp-gateway: configuração inválida: {e}", file=sys.stderr)
        raise SystemExit(2) from e
    setup("asp-gateway", settings.edge.log_level)
    logging.getLogger("websockets").setLevel(logging.WARNING)
    from .server import GatewayApp

    asyncio.run(GatewayApp(settings).run())


if __name__ == "__main__":
    main()
