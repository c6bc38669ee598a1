"""The directory ``python -m pybpf.bcc`` puts on ``sys.path`` so a script's ``import bcc``
finds ``compat/bcc`` (a regular package here only so that wheels carry it)."""
