"""The jwt playbook: lengths from Railway's variables (values never shown) and the backend's boot lines."""

from __future__ import annotations

import json

from bot.render.diagnose import diagnose_message, diagnose_text
from playbooks import findings_to_json, jwt
from playbooks.base import Finding
from tests.playbook_env import JWT, KEY, environment

SHORT_JWT = "s3cr3t-9c"  # 9 characters, as in the recorded run
SHORT_KEY = "short-key-value-1"
# The real lines (target-backend.md §4) for a 9-character JWT_SECRET and no valid ENCRYPTION_KEY.
FAILED_BOOT = [
    "❌ ERROR CRÍTICO DE SEGURIDAD: ENCRYPTION_KEY no válida",
    "   ENCRYPTION_KEY o JWT_SECRET debe estar configurado y tener al menos 32 caracteres",
    "   Sin una clave válida, las credenciales no pueden encriptarse correctamente",
    "⚠️  Warning: ENCRYPTION_KEY validation failed: ERROR CRÍTICO DE SEGURIDAD: ENCRYPTION_KEY no válida",
    "[BOOT] Express app loaded - full routing active",
    "❌ ERROR CRÍTICO: JWT_SECRET no está configurado o es muy corto",
    "   Longitud actual: 9 caracteres",
    "   Mínimo requerido: 32 caracteres",
    "   [Phase 6] Server will start but auth will fail - no process.exit()",
    "⚠️  WARNING: ENCRYPTION_KEY or JWT_SECRET not configured or too short",
    "   The server will start in DEGRADED mode.",
]


def _evidence(finding: Finding, fragment: str):
    found = [e for e in finding.evidence if fragment in e.check]
    assert found, [e.check for e in finding.evidence]
    return found[0]


def _assert_no_secret(finding: Finding, *secrets: str) -> None:
    text, blocks = diagnose_message("backend", [finding], "en")
    out = "\n".join([json.dumps(findings_to_json([finding])), diagnose_text("backend", [finding], "es"), text,
                     json.dumps(blocks)])
    for secret in (JWT, KEY, *secrets):
        assert secret not in out


async def test_healthy() -> None:
    async with environment() as env:
        finding = await jwt.run(env.context())
    assert finding.verdict == "ok", finding
    assert _evidence(finding, "`JWT_SECRET` has").observed.startswith("64 characters")
    assert _evidence(finding, "Validation lines").ok is True
    _assert_no_secret(finding)


async def test_both_short_with_the_real_boot_lines() -> None:
    async with environment() as env:
        env.set_variables(JWT_SECRET=SHORT_JWT)
        env.drop_variable("ENCRYPTION_KEY")
        env.set_logs(FAILED_BOOT)
        finding = await jwt.run(env.context())
    assert finding.verdict == "problem"
    assert "both missing or shorter than 32" in finding.cause
    assert _evidence(finding, "`JWT_SECRET` has").observed == "9 characters (at least 32 needed)"
    assert _evidence(finding, "`ENCRYPTION_KEY` has").observed == "not set"
    logs = _evidence(finding, "Validation lines")
    assert logs.ok is False and logs.observed.startswith("4 validation failure line(s)")
    steps = "\n".join(finding.remediation)
    assert "node -e \"console.log(require('crypto').randomBytes(32).toString('hex'))\"" in steps
    assert "never in Slack" in steps and "Never paste it into Slack" in steps
    assert "starts degraded" in steps  # where the runbook ("Servidor no inicia") is wrong
    assert [a.kind for a in finding.actions] == ["redeploy"]
    _assert_no_secret(finding, SHORT_JWT)


async def test_spanish_remediation_quotes_the_runbook() -> None:
    async with environment() as env:
        env.set_variables(JWT_SECRET=SHORT_JWT, ENCRYPTION_KEY=SHORT_KEY)
        finding = await jwt.run(env.context(lang="es"))
    assert finding.remediation[0].startswith("Generar nuevo secret en tu propia máquina, nunca en Slack")
    assert any(s.startswith("Actualizar en Railway Variables") for s in finding.remediation)
    assert any(s.startswith("Redeploy backend") for s in finding.remediation)
    assert _evidence(finding, "Verificar que `JWT_SECRET` tiene mínimo 32 caracteres").ok is False
    _assert_no_secret(finding, SHORT_JWT, SHORT_KEY)


async def test_short_encryption_key_falls_back_to_jwt_secret() -> None:
    async with environment() as env:
        env.set_variables(ENCRYPTION_KEY=SHORT_KEY)
        env.set_logs(["✅ ENCRYPTION_KEY configurada desde JWT_SECRET"])
        finding = await jwt.run(env.context())
    assert finding.verdict == "ok"
    key = _evidence(finding, "`ENCRYPTION_KEY` has")
    assert key.ok is True and "uses JWT_SECRET instead" in key.observed and "17 characters" in key.observed
    assert finding.remediation and "separate `ENCRYPTION_KEY`" in finding.remediation[0]


async def test_encryption_key_is_trimmed_jwt_secret_is_not() -> None:
    padded = "  " + "k" * 30 + "  "  # 34 characters, 30 once trimmed
    assert jwt.lengths({"JWT_SECRET": padded, "ENCRYPTION_KEY": padded}) == (34, 30)


async def test_short_jwt_secret_with_a_good_encryption_key() -> None:
    async with environment() as env:
        env.set_variables(JWT_SECRET=SHORT_JWT)
        finding = await jwt.run(env.context())
    assert finding.verdict == "problem"
    assert "authentication fails" in finding.cause
    assert _evidence(finding, "`ENCRYPTION_KEY` has").ok is True


async def test_fixed_variables_but_the_running_deployment_booted_without_them() -> None:
    async with environment() as env:
        env.set_logs(FAILED_BOOT)
        finding = await jwt.run(env.context())
    assert finding.verdict == "problem"
    assert "needs a redeploy" in finding.cause
    assert finding.remediation[0].startswith("Redeploy `backend`")


async def test_without_railway_it_is_unknown() -> None:
    async with environment() as env:
        finding = await jwt.run(env.context(railway=False))
    assert finding.verdict == "unknown"
    assert all(e.ok is None for e in finding.evidence)
    assert "Railway API credential" in finding.remediation[0]
