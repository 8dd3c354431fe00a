import sys

from debugger.cli import main

sys.exit(main())
