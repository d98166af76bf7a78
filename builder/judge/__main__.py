"""`python -m builder.judge ...` runs the judge harness (same as `x-instruction eval ...`)."""

import sys

from ..cli.eval import main

sys.exit(main())
