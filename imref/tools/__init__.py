"""Tools that work on the repository itself: JupyterLab and the notebooks."""
