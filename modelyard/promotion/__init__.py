"""Promotion: policies as code, the statistics of the challenger gate, the scoring worker.

The server runs the gates (``service/promotion.py``); this package holds what needs no store:

- :mod:`.policy`: a policy's shape, checked (``check_policy``);
- :mod:`.stats`: paired bootstrap and McNemar comparisons, vectorised;
- :mod:`.worker`: loads and scores a model in a child process (latency, size, predictions).
"""
