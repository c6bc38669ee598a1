"""``python -m pybpf.cli``: the same as the ``pybpf`` command."""

import sys

from pybpf.cli import main

sys.exit(main())
