"""``python -m lead_sim`` runs the command line."""

from lead_sim.cli.main import main

main()
