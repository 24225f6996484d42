"""Tools that read the bot's store and audit to tune rules: replay, stats, timeline."""
