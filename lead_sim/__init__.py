"""lead-sim: discrete-event simulation of police diversion (LEAD) versus usual processing."""
