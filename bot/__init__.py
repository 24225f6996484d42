"""honua-bot: Alertmanager alerts → runbook diagnosis → Slack → gated remediation.

The map (docs/architecture.md): ``alerts`` (the alert path), ``remediation``
(the action path) over ``safety`` (its gates); ``probes`` and ``actions`` (plugins,
over ``configmaps``, ``adapters``, ``rules``, ``store``, ``models``); ``notify``
(console, Slack) implements the ``Notifier`` protocol of ``models.events``;
``app`` is the composition root, imported only by ``web`` and ``cli``.
"""
