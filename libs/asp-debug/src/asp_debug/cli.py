"""The ``asp-debug`` command line."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from .connect import ConnectOptions, run_connect
from .errors import EXIT_USAGE, DebugError
from .framing import Framing
from .render import Printer
from .tail import TailOptions, run_tail

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="asp-debug",
        description="ASP debugging: a handshake against a WebSocket server, or a session's "
        "Redis stream decoded. See docs/ASP_TROUBLESHOOTING.md.",
    )
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("connect", help="open an ASP session over WebSocket and print it")
    c.add_argument("url", help="ws://host:8765 or wss://host:8765")
    c.add_argument(
        "--token",
        default=os.environ.get("ASP_GATEWAY_TOKEN") or None,
        help="the gateway token (default: $ASP_GATEWAY_TOKEN), sent as Authorization: Bearer",
    )
    c.add_argument(
        "--token-in-query",
        action="store_true",
        help="send the token as ?token= instead of a header (as a browser must)",
    )
    c.add_argument(
        "--sample-rate", type=int, help="audio.sample_rate (default: the WAV's, or 8000)"
    )
    c.add_argument("--vad-silence", type=int, metavar="MS", help="vad.silence_threshold_ms")
    c.add_argument(
        "--framing",
        choices=[f.value for f in Framing],
        default=Framing.SPEC.value,
        help="binary audio frames: spec (section 8) or seed (12-byte header)",
    )
    c.add_argument("--send", type=Path, metavar="WAV", help="a mono 16-bit question to send")
    c.add_argument("--save", type=Path, metavar="WAV", help="where to save the agent's answer")
    c.add_argument(
        "--fast",
        action="store_true",
        help="ask for the agent's audio as fast as it is made (playback: fast), not paced",
    )
    c.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the answer")
    c.add_argument("--frames", action="store_true", help="print every audio frame received")
    c.add_argument("--json", action="store_true", help="one JSON object per line")

    t = sub.add_parser("tail", help="follow a session's Redis stream, decoded")
    target = t.add_mutually_exclusive_group(required=True)
    target.add_argument("session_id", nargs="?", help="the session's UUID")
    target.add_argument("--all", action="store_true", help="every live session")
    t.add_argument(
        "--redis-url",
        default=os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL,
        help=f"default: $REDIS_URL or {DEFAULT_REDIS_URL}",
    )
    t.add_argument("--no-follow", action="store_true", help="print what is there and exit")
    t.add_argument("--json", action="store_true", help="one JSON object per line")
    return p


async def _run(args: argparse.Namespace) -> int:
    if args.command == "connect":
        options = ConnectOptions(
            url=args.url,
            token=args.token,
            token_in_query=args.token_in_query,
            sample_rate=args.sample_rate,
            vad_silence_ms=args.vad_silence,
            framing=Framing(args.framing),
            send=args.send,
            save=args.save,
            as_json=args.json,
            every_frame=args.frames,
            fast_playback=args.fast,
            answer_timeout_s=args.timeout,
        )
        return await run_connect(options, Printer(as_json=args.json))
    options_t = TailOptions(
        redis_url=args.redis_url,
        session_id=args.session_id,
        all_sessions=args.all,
        follow=not args.no_follow,
        as_json=args.json,
    )
    return await run_tail(options_t, sys.stdout)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "connect" and args.sample_rate is not None and args.sample_rate <= 0:
        print("asp-debug: --sample-rate must be a positive number of Hz", file=sys.stderr)
        return EXIT_USAGE
    try:
        return asyncio.run(_run(args))
    except DebugError as e:
        print(f"asp-debug: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:  # asp-debug tail ... | head: the reader left, nothing is wrong
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
