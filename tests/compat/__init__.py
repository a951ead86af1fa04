"""Compatibility tests: the official mlflow client against a live modelyard server."""
