"""The HTTP face of modelyard: the MLflow REST API and our extensions."""

from .app import create_app as create_app
