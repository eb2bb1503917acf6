"""The version of lsqnet (read by the packaging metadata and written into model files)."""

__version__ = "0.1.0.dev0"
