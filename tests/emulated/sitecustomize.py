"""Switches the emulated network on in every Python process started with this folder on PYTHONPATH.

Only when ``CNNCOURSE_EMULATED_NETWORK=1`` is set too; see ``emulated_network.py`` for what it
answers and ``tests/test_online.py`` for how the tests use it. Prints nothing.
"""

import os

if os.environ.get("CNNCOURSE_EMULATED_NETWORK") == "1":
    import emulated_network

    emulated_network.install()
