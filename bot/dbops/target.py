"""Which Railway service and volume hold a service's database (``database_service_id``)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.config.services import ServiceConfig, ServicesFile
from bot.i18n import CatalogueError
from bot.railway import RailwayClient, ServiceIds, VolumeInstance


class DbUnavailable(CatalogueError):
    """Why a /db request cannot go ahead; the sentence comes from the ``db`` catalogue."""


def db_service(config: ServicesFile, name: str) -> ServiceConfig:
    """The configured service ``name``, which must name its Railway PostgreSQL service."""
    service = config.service(name)
    if service is None:
        raise DbUnavailable("common.unknown_service", name=name, known=", ".join(config.service_names))
    if service.railway is None:
        raise DbUnavailable("db.no_railway", service=name)
    if not service.database_service_id:
        raise DbUnavailable("db.no_database_service", service=name)
    return service


@dataclass(frozen=True)
class DatabaseVolume:
    service_ids: ServiceIds  # the application service
    database_ids: ServiceIds  # its Railway PostgreSQL service
    volume: VolumeInstance


async def database_volume(railway: RailwayClient | None, service: ServiceConfig) -> DatabaseVolume:
    if railway is None:
        raise DbUnavailable("db.no_token")
    ids = await railway.resolve(service.railway)
    database = ServiceIds(ids.project_id, ids.environment_id, service.database_service_id or "")
    volume = await railway.volume_instance(database)
    if volume is None:
        raise DbUnavailable("db.no_volume", service=service.name, database=database.service_id)
    return DatabaseVolume(ids, database, volume)
