"""Episodes into spells and placements (audit_lib.spells)."""

from __future__ import annotations

import pandas as pd

from audit_lib.spells import placements, spells

TS = pd.Timestamp


def ep(child, start, rne, end=None, rec=None, place="U4", ls="C2"):
    return {
        "child_id": child,
        "episode_start": TS(start),
        "reason_new_episode": rne,
        "legal_status": ls,
        "placement_type": place,
        "episode_end": TS(end) if end else pd.NaT,
        "reason_ceased": rec,
    }


EPISODES = pd.DataFrame(
    [
        # a: placement change mid-spell, legal change, still open
        ep("a", "2023-01-05", "S", "2023-03-01", "X1"),
        ep("a", "2023-03-01", "P", "2023-06-01", "X1", place="U5"),
        ep("a", "2023-06-01", "L", None, None, place="U5", ls="E1"),
        # b: returns home, re-enters later: two spells
        ep("b", "2022-02-01", "S", "2022-09-30", "E4A"),
        ep("b", "2023-04-10", "S", None, None),
        # c: a gap between episodes with RNE P still starts a new spell
        ep("c", "2022-01-01", "S", "2022-05-01", "X1"),
        ep("c", "2022-05-03", "P", "2022-08-01", "E13"),
    ]
)


def test_spells_from_hand_made_episodes():
    s = spells(EPISODES).set_index(["child_id", "spell"])
    assert len(s) == 5
    a = s.loc[("a", 1)]
    assert a["start"] == TS("2023-01-05") and pd.isna(a["end"])  # open, though earlier ends exist
    assert a["episodes"] == 3 and a["placements"] == 2
    assert s.loc[("b", 1), "reason_ceased"] == "E4A" and s.loc[("b", 1), "end"] == TS("2022-09-30")
    assert s.loc[("b", 2), "start"] == TS("2023-04-10")
    assert (
        s.loc[("c", 2), "start"] == TS("2022-05-03") and s.loc[("c", 2), "reason_ceased"] == "E13"
    )


def test_placements_continue_through_legal_status_changes():
    p = placements(EPISODES)
    a = p[p["child_id"] == "a"]
    assert a["start"].tolist() == [TS("2023-01-05"), TS("2023-03-01")]
    assert pd.isna(a["end"].iloc[-1]) and a["placement_type"].tolist() == ["U4", "U5"]
    assert len(p) == 6
