"""Runs (layer 4 of 8): arms x replications x cases through the model, in parallel.

``experiment`` runs arms for paired replications and summarises them; ``branching`` shares the
years before LEAD starts between arms; ``executors`` is the process pool (or a Dask cluster);
``precision`` adds replications until intervals are narrow enough; ``checkpoint`` and ``output``
keep resumable progress and write run folders atomically; ``case_run`` is the resumable run of
parameter cases (psa, tornado, sweep) built on them.
"""
