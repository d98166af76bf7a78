"""`python -m builder.cli`: the `x-instruction` command."""

import sys

from . import main

sys.exit(main())
