"""docs/runbook-coverage.md is the generator's output, every runbook item resolves
against rules/*.yaml, and a rule that loses what the table claims fails the check."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def gen() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "runbook_coverage", REPO / "scripts" / "runbook_coverage.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


def test_the_doc_is_current_and_every_item_is_covered_or_manual(gen: ModuleType) -> None:
    assert gen.main(["--check"]) == 0, "python scripts/runbook_coverage.py --write"


def test_a_lost_scenario_is_reported_not_covered(gen: ModuleType, tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules)
    r8 = rules / "08-database-connection-failure.yaml"
    r8.write_text(r8.read_text().replace("scenario: pool-exhausted", "scenario: pool-full"))
    doc = tmp_path / "coverage.md"
    assert gen.main(["--write", "--rules", str(rules), "--doc", str(doc)]) == 0
    text = doc.read_text()
    assert "NOT COVERED: the rule has no scenario 'pool-exhausted'" in text
    assert gen.main(["--check", "--rules", str(rules), "--doc", str(doc)]) == 1
