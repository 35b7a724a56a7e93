"""``python -m labkit.compare``: the same as ``python -m labkit compare``."""
import sys

from labkit.compare.cli import main

sys.exit(main())
