"""Background jobs: follow-up reminders, SLA breach alerts, CSAT requests, escalation alerts."""
