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
    """13800000000 → 138****0000 (digits only; a short number is hidden whole)."""
    digits = re.sub(r"\D", "", phone or "")
    if len(digits) == 13 and digits.startswith("86"):  # +86 mobile: mask the number, not the country code
        digits = digits[2:]
    if not digits:
        return ""
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}****{digits[-4:]}"


def mask_account(text: str) -> str:
    """Every run of six or more digits (spaces and dashes inside allowed) becomes ****last4; other words stay, so
    a product name (如意宝理财 2 号) is still readable."""

    def repl(m: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", m.group(0))
        return f"****{digits[-4:]}" if len(digits) >= 6 else m.group(0)

    return _LONG_DIGITS.sub(repl, text or "")


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
