"""HTTP pieces shared by the tracking server (``server/``) and model serving (``serving/``).

The guard's rules, limits on request heads and bodies, reading a body, and the heap settling a
long-lived server does at start: below both faces, above nothing but ``errors`` and ``settings``.
"""
