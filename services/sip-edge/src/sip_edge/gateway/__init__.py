"""The ASP WebSocket gateway (``asp-gateway``, port 8765): media servers that speak ASP
over WebSocket get the same pipeline as a phone call. Each WebSocket session is a
:class:`sip_edge.calls.CallSession` of the edge (one implementation of VAD, turn-taking,
barge-in, the Redis bridge and pacing); no pjsua2 here."""
