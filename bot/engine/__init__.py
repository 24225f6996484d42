"""The pipeline: intake → queue → worker → dedup → match → diagnose → notify."""
