"""The model (layer 3 of 8): one arm-replication on the SimPy clock, from a validated scenario to
tidy tables of events, state spells and people. It knows nothing about costs or metrics.

``engine`` runs it (``simulate``, the only entry point); ``params`` compiles the scenario into
numbers and samplers; ``person`` is a person's step; ``policing``, ``court``, ``custody`` and
``lead_program`` are the changes a step makes; ``state`` holds the person and their spells;
``recorder`` the tables; ``resources`` the case-manager pool and counted places; ``streams`` the
named random streams."""
