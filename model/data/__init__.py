"""MNIST data pipeline: find, download, verify, parse, validate and cache the MNIST arrays.

Public API: ``load_mnist``, ``check_source``, ``fetch_mnist``, ``cache_dir``, ``MNIST``, ``DataError``. Pure Python +
numpy, with pooch for downloads (imported lazily); leaves out any UI.
"""

from __future__ import annotations

from .cache import cache_dir
from .dataset import MNIST, check_source, load_mnist
from .errors import DataError
from .fetch import fetch_mnist

__all__ = ["MNIST", "DataError", "cache_dir", "check_source", "fetch_mnist", "load_mnist"]
