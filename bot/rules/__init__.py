"""Rule files: schema, loading and validation, label matchers, CEL and templates."""

from bot.rules.loader import RuleLoadError, RuleSet, load_rules
from bot.rules.schema import Rule

__all__ = ["Rule", "RuleLoadError", "RuleSet", "load_rules"]
