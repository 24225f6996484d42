"""The remediation path: what people (Slack, CLI) and auto mode ask of an incident,
and the stage list every action goes through (``stages`` assembles it)."""
