"""Text-to-speech stage of the voice agent.

The provider layer (``providers``) turns one sentence into audio at the engine's own
rate; ``audio.render`` resamples it once to the session rate and cuts it into
20 ms-aligned PCM16 chunks. The Redis Streams worker that drives it lives in ``worker``.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
