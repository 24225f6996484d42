"""The alert path: intake → queue → worker → lease → open/dedup → match → probes →
classify → notify → start auto (``pipeline`` lists the stages)."""
