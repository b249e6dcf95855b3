"""Customer details are masked on the way out; full details only for those who need them.

The rule: a name shows its first character (张**), a phone number its first three and last four digits
(138****0000), an account or card number its last four digits (****6789; the words of a product name stay). Who
may see the full details of one complaint is :func:`may_reveal` — the roles in ``full_details_roles`` of
``config/complaints.yaml`` and the people handling that complaint (its 首问 owner and assignee, who must call the
customer back) — the one rule the API, the dashboard and the CLI apply. Every unmasked view is an audit entry (who,
which complaint, when) written by :func:`reveal_audited` — callers must call it whenever they show a record with
``reveal=True``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy.orm import Session

from incidents.complaints.config import ComplaintsConfig
from incidents.complaints.models import Complaint
from yuqing import audit_chain
from yuqing.clock import Clock

_LONG_DIGITS = re.compile(r"\d(?:[\d \-]*\d)?")


def mask_name(name: str) -> str:
    """张三丰 → 张**; an empty name stays empty."""
    s = (name or "").strip()
    if not s:
        return ""
    return s[0] + "*" * max(1, len(s) - 1)


def mask_phone(phone: str) -> str:
    """13800000000 → 138****0000 (digits only). A number shorter than eleven digits (a landline without its area
    code) shows at most its last four (87654321 → ****4321); one shorter than seven is hidden whole."""
    digits = re.sub(r"\D", "", phone or "")
    if len(digits) == 13 and digits.startswith("86"):  # +86 mobile: mask the number, not the country code
        digits = digits[2:]
    if not digits:
        return ""
    if len(digits) < 7:
        return "*" * len(digits)
    if len(digits) < 11:
        return f"****{digits[-4:]}"
    return f"{digits[:3]}****{digits[-4:]}"


def mask_account(text: str) -> str:
    """Every run of six or more digits (spaces and dashes inside allowed) becomes ****last4; other words stay, so
    a product name (如意宝理财 2 号) is still readable."""

    def repl(m: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", m.group(0))
        return f"****{digits[-4:]}" if len(digits) >= 6 else m.group(0)

    return _LONG_DIGITS.sub(repl, text or "")


# Not a customer's number, matched first and kept as written: a record number (TS-20260930-001, YQ-…, RB-…), a
# date, a clock time, a size in bytes.
_DATE_OR_TIME = (r"[A-Z]{2}-\d{8}-\d+|\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?|\d{1,2}:\d{2}(?::\d{2})?"
                 r"|\d+ ?字节")
# A run of digits, single spaces or dashes inside (138 1234 5678, 6222-0211-…), an ID number's final X included.
_DIGIT_RUN = r"\+?\d(?:[ \-]?\d)*[Xx]?"
_FREE_TEXT = re.compile(f"({_DATE_OR_TIME})|({_DIGIT_RUN})")
FREE_TEXT_MIN_DIGITS = 7


def mask_text(text: str | None, *, names: Iterable[str] = ()) -> str:
    """Free text as it may leave the complaint record (notices, a raised incident's title and story, the masked
    view): every run of seven or more digits is masked — an eleven-digit one like a phone (138****5678), a longer
    one like an account (****5678: cards, ID numbers), a shorter one to its last four — and each of ``names``
    (the complaint's own customer) of two characters or more like a name (赵六 → 赵*). Dates, times and short
    numbers (amounts, product numbers) and record numbers (TS-20260930-001) stay readable."""

    def repl(m: re.Match[str]) -> str:
        if m.group(1):
            return m.group(1)
        run = m.group(2)
        digits = re.sub(r"\D", "", run)
        if len(digits) < FREE_TEXT_MIN_DIGITS:
            return run
        if len(digits) <= 11 or (len(digits) == 13 and digits.startswith("86")):
            return mask_phone(digits)
        return f"****{digits[-4:]}"

    out = _FREE_TEXT.sub(repl, text or "")
    for name in sorted({(n or "").strip() for n in names}, key=len, reverse=True):
        if len(name) >= 2:
            out = out.replace(name, mask_name(name))
    return out


def mask_complaint_text(c: Complaint, text: str | None) -> str:
    """:func:`mask_text` with the complaint's own customer name."""
    return mask_text(text, names=[c.customer_name or ""])


def can_reveal(roles: Iterable[str], cfg: ComplaintsConfig) -> bool:
    """Whether ``roles`` alone let someone see any customer's full details (``full_details_roles``)."""
    allowed = {str(r) for r in cfg.full_details_roles}
    return any(str(r) in allowed for r in roles)


def handles(complaint: Complaint, login: str | None) -> bool:
    """Whether ``login`` (a person id: dashboard logins are the org chart's ids) handles this complaint: its 首问
    owner or its assignee."""
    return bool(login) and login in {complaint.first_contact_owner_id, complaint.assignee_id}


def may_reveal(complaint: Complaint, *, login: str | None, roles: Iterable[str], cfg: ComplaintsConfig) -> bool:
    """THE rule for seeing this complaint's customer in full: a role of ``full_details_roles``, or the person
    handling it (首问 owner or assignee), who must call the customer back. The script actor (no login) never
    reveals."""
    return can_reveal(roles, cfg) or handles(complaint, login)


def customer(c: Complaint, *, reveal: bool) -> dict[str, str]:
    """The customer block of a complaint's view: as stored when ``reveal``, masked otherwise."""
    if reveal:
        return {"name": c.customer_name or "", "phone": c.customer_phone or "", "account": c.account_or_product or ""}
    return {"name": mask_name(c.customer_name), "phone": mask_phone(c.customer_phone),
            "account": mask_account(c.account_or_product)}


def reveal_audited(session: Session, complaint: Complaint, *, actor: str, clock: Clock, via: str = "") -> None:
    """The audit entry for one unmasked view (added to the caller's transaction; the caller commits)."""
    audit_chain.append(session, at=clock.now(), actor=actor, action="complaint.reveal", object_type="complaint",
                       object_id=complaint.id, detail=f"查看投诉 {complaint.number} 的客户完整信息",
                       data={"number": complaint.number, "via": via})
