"""Notebook-first, small-scale reproductions of research papers on pre-training language and vision-language models."""

__version__ = "0.1.0"
