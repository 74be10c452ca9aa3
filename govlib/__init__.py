"""govlib: analysis and reporting kit for creator and content governance."""

__version__ = "0.1.0"
