"""The command line (layer 8 of 8): thin click commands that parse options, call the library and
print where the results went. ``lead-sim`` is ``lead_sim.cli.main:main``; ``main.py`` holds
compare, run, budget, cea and validate; ``precision.py`` compare's ``--precision`` options;
``uncertainty.py`` psa, tornado and sweep (their run lifecycle is ``runs.case_run``);
``calibrate.py`` calibrate, targets and check-fit; ``errors.py`` and ``lens.py`` what they share."""
