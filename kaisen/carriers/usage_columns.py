"""The columns of a carrier's usage files (issue 4 §1; docs/usage.md): what a carrier sends.

``kaisen.usage.formats`` reads files with these columns; the carrier simulator
(``kaisen.carriers.usage_files``) writes them. The columns live here, with the carrier, so that neither
of the two has to import the other.
"""

from __future__ import annotations

#: Call / SMS detail records (``kind=calls``), in the order the simulator writes them.
CALL_COLUMNS = ("record_id", "msisdn", "start", "duration_ds", "destination", "area", "network", "internal",
                "count", "roaming", "service")
#: Daily data usage per line (``kind=data``).
DATA_COLUMNS = ("date", "msisdn", "iccid", "bytes")
