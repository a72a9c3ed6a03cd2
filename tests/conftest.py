"""Shared test set-up: quiet TensorFlow, headless plots, no accidental downloads of real data."""

import os

import matplotlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Headless plots for the unit tests only: matplotlib.use, not MPLBACKEND, so that the notebook
# kernels nbval starts from this process keep ipykernel's inline backend and display figures.
matplotlib.use("Agg")
