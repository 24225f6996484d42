"""ConfigMap documents, shared by probes and actions: ``edit`` (change one value the
way a careful human would) and ``snapshots`` (earlier versions kept for undo)."""
