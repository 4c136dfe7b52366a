"""Received frames reach the event loop in batches, in order, one bad handler hurting none."""

from __future__ import annotations

import asyncio
import threading

from sip_edge.sip.endpoint import _FrameInbox


def test_one_tick_of_frames_is_one_drain_in_arrival_order() -> None:
    async def run() -> tuple[list[bytes], int]:
        loop = asyncio.get_running_loop()
        inbox = _FrameInbox(loop)
        got: list[bytes] = []
        drains = 0
        original = inbox.drain

        def counting_drain() -> None:
            nonlocal drains
            drains += 1
            original()

        inbox.drain = counting_drain  # type: ignore[method-assign]

        def tick() -> None:  # the media clock thread: every call's frame in one go
            for k in range(50):
                inbox.put(got.append, bytes([k]))

        t = threading.Thread(target=tick)
        t.start()
        t.join()
        await asyncio.sleep(0.05)
        return got, drains

    got, drains = asyncio.run(run())
    assert got == [bytes([k]) for k in range(50)]
    assert drains == 1


def test_a_failing_handler_does_not_lose_the_other_frames() -> None:
    async def run() -> list[bytes]:
        inbox = _FrameInbox(asyncio.get_running_loop())
        got: list[bytes] = []

        def broken(_pcm: bytes) -> None:
            raise RuntimeError("boom")

        inbox.put(got.append, b"a")
        inbox.put(broken, b"b")
        inbox.put(got.append, b"c")
        await asyncio.sleep(0.05)
        inbox.put(got.append, b"d")  # the inbox re-arms after a drain
        await asyncio.sleep(0.05)
        return got

    assert asyncio.run(run()) == [b"a", b"c", b"d"]
