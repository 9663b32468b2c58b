"""Custody: entering jail or prison (a bed taken when the jail is counted) and release."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lead_sim import names as N
from lead_sim.model.state import (
    A_RELEASE,
    COMMUNITY,
    LONG_AGO,
    Person,
    close_community_spells,
    close_spell,
    open_community_spells,
    open_spell,
)

if TYPE_CHECKING:
    from lead_sim.model.person import World


def enter_custody(w: World, p: Person, t: float, kind: str, days: float, pretrial: bool = False) -> None:
    """Put ``p`` in jail or prison (``kind``) for ``days`` from day ``t``.

    From the community their community spells close and the release goes on their agenda, unless
    the jail is counted and full: then they are released instead and nothing changes. Already in
    custody, a prison term moves them from jail to prison (the bed is given back) and custody lasts
    to the later end. ``pretrial`` is not read here: it only marks the callers' pretrial detentions."""
    if days <= 0.0:
        return
    end = t + days
    if p.location == COMMUNITY:
        if kind == N.JAIL and not w.jail.try_take():
            return  # no bed: released instead of detained
        close_community_spells(w, p, t)
        p.location = kind
        open_spell(p, kind, t)
        p.custody_end = end
        p.push(end, A_RELEASE)
        return
    if kind == N.PRISON and p.location == N.JAIL:
        close_spell(w, p, N.JAIL, t)
        w.jail.give_back()
        p.location = N.PRISON
        open_spell(p, N.PRISON, t)
    if end > p.custody_end:
        p.custody_end = end
        p.push(end, A_RELEASE)


def release(w: World, p: Person, t: float) -> None:
    """Release ``p`` from custody on day ``t``: close the custody spell, give back a jail bed and
    reopen their community spells."""
    close_spell(w, p, p.location, t)
    if p.location == N.JAIL:
        w.jail.give_back()
    p.location = COMMUNITY
    p.custody_end = LONG_AGO  # read only in custody: drop the day's float (24 bytes)
    open_community_spells(p, t)
