"""Settings shared by every test, the notebook checks included."""

import os

# Figures render off screen in tests and in the kernels that nbval starts,
# which inherit this environment.
os.environ.setdefault("MPLBACKEND", "Agg")
