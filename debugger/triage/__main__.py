"""`python -m debugger.triage`: the worker process of one image (see `worker`)."""
import sys

from debugger.triage.worker import main

sys.exit(main())
