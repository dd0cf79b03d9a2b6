"""The tenant's account (issue 5 §7): contract summary (K-1), phone-number pages (K-2), contract holder and
login email (S-ACC-3), SIM transfers between tenants (S-ACC-4), account deletion (S-ACC-5).

Pages under ``/account/`` (URL namespace ``account``, templates ``account/``) and their API routes. A layer
above the domain apps it reads and writes (accounts, access, lines, security, procedures, usage, billing);
the models it works on (``Tenant``, ``SimTransfer`` ...) stay in ``kaisen.tenancy``, the bottom of the domain.
"""
