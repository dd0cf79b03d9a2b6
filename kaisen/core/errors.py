"""Domain errors: services raise them, every interface maps them once.

The web pages show ``message`` in the user's language; the API answers ``{"code", "message"}`` with the
HTTP status below; the CLI prints both and exits non-zero.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class ErrorCode(StrEnum):
    NOT_FOUND = "NOT_FOUND"
    VALIDATION_ERROR = "VALIDATION_ERROR"
    AUTHENTICATION_FAILED = "AUTHENTICATION_FAILED"
    NOT_AUTHENTICATED = "NOT_AUTHENTICATED"
    TOKEN_INVALID = "TOKEN_INVALID"  # noqa: S105
    PERMISSION_DENIED = "PERMISSION_DENIED"
    INVALID_PHONE_NUMBER = "INVALID_PHONE_NUMBER"
    INVALID_ICCID = "INVALID_ICCID"
    INVALID_USERNAME = "INVALID_USERNAME"
    INVALID_OPERATOR_ID = "INVALID_OPERATOR_ID"
    INVALID_CURSOR = "INVALID_CURSOR"
    DUPLICATE = "DUPLICATE"
    API_KEY_REVOKED = "API_KEY_REVOKED"
    # Line procedures (issue 3)
    OUTSIDE_RECEPTION_HOURS = "OUTSIDE_RECEPTION_HOURS"
    PROCEDURE_NOT_AVAILABLE = "PROCEDURE_NOT_AVAILABLE"
    LINE_NOT_ELIGIBLE = "LINE_NOT_ELIGIBLE"
    ORDER_CONFLICT = "ORDER_CONFLICT"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    ORDER_NOT_CANCELLABLE = "ORDER_NOT_CANCELLABLE"
    ORDER_STATE_INVALID = "ORDER_STATE_INVALID"  # a back-office action the order's status does not allow
    INVALID_DATE = "INVALID_DATE"
    INVALID_OPTION = "INVALID_OPTION"
    INVALID_NAME = "INVALID_NAME"
    SIZE_NOT_OFFERED = "SIZE_NOT_OFFERED"
    METHOD_NOT_OFFERED = "METHOD_NOT_OFFERED"
    INVALID_PLAN = "INVALID_PLAN"
    INVALID_CSV = "INVALID_CSV"
    # Two-step login (issue 5)
    MFA_REQUIRED = "MFA_REQUIRED"
    MFA_CHALLENGE_INVALID = "MFA_CHALLENGE_INVALID"
    MFA_CODE_INVALID = "MFA_CODE_INVALID"
    MFA_RESEND_TOO_SOON = "MFA_RESEND_TOO_SOON"
    MFA_LINK_INVALID = "MFA_LINK_INVALID"
    MFA_ENROLMENT_REQUIRED = "MFA_ENROLMENT_REQUIRED"
    MFA_TOO_MANY_ATTEMPTS = "MFA_TOO_MANY_ATTEMPTS"
    # Permissions, line tags and approvals (issue 5 §1, access app)
    INVALID_ACTION = "INVALID_ACTION"
    TAG_IN_USE = "TAG_IN_USE"
    APPROVAL_REQUIRED = "APPROVAL_REQUIRED"
    APPROVAL_NOT_PENDING = "APPROVAL_NOT_PENDING"
    # Account pages (issue 5 §2 and §7, helper "acct": S-ACC-1, S-ACC-3..5, K-1, K-2)
    EMAIL_IN_USE = "EMAIL_IN_USE"
    EMAIL_LINK_INVALID = "EMAIL_LINK_INVALID"
    LINE_NOT_TRANSFERABLE = "LINE_NOT_TRANSFERABLE"
    TRANSFER_TOKEN_INVALID = "TRANSFER_TOKEN_INVALID"  # noqa: S105
    TRANSFER_NOT_OPEN = "TRANSFER_NOT_OPEN"
    ACCOUNT_NOT_DELETABLE = "ACCOUNT_NOT_DELETABLE"
    DELETION_CONFIRMATION_INVALID = "DELETION_CONFIRMATION_INVALID"
    # Rating and monthly close (issue 4 §2-§4, part `rate`)
    INVOICE_CLOSED = "INVOICE_CLOSED"
    MONTH_NOT_ENDED = "MONTH_NOT_ENDED"
    TTS_RATE_MISSING = "TTS_RATE_MISSING"
    INVOICE_ISSUER_INVALID = "INVOICE_ISSUER_INVALID"
    COMBINED_BILLING_CONFLICT = "COMBINED_BILLING_CONFLICT"  # S-BILL-5
    # Usage ingestion and usage views (issue 4 §1, §7, §8 — usage)
    INVALID_USAGE_FILE = "INVALID_USAGE_FILE"
    USAGE_MONTH_RETAINED = "USAGE_MONTH_RETAINED"  # issue 10 §5: archive asked for a month still kept
    # Charges pages, bills API and invoice PDF (issue 4 §4, §7, §8 — helper "view")
    INVOICE_NOT_ISSUED = "INVOICE_NOT_ISSUED"
    # Payments and billing contacts (issue 4 §5, helper "pay": S-PAY-1..3)
    CARD_REFUSED = "CARD_REFUSED"
    CARD_EXPIRED = "CARD_EXPIRED"
    CARD_BRAND_NOT_ACCEPTED = "CARD_BRAND_NOT_ACCEPTED"
    CARD_TYPE_NOT_ACCEPTED = "CARD_TYPE_NOT_ACCEPTED"
    PAYMENT_METHOD_NOT_ALLOWED = "PAYMENT_METHOD_NOT_ALLOWED"
    FREE_MAIL_NOT_ACCEPTED = "FREE_MAIL_NOT_ACCEPTED"
    EMAIL_DOMAIN_MISMATCH = "EMAIL_DOMAIN_MISMATCH"
    INVALID_POSTAL_ADDRESS = "INVALID_POSTAL_ADDRESS"
    APPLICATION_PENDING = "APPLICATION_PENDING"
    INVOICE_NOT_PAYABLE = "INVOICE_NOT_PAYABLE"
    NO_CARD_ON_FILE = "NO_CARD_ON_FILE"
    BILLING_EMAIL_LIMIT = "BILLING_EMAIL_LIMIT"
    # Statements (issue 4 §6, helper "stmt": M-DL-1..5, K-5..K-7, S-BILL-2)
    STATEMENT_UNAVAILABLE_TODAY = "STATEMENT_UNAVAILABLE_TODAY"
    STATEMENT_OUT_OF_WINDOW = "STATEMENT_OUT_OF_WINDOW"
    STATEMENT_NOT_YET_AVAILABLE = "STATEMENT_NOT_YET_AVAILABLE"
    STATEMENT_ENCODING_NOT_ALLOWED = "STATEMENT_ENCODING_NOT_ALLOWED"
    STATEMENT_NOT_READY = "STATEMENT_NOT_READY"
    STATEMENT_EXPIRED = "STATEMENT_EXPIRED"
    # SIM and device quotes and orders (issue 12)
    SHIPMENT_LIMIT_EXCEEDED = "SHIPMENT_LIMIT_EXCEEDED"
    ITEM_NOT_AVAILABLE = "ITEM_NOT_AVAILABLE"
    NO_PAYMENT_METHOD = "NO_PAYMENT_METHOD"
    QUOTE_EXPIRED = "QUOTE_EXPIRED"
    REFUND_FAILED = "REFUND_FAILED"
    PAYER_REQUIRED = "PAYER_REQUIRED"  # the payment statement needs the payer entered first (stored data)
    ITEM_UNKNOWN = "ITEM_UNKNOWN"  # a code the catalogue has not (here), or without a price yet (stored data)
    RATE_LIMITED = "RATE_LIMITED"
    # Events, webhooks, usage alerts (issue 13, helper "events")
    WEBHOOK_URL_REFUSED = "WEBHOOK_URL_REFUSED"
    INVALID_EVENT_TYPE = "INVALID_EVENT_TYPE"
    ENDPOINT_DISABLED = "ENDPOINT_DISABLED"
    # Operator controls (issue 15: maintenance windows, service switches, notices)
    MAINTENANCE = "MAINTENANCE"
    NOT_IN_CONTRACT = "NOT_IN_CONTRACT"
    INVALID_PERIOD = "INVALID_PERIOD"
    UNKNOWN_FUNCTION = "UNKNOWN_FUNCTION"
    WINDOW_NOT_CHANGEABLE = "WINDOW_NOT_CHANGEABLE"
    # Shared files (issue 11 §4): the object store did not answer
    STORAGE_UNAVAILABLE = "STORAGE_UNAVAILABLE"


HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.AUTHENTICATION_FAILED: 401,
    ErrorCode.NOT_AUTHENTICATED: 401,
    ErrorCode.TOKEN_INVALID: 401,
    ErrorCode.PERMISSION_DENIED: 403,
    ErrorCode.DUPLICATE: 409,
    ErrorCode.API_KEY_REVOKED: 409,
    ErrorCode.ORDER_CONFLICT: 409,
    ErrorCode.IDEMPOTENCY_KEY_REUSED: 409,
    ErrorCode.ORDER_NOT_CANCELLABLE: 409,
    ErrorCode.ORDER_STATE_INVALID: 409,
    ErrorCode.MFA_REQUIRED: 401,
    ErrorCode.MFA_CHALLENGE_INVALID: 401,
    ErrorCode.MFA_CODE_INVALID: 401,
    ErrorCode.MFA_RESEND_TOO_SOON: 429,
    ErrorCode.MFA_ENROLMENT_REQUIRED: 403,
    ErrorCode.MFA_TOO_MANY_ATTEMPTS: 429,
    ErrorCode.INVOICE_NOT_ISSUED: 409,  # helper "view"
    ErrorCode.COMBINED_BILLING_CONFLICT: 409,
    ErrorCode.USAGE_MONTH_RETAINED: 409,
    # Permissions, line tags and approvals (issue 5 §1, access app)
    ErrorCode.TAG_IN_USE: 409,
    ErrorCode.APPROVAL_REQUIRED: 409,
    ErrorCode.APPROVAL_NOT_PENDING: 409,
    # Account pages (helper "acct")
    ErrorCode.EMAIL_IN_USE: 409,
    ErrorCode.LINE_NOT_TRANSFERABLE: 409,
    ErrorCode.TRANSFER_NOT_OPEN: 409,
    ErrorCode.ACCOUNT_NOT_DELETABLE: 409,
    ErrorCode.INVOICE_CLOSED: 409,  # part `rate`
    # Payments (helper "pay")
    ErrorCode.PAYMENT_METHOD_NOT_ALLOWED: 409,
    ErrorCode.APPLICATION_PENDING: 409,
    ErrorCode.INVOICE_NOT_PAYABLE: 409,
    ErrorCode.NO_CARD_ON_FILE: 409,
    ErrorCode.BILLING_EMAIL_LIMIT: 409,
    # Statements (helper "stmt")
    ErrorCode.STATEMENT_UNAVAILABLE_TODAY: 409,
    ErrorCode.STATEMENT_NOT_READY: 409,
    ErrorCode.STATEMENT_EXPIRED: 410,
    # SIM and device orders (issue 12)
    ErrorCode.ITEM_NOT_AVAILABLE: 409,
    ErrorCode.NO_PAYMENT_METHOD: 409,
    ErrorCode.QUOTE_EXPIRED: 409,
    ErrorCode.REFUND_FAILED: 409,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.ENDPOINT_DISABLED: 409,
    # Operator controls (issue 15)
    ErrorCode.MAINTENANCE: 503,
    ErrorCode.NOT_IN_CONTRACT: 403,
    ErrorCode.WINDOW_NOT_CHANGEABLE: 409,
    ErrorCode.STORAGE_UNAVAILABLE: 503,
}

DEFAULT_MESSAGES: dict[ErrorCode, Promise] = {
    ErrorCode.NOT_FOUND: _("Not found."),
    ErrorCode.VALIDATION_ERROR: _("The input is not valid."),
    ErrorCode.AUTHENTICATION_FAILED: _("The operator ID, username or password is incorrect, or the account is locked."),
    ErrorCode.NOT_AUTHENTICATED: _("Authentication is required."),
    ErrorCode.TOKEN_INVALID: _("The access token is invalid, expired or revoked."),
    ErrorCode.PERMISSION_DENIED: _("You do not have permission to do this."),
    ErrorCode.MFA_REQUIRED: _("Enter the code of your two-step login."),
    ErrorCode.MFA_CHALLENGE_INVALID: _("This login has ended or expired. Log in again from the start."),
    ErrorCode.MFA_CODE_INVALID: _("The code is incorrect or has expired. Log in again from the start."),
    ErrorCode.MFA_LINK_INVALID: _("This link is invalid, already used, withdrawn or expired."),
    ErrorCode.MFA_TOO_MANY_ATTEMPTS: _(
        "Too many wrong codes. Two-step login is paused for this user; try again in an hour."),
    ErrorCode.MFA_ENROLMENT_REQUIRED: _(
        "Your company requires two-step login. Set it up on the web portal first, then log in again."),
    # Invoice PDF (helper "view")
    ErrorCode.INVOICE_NOT_ISSUED: _(
        "The invoice of this month is not issued yet: its PDF exists from the issue date (around the 4th "
        "business day of the next month)."),
    ErrorCode.COMBINED_BILLING_CONFLICT: _(
        "These accounts cannot be combined this way: an account is either billed on another's invoice or pays "
        "for others, never both, and never two arrangements for the same months."),
    # Permissions and approvals (issue 5 §1, access app)
    ErrorCode.APPROVAL_REQUIRED: _(
        "This procedure needs a second user's approval: request it, and it is submitted when approved."),
    # Account pages (helper "acct")
    ErrorCode.EMAIL_IN_USE: _("This email address cannot be used as a login email. Choose another one."),
    ErrorCode.EMAIL_LINK_INVALID: _("This confirmation link is invalid, already used, withdrawn or expired."),
    ErrorCode.LINE_NOT_TRANSFERABLE: _(
        "Only SIMs that have never been used can be transferred: not activated, never started, no usage and "
        "no open procedure."),
    ErrorCode.TRANSFER_TOKEN_INVALID: _(
        "This transfer code is invalid, already used, cancelled, expired or meant for another account."),
    ErrorCode.TRANSFER_NOT_OPEN: _("This transfer is no longer open."),
    ErrorCode.ACCOUNT_NOT_DELETABLE: _("The account cannot be deleted yet: see what still blocks it."),
    ErrorCode.DELETION_CONFIRMATION_INVALID: _("The operator ID or the password you typed is not correct."),
    # Payments (helper "pay")
    ErrorCode.CARD_REFUSED: _("The card could not be registered: check the number, the expiry date and the "
                              "security code."),
    ErrorCode.CARD_EXPIRED: _("The card has expired. Register a valid card."),
    ErrorCode.CARD_BRAND_NOT_ACCEPTED: _("This card brand is not accepted for this coverage."),
    ErrorCode.CARD_TYPE_NOT_ACCEPTED: _("Debit and prepaid cards are not accepted. Register a credit card."),
    ErrorCode.PAYMENT_METHOD_NOT_ALLOWED: _("This payment method is not available to your account."),
    ErrorCode.FREE_MAIL_NOT_ACCEPTED: _("Free email addresses (Gmail etc.) cannot be used for invoice payment."),
    ErrorCode.EMAIL_DOMAIN_MISMATCH: _("The email address must be on your company's domain."),
    ErrorCode.INVALID_POSTAL_ADDRESS: _("The postal code and address cannot be registered."),
    ErrorCode.APPLICATION_PENDING: _("An application for invoice payment is already under review."),
    ErrorCode.INVOICE_NOT_PAYABLE: _("This invoice cannot be paid now."),
    ErrorCode.NO_CARD_ON_FILE: _("No valid credit card is registered for this coverage."),
    ErrorCode.BILLING_EMAIL_LIMIT: _("Up to 5 billing email addresses can be registered."),
    # Statements (helper "stmt")
    ErrorCode.STATEMENT_UNAVAILABLE_TODAY: _(
        "Statements cannot be created or downloaded on the 1st and the last day of a month. Try again tomorrow."),
    ErrorCode.STATEMENT_OUT_OF_WINDOW: _("This month is no longer available for this statement."),
    ErrorCode.STATEMENT_NOT_YET_AVAILABLE: _("This statement is not published yet for this month."),
    ErrorCode.STATEMENT_ENCODING_NOT_ALLOWED: _("This statement is only available in UTF-8."),
    ErrorCode.STATEMENT_NOT_READY: _("This statement is still being created. Please wait."),
    ErrorCode.STATEMENT_EXPIRED: _(
        "This file was kept for 48 hours and has been deleted. Request the statement again."),
    # SIM and device quotes and orders (issue 12)
    ErrorCode.SHIPMENT_LIMIT_EXCEEDED: _(
        "This is more than one parcel holds. Order fewer pieces, or split them into several orders."),
    ErrorCode.ITEM_NOT_AVAILABLE: _("This item cannot be ordered now."),
    ErrorCode.NO_PAYMENT_METHOD: _(
        "No payment method is set for this coverage. Register a credit card or invoice payment first."),
    ErrorCode.QUOTE_EXPIRED: _("This quote is no longer valid. Make a new quote."),
    ErrorCode.REFUND_FAILED: _("The card payment could not be refunded, so the order was not cancelled."),
    ErrorCode.RATE_LIMITED: _("Too many requests. Please wait a while and try again."),
    # Operator controls (issue 15)
    ErrorCode.MAINTENANCE: _("This function is closed for maintenance. Please try again later."),
    ErrorCode.NOT_IN_CONTRACT: _("This function is not available under your contract."),
    ErrorCode.INVALID_PERIOD: _("The end must be after the start."),
    ErrorCode.UNKNOWN_FUNCTION: _("Unknown function."),
    ErrorCode.WINDOW_NOT_CHANGEABLE: _("This maintenance window has already ended or was cancelled."),
    ErrorCode.STORAGE_UNAVAILABLE: _("The file store cannot be reached just now. Please try again in a few minutes."),
}


class DomainError(Exception):
    """A rule said no. ``code`` is stable for programs, ``message`` is for people."""

    def __init__(self, code: ErrorCode, message: str | Promise | None = None, *, field: str | None = None,
                 details: dict[str, Any] | None = None) -> None:
        self.code = code
        self.message = message if message is not None else DEFAULT_MESSAGES.get(code, _("The request was refused."))
        self.field = field
        self.details = details or {}
        super().__init__(f"{code}: {self.message}")

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.code, 400)

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": str(self.code), "message": str(self.message)}
        if self.field:
            body["field"] = self.field
        if self.details:
            body["details"] = self.details
        return body


class NotFound(DomainError):
    def __init__(self, message: str | Promise | None = None) -> None:
        super().__init__(ErrorCode.NOT_FOUND, message)
