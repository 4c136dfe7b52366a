"""A package, so that its package-scoped fixtures (the sip-edge registered as 2000, the
workers) end with its last test: pytest keeps the package-scoped fixtures of a plain folder
(no __init__.py) until the end of the session, and that sip-edge, refreshing its
registration, took 2000 back from the drills' own sip-edge in the middle of their calls."""
