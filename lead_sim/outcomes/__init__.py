"""Outcomes (layer 3 of 8): pure functions of one simulation's tables, no SimPy.

``costing`` prices events and spells (``price_table``: the one place every unit price is
decided, under the cost lens); ``repricing`` prices the same quantities for PSA draws without
re-simulating; ``periods`` cuts costs into fiscal years, months and funders; ``metrics`` computes
recidivism, drug use, quality of life and cost metrics; ``evaluation`` simulates the Seattle
evaluation's design (cohorts, windows, odds ratios).
"""
