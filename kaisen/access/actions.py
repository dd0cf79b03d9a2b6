"""The catalogue of named actions that policies allow or deny (issue 5 §1).

Every service that changes or reads tenant data names one of these in its permission check. Names are
``Resource:verb``; policies may use wildcards (``Line:*``, ``*``).
"""

from __future__ import annotations

# Usage, billing and statements (issue 4).
USAGE_READ = "Usage:read"
BILLING_READ = "Billing:read"
PAYMENT_MANAGE = "Payment:manage"
STATEMENT_REQUEST = "Statement:request"
STATEMENT_DOWNLOAD = "Statement:download"

# Account pages (issue 5 §7; S-ACC-3..5, K-1, K-2; helper "acct").
ACCOUNT_READ = "Account:read"
ACCOUNT_MANAGE = "Account:manage"
LINE_TRANSFER = "Line:transfer"
