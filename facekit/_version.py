"""facekit's version, in one place (``facekit.__version__``; :func:`facekit.config.about` prints it)."""

__version__ = "0.1.0"
