"""`python -m symbackprop.cli`: the same as the `symbackprop` command."""

import sys

from . import main

sys.exit(main())
