"""The README's first command: the scripted incident through the real bot, in English and Spanish."""

from __future__ import annotations

import asyncio
import logging
import re

import pytest

from sandbox.demo import run_demo

EXPECTED = {
    "en": ["BACKEND: HEALTHY", "created the channel #inc-", "pinned the incident summary", "DIAGNOSIS OF BACKEND",
           "P1000", "ROLLBACK REQUESTED: BACKEND", "Approved by", "Rolled back and healthy", "Postmortem",
           "resolved"],
    "es": ["BACKEND: SANO", "creó el canal #inc-", "fijó el resumen", "P1000", "ROLLBACK SOLICITADO: BACKEND",
           "Aprobado por", "Rollback hecho y el servicio está sano", "Postmortem", "resuelto"],
}
# The rollback, who approved it and its verification, in the summary, the final summary and the postmortem.
RECORD = {
    "en": {"summary": ["Current deployment", "live since the rollback to", "approved by @leo",
                       "Verified healthy after the rollback"],
           "final": ["Mitigation: Mitigated by rolling back to", "requested by @ana, approved by @leo, "
                     "verified healthy at"],
           "postmortem": ["requested by Ana (on call), approved by Leo (SRE lead), verified healthy at",
                          "Leo (SRE lead): Rollback to"]},
    "es": {"summary": ["Despliegue actual", "activo desde el rollback a", "aprobado por @leo",
                       "Verificado sano tras el rollback"],
           "final": ["Mitigación: Mitigado con un rollback a", "pedido por @ana, aprobado por @leo, "
                     "verificado sano a las"],
           "postmortem": ["pedido por Ana (on call), aprobado por Leo (SRE lead), verificado sano a las",
                          "Leo (SRE lead): Rollback a"]},
}


@pytest.mark.parametrize("lang", ["en", "es"])
async def test_the_demo_plays_the_whole_incident_and_writes_its_transcript(lang, tmp_path, capsys, caplog):
    transcript = tmp_path / "demo.html"
    # No wall-clock ceiling here: each step of the demo waits for its event within its own bound and
    # the demo exits non-zero ("stalled") when one does not come, which ``code == 0`` catches.
    code = await run_demo(lang=lang, transcript=transcript, color=False)
    captured = capsys.readouterr()
    out, err = captured.out, captured.err
    assert code == 0, out[-2000:]
    html = transcript.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "<script" not in html
    text = re.sub(r"<[^>]+>", "", html).lower()  # headers read as written in Slack, in capitals in a terminal
    for expected in EXPECTED[lang]:
        assert expected in out, expected
        assert expected.replace("&", "&amp;").lower() in text or expected.lower() in text, expected
    assert "xoxb-" not in html and "demo-api-token" not in html
    summary = out.split("Time to detect")[0].split("Tiempo de detección")[0]
    final, postmortem = out.split("# Postmortem", 1) if "# Postmortem" in out else (out, "")
    for part, where in (("summary", summary), ("final", final), ("postmortem", postmortem)):
        for expected in RECORD[lang][part]:
            assert expected in where, (part, expected)
    # nothing went wrong on the way out (a shutdown used to log a CancelledError traceback)
    assert "Traceback" not in err and "Traceback" not in out
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    # the demo leaves nothing running
    await asyncio.sleep(0)
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []


async def test_interactive_mode_takes_commands_and_buttons_from_the_terminal(tmp_path):
    from sandbox.runner import chatops_executable

    proc = await asyncio.create_subprocess_exec(
        chatops_executable(), "demo", "--interactive", "--lang", "en", "--transcript", str(tmp_path / "t.html"),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path)
    script = "/health backend\nbuttons\nclick 1\nas leo\n/diagnose frobnicate backend\nquit\n"
    out, _ = await asyncio.wait_for(proc.communicate(script.encode()), timeout=60)
    text = out.decode()
    assert proc.returncode == 0, text[-2000:]
    assert "ana typed" in text and "BACKEND: HEALTHY" in text
    assert "1. [Re-check]" in text and "ana clicked" in text
    assert "leo typed" in text and "no playbook `frobnicate`" in text
    assert (tmp_path / "t.html").exists()
    assert "Traceback" not in text and "ERROR" not in text  # stderr is merged in: nothing went wrong
