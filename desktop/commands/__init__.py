"""Headless sub-commands of ``python -m desktop``."""
