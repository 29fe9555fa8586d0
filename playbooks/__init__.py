"""Diagnosis playbooks: evidence → Finding. Each module defining ``PLAYBOOK`` is registered by name."""

from playbooks.base import Action, Evidence, Finding, Playbook, PlaybookContext, Verdict, findings_to_json
from playbooks.registry import (
    ALL,
    PlaybookRunner,
    get_playbook,
    playbook_names,
    playbooks_for_symptom,
    run_playbooks,
)

__all__ = ["ALL", "Action", "Evidence", "Finding", "Playbook", "PlaybookContext", "PlaybookRunner", "Verdict",
           "findings_to_json", "get_playbook", "playbook_names", "playbooks_for_symptom", "run_playbooks"]
