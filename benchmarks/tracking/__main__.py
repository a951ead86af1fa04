import os
import sys

if not __package__:  # `python benchmarks/tracking`: make the package importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    from benchmarks.tracking.cli import main
else:
    from .cli import main

sys.exit(main())
