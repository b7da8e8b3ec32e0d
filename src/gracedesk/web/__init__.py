"""The web service: REST API under /api/v1, the agent and supervisor console under /console."""
