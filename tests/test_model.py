"""The canonical model is self-consistent and documented."""

from __future__ import annotations

from audit_lib.model import TABLES, data_model_markdown

from .conftest import ROOT


def test_docs_data_model_is_generated_from_the_model():
    doc = (ROOT / "docs" / "data-model.md").read_text()
    assert doc == data_model_markdown(), "regenerate docs/data-model.md from the model"


def test_declarations_are_consistent():
    for t in TABLES.values():
        names = set(t.column_names)
        assert len(names) == len(t.columns), t.name
        assert set(t.key) <= names, t.name
        for fk in t.foreign_keys:
            assert set(fk.columns) <= names
            assert set(fk.ref_columns) <= set(TABLES[fk.ref_table].column_names)
            assert list(TABLES).index(fk.ref_table) < list(TABLES).index(t.name), "load order"
        for rule in t.date_orders:
            assert t[rule.earlier].kind == t[rule.later].kind == "date"
        for name in t.event_dates:
            assert t[name].kind == "date"
        for c in t.columns:
            if c.strict:
                assert c.codes is not None
        empty = t.empty()
        assert list(empty.columns) == t.column_names and empty.empty
