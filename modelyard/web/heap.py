"""The collector and a long-running server's heap."""

from __future__ import annotations

import gc


def settle_heap() -> None:
    """Collect once, then move everything alive (modules, the app, a model) out of the collector's sight.

    A full collection walks every tracked object: the tracking server alone holds
    some 140,000 after start-up (SQLAlchemy, Starlette, numpy, pandas...), one walk
    costs it ~30-70 ms, and with scikit-learn loaded the serving process had
    350,000 and stopped its event loop for up to ~400 ms at a time under load. What
    exists once a server is built lives as long as the process, so it is frozen
    (``gc.freeze``) and the collector only walks what requests allocate.
    """
    gc.collect()
    gc.freeze()
