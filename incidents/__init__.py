"""Incident response: alerts, incidents with levels and checklists, clocks, escalation, notifications, reports."""
