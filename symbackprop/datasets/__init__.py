"""The bundled data sets (CSV); `python -m symbackprop.datasets.make` regenerates them."""
