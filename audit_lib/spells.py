"""Looked-after episodes (SSDA903) as continuous spells and placements.

An episode starts a new *spell* when its reason for new episode (RNE) is S, or when it
does not start on the day the previous episode ended (a gap). Episodes with RNE L, P, T,
U or B and no gap continue the spell. A *placement* starts with every episode whose RNE
is S, P, T, U or B (a change of placement), and continues through RNE L (a change of
legal status only). Source: DfE SSDA903 guidance, "reason for new episode".
"""

from __future__ import annotations

import pandas as pd

__all__ = ["PLACEMENT_CHANGE_RNE", "mark_spells", "placements", "spells"]

#: RNE codes that begin a new placement.
PLACEMENT_CHANGE_RNE = frozenset({"S", "P", "T", "U", "B"})


def mark_spells(episodes: pd.DataFrame) -> pd.DataFrame:
    """Episodes sorted by child and start, with ``spell`` and ``placement`` numbers.

    ``spell`` counts 1, 2, ... per child; ``placement`` counts placements within the
    child's spells (1, 2, ... per child, across spells).
    """
    e = episodes.sort_values(["child_id", "episode_start"], kind="stable").reset_index(drop=True)
    same_child = e["child_id"].eq(e["child_id"].shift())
    prev_end = e["episode_end"].shift()
    gap = ~(same_child & prev_end.notna() & (e["episode_start"] == prev_end))
    new_spell = gap | e["reason_new_episode"].eq("S") | ~same_child
    new_placement = new_spell | e["reason_new_episode"].isin(PLACEMENT_CHANGE_RNE)
    e["spell"] = new_spell.astype(int).groupby(e["child_id"]).cumsum()
    e["placement"] = new_placement.astype(int).groupby(e["child_id"]).cumsum()
    return e


def _first_last(e: pd.DataFrame, keys: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each group's first and last episode rows, indexed by ``keys``. (groupby "last"
    would skip an open end, so the rows themselves are taken.)"""
    first = e.drop_duplicates(keys, keep="first").set_index(keys)
    last = e.drop_duplicates(keys, keep="last").set_index(keys)
    return first, last


def spells(episodes: pd.DataFrame) -> pd.DataFrame:
    """One row per spell: child_id, spell, start, end (NaT if open), reason_ceased,
    episodes and placements in the spell, and the first episode's legal status and
    placement type."""
    e = mark_spells(episodes)
    keys = ["child_id", "spell"]
    first, last = _first_last(e, keys)
    out = pd.DataFrame(
        {
            "start": first["episode_start"],
            "end": last["episode_end"],
            "reason_ceased": last["reason_ceased"],
            "episodes": e.groupby(keys, sort=False).size(),
            "placements": last["placement"] - first["placement"] + 1,
            "legal_status": first["legal_status"],
            "placement_type": first["placement_type"],
        }
    )
    return out.reset_index()


def placements(episodes: pd.DataFrame) -> pd.DataFrame:
    """One row per placement: child_id, spell, placement, start, end (NaT if open) and
    placement type (of its first episode)."""
    e = mark_spells(episodes)
    first, last = _first_last(e, ["child_id", "placement"])
    out = pd.DataFrame(
        {
            "spell": first["spell"],
            "start": first["episode_start"],
            "end": last["episode_end"],
            "placement_type": first["placement_type"],
        }
    ).reset_index()
    return out[["child_id", "spell", "placement", "start", "end", "placement_type"]]
