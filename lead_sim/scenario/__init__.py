"""Scenarios (layer 2 of 8): what a scenario file may hold, reading it, and its analysis sections.

``schema`` is every key, its type, unit and limits (a validated, frozen ``Scenario``);
``distributions`` the distributions a file can name, sampled by inverse transform; ``loading``
reads YAML with ``extends``, ``--set`` overrides and arms, with one error line per problem;
``uncertainty`` and ``calibration_section`` check the PSA and calibration sections; ``paths``
walks a scenario document by parameter."""
