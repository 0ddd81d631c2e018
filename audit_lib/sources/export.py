"""Write canonical tables out as statutory returns, so pipelines can be tested end to end.

``to_ssda903`` writes the 903 CSVs (header, episodes, reviews, uasc, placed_for_adoption,
ad1) for the children looked after in the tables, with the 903's own conventions:
dd/mm/YYYY dates and sex as 1/2. Importing the result with ``audit import ssda903``
gives back the same canonical rows for every field the 903 carries.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = ["to_ssda903"]

SEX_903 = {"M": "1", "F": "2"}


def _d(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s).dt.strftime("%d/%m/%Y").fillna("")


def _s(s: pd.Series) -> pd.Series:
    return s.astype("string").fillna("")


def to_ssda903(tables: dict[str, pd.DataFrame], folder: str | Path) -> list[Path]:
    """Write 903 CSVs for the children with care episodes; returns the paths."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    e = tables["cla_episodes"]
    kids = tables["children"]
    kids = kids[kids["child_id"].isin(e["child_id"])]
    dob = kids.set_index("child_id")["date_of_birth"]
    files = {
        "header.csv": pd.DataFrame(
            {
                "CHILD": kids["child_id"],
                "SEX": kids["sex"].map(SEX_903).fillna(_s(kids["sex"])),
                "DOB": _d(kids["date_of_birth"]),
                "ETHNIC": _s(kids["ethnicity"]),
                "UPN": "",
                "MOTHER": "",
                "MC_DOB": "",
            }
        ),
        "episodes.csv": pd.DataFrame(
            {
                "CHILD": e["child_id"],
                "DECOM": _d(e["episode_start"]),
                "RNE": _s(e["reason_new_episode"]),
                "LS": _s(e["legal_status"]),
                "CIN": _s(e["category_of_need"]),
                "PLACE": _s(e["placement_type"]),
                "PLACE_PROVIDER": _s(e["placement_provider"]),
                "DEC": _d(e["episode_end"]),
                "REC": _s(e["reason_ceased"]),
                "REASON_PLACE_CHANGE": _s(e["reason_place_change"]),
                "HOME_POST": "",
                "PL_POST": "",
                "URN": "",
            }
        ),
        "reviews.csv": pd.DataFrame(
            {
                "CHILD": tables["cla_reviews"]["child_id"],
                "DOB": _d(tables["cla_reviews"]["child_id"].map(dob)),
                "REVIEW": _d(tables["cla_reviews"]["review_date"]),
                "REVIEW_CODE": "PN1",
            }
        ),
    }
    u = kids[kids["uasc"].fillna(False).astype(bool)]
    files["uasc.csv"] = pd.DataFrame(
        {
            "CHILD": u["child_id"],
            "SEX": u["sex"].map(SEX_903).fillna(""),
            "DOB": _d(u["date_of_birth"]),
            "DUC": "",
        }
    )
    a = tables["adoptions"]
    files["placed_for_adoption.csv"] = pd.DataFrame(
        {
            "CHILD": a["child_id"],
            "DOB": _d(a["child_id"].map(dob)),
            "DATE_PLACED": _d(a["decision_date"]),
            "DATE_PLACED_CEASED": _d(a["plan_ceased_date"]),
            "REASON_PLACED_CEASED": "",
        }
    )
    done = a[a["adoption_order_date"].notna()]
    files["ad1.csv"] = pd.DataFrame(
        {
            "CHILD": done["child_id"],
            "DOB": _d(done["child_id"].map(dob)),
            "DATE_INT": _d(done["decision_date"]),
            "DATE_MATCH": _d(done["matched_date"]),
            "FOSTER_CARE": done["fostering_for_adoption"].map({True: "1", False: "0"}).fillna("0"),
            "NB_ADOPTR": "",
            "SEX_ADOPTR": "",
            "LS_ADOPTR": "",
        }
    )
    paths = []
    for name, frame in files.items():
        path = out / name
        frame.to_csv(path, index=False, lineterminator="\n")
        paths.append(path)
    return paths
