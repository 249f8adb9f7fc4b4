"""Use Case Lab core: the services behind the pages and the CLI. Never imports streamlit."""

import os

# OpenMP threads that spin while waiting make a 2-core machine shared with the Streamlit server
# (or another run) 5-7x slower per step; passive waiting costs nothing measurable when idle.
# Set before torch is imported anywhere in the process.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
