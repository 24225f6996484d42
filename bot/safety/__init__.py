"""Safety gates whose state lives in the bot's store (kill switch, approvals,
cooldowns, hourly caps, circuit breaker) and the target gates checked on a plan."""
