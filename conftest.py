"""Fixtures shared by every test folder of the repository."""

pytest_plugins = ("pipeline.pytest_plugin",)
