"""Decision analyses (layer 5 of 8): pure functions over many runs' results.

``budget`` (payers, fiscal years, grant, jail savings, funding need), ``cea`` (ICERs, frontier,
net benefit), ``breakeven`` (program price, contact effect, payback), ``psa`` (parameter cases:
draw, simulate once, price many), ``psa_analysis`` (acceptability curves, EVPI, drivers) and
``sensitivity`` (tornado and sweeps).
"""
