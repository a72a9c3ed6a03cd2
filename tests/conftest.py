"""Shared test set-up: quiet TensorFlow, headless plots, no accidental downloads of real data."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("MPLBACKEND", "Agg")
