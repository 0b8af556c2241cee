"""The services of ara-server: what the HTTP routers call. Each service owns one concern and talks
to the store and the engine; `Services` bundles one node's instances (built by `ara_server.app`)."""

from __future__ import annotations

from dataclasses import dataclass

from ..settings import Settings
from .access import AccessService
from .automations import AutomationService
from .deploy import DeployService
from .dispatch import Dispatcher
from .endpoints import EndpointService
from .logbus import LogBus
from .run_views import RunViews
from .runs import RunService
from .session_files import SessionFiles
from .sessions import SessionService

__all__ = ["Services"]


@dataclass(frozen=True, slots=True)
class Services:
    """One node's services, as the routers see them."""

    settings: Settings
    access: AccessService
    deploy: DeployService
    runs: RunService
    dispatch: Dispatcher
    logbus: LogBus
    sessions: SessionService
    endpoints: EndpointService
    automations: AutomationService
    session_files: SessionFiles
    run_views: RunViews
