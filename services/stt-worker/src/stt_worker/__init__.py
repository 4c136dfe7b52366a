"""Speech-to-text stage of the voice agent.

The provider layer (``providers``) turns one caller utterance (PCM16 at the session
rate) into a transcript; the Redis Streams worker that feeds it lives in ``worker``.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
