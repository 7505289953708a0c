"""python -m cqrs_shared.cli: the `cqrs` command line."""

import sys

from cqrs_shared.cli.main import main

sys.exit(main())
