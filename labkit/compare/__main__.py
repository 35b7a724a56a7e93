import sys

from labkit.compare.cli import main

sys.exit(main())
