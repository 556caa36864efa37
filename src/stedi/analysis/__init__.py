"""The exploratory balance analysis's computations; the notebook in notebooks/ plots them."""
