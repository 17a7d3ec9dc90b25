"""`python -m tui` (what `mlops tui` runs)."""

import sys

from tui.cli import main

sys.exit(main())
