"""Import every package's models so ``Base.metadata`` is complete (for Alembic and test set-up).

Part of ``runner``, the composition root, because it imports every layer's models.
"""

from __future__ import annotations

from sqlalchemy import MetaData

from yuqing.db import Base


def all_metadata() -> MetaData:
    import api.models  # noqa: F401
    import crawlers.claims  # sequence_counters, story_assignments, work_claims
    import crawlers.models
    import crawlers.search_index  # noqa: F401  article_search (and SQLite's FTS5 article_fts, made beside it)
    import incidents.briefings.models  # report_issues, report_receipts
    import incidents.complaints.models  # complaints, complaint_events, complaint_attachments
    import incidents.complaints.notices  # complaint_notices
    import incidents.deadline_notices
    import incidents.evidence_models  # article_screenshots, article_watch, article_deletion_checks
    import incidents.message_acks
    import incidents.models
    import incidents.playbooks  # noqa: F401
    import sentiment.models  # noqa: F401
    import yuqing.config_store  # config_documents, config_revisions
    import yuqing.models  # noqa: F401

    return Base.metadata
