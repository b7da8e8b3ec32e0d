"""Insights: figures computed over the desk's history (reports, charts, predicted CSAT).

Everything here is a pure function of plain rows (``insights.rows``): the service reads the
store, turns what it read into those rows, and passes them in with the period and the policy's
SLA targets (``service.reports``). Nothing here opens a database, reads the clock or imports the
policy or the service, so every figure can be tested on a history written by hand.

- ``rows``: the frozen rows a report reads (conversations, messages, escalations, ...).
- ``stats``: quantiles, rates and the waiting-on-customer pauses the SLA clock leaves out.
- ``report``: the report's sections, one small function each (docs/insights.md defines them).
- ``predicted_csat``: a ridge model of CSAT from signals and handling, in numpy.
- ``charts``: inline SVG charts with their data tables; ``export``: CSV and a standalone page.
"""
