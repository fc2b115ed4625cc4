"""The bundled data sets (CSV): the generated ones `python -m symbackprop.datasets.make` rewrites
from fixed seeds, and digits.csv.gz, external data read as committed (DIGITS.md)."""
