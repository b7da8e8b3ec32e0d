"""De-escalation guidance: playbook stages, phrase library, tailored solutions, hand-over."""
