"""``python -m agreement_core``: the command line (:mod:`agreement_core.cli`)."""

import sys

try:
    from .cli import main
except KeyboardInterrupt:  # Ctrl-C while torch and pandas load: nothing has started yet
    print("interrupted: nothing was started", file=sys.stderr)
    sys.exit(130)

sys.exit(main())
