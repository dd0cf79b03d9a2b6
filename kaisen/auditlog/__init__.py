"""The tenant's audit log as its root user reads it (X-AUDIT): the page under ``/audit/`` (URL namespace
``audit``, templates ``audit/``) and ``GET /api/v1/audit``, filtered and exported as CSV.

The log itself — its model, ``audit_record`` and the queries — is ``kaisen.audit``, near the bottom of the
layers because every app writes to it; these pages sit above access (who may read the log) and accounts
(whose users fill the user filter).
"""
