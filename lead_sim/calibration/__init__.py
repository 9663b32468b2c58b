"""Calibration (layer 6 of 8): fitting the model to published targets and observed records.

``fit`` runs the simulated evaluation design against targets (search and SIR posterior);
``posterior`` reads a posterior for PSA draws; ``records`` turns administrative records into
targets (``lead-sim targets``) and simulations into records.
"""
