import sys

from robocarbon.reports.cli import main

sys.exit(main())
