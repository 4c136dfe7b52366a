"""The I/O shell around libs/asp: publish ASP events on Redis and run stateless stage workers."""

from .bus import Bus
from .worker import Job, StreamWorker

__all__ = ["Bus", "Job", "StreamWorker"]
