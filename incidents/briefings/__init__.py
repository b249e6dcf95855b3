"""Briefings for leadership: the 舆情专报 of an incident (初报 / 续报 n / 终报) and the 舆情日报 / 舆情周报.

``gather`` reads the data, ``incident_briefing`` and ``periodic`` draft a ``document.Briefing`` (extractive:
quoted sentences come from the mentions and cite link, publish time and evidence hash; complainants' data masked
by ``masking``), ``charts`` / ``volume`` draw volume over time, and ``render_html`` / ``render_pdf`` /
``render_docx`` lay the same briefing out in three formats. ``service`` ties them together for the CLI, the API
and the scheduled delivery.
"""
