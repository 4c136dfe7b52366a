"""asp-debug: a command-line ASP client and a reader of ASP session logs on Redis.

- ``asp-debug connect ws://host:8765``: the handshake, the negotiation, optionally a WAV
  question paced in real time and the agent's answer saved to a WAV, every message printed
  with its time.
- ``asp-debug tail <session_id>`` / ``--all``: a session's Redis stream, decoded.

The pieces that hold no I/O (framing, WAV, levels, rendering) are plain functions and are
tested on their own; :mod:`asp_debug.connect` and :mod:`asp_debug.tail` are the thin shells.
"""
