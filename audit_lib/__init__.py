"""audit_lib: quality-assurance audits for English children's social care.

The notebooks call this library; every figure in a report comes from a tested function
here. See DESIGN.md for the layout and METRICS.md for the definition of each measure.
"""

from .metrics import record, record_all

__version__ = "0.1.0"
__all__ = ["record", "record_all"]
