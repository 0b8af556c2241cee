"""The composition root of ara-server: builds the store, the services and the routers; the
Starlette lifespan opens the store and owns the workers and the scheduler."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import msgspec
import structlog
from starlette.applications import Starlette

from .engine import (
    ModelProvider,
    close_warm_sandboxes,
    configure_sandbox,
    isolation_status,
    reap_orphans,
    sandbox_policy,
)
from .http import EXCEPTION_HANDLERS, all_routes
from .http.guard import GuardedStarlette
from .services import Services
from .services.access import AccessService
from .services.automations import AutomationService
from .services.deploy import DeployService
from .services.dispatch import Dispatcher
from .services.endpoints import EndpointService
from .services.lifecycle import Lifecycle
from .services.logbus import LogBus
from .services.outbox import Outbox
from .services.run_views import RunViews
from .services.runs import RunService
from .services.scheduler import Scheduler
from .services.session_files import SessionFiles
from .services.sessions import SessionService
from .services.worker import Wakeup, Workers
from .settings import Settings
from .store import Store, accounts

__all__ = ["create_app"]


log = structlog.get_logger("ara_server.app")


def _sandbox_for(settings: Settings) -> None:
    """Hide the data dir from sandboxed code, record running sandboxes under it, and end the
    sandboxes a crashed server on this data dir left running (before any run starts)."""
    current = sandbox_policy()
    state_dir = settings.data_dir / "sandbox-state"
    hidden = tuple(dict.fromkeys((*current.hidden_paths, settings.data_dir)))
    limits = msgspec.structs.replace(
        current.limits,
        cpu_seconds=settings.sandbox_cpu_seconds,
        memory_bytes=settings.sandbox_memory_bytes,
        open_files=settings.sandbox_open_files,
        processes=settings.sandbox_processes,
        output_bytes=settings.sandbox_output_bytes,
    )
    configure_sandbox(
        msgspec.structs.replace(
            current,
            hidden_paths=hidden,
            state_dir=state_dir,
            limits=limits,
            network=settings.sandbox_network,
            warm_per_app=settings.sandbox_warm_per_app,
            warm_total=settings.sandbox_warm_total,
            warm_idle_seconds=float(settings.sandbox_warm_idle_seconds),
        )
    )
    report = reap_orphans(state_dir)
    if report.killed:
        log.warning("ended sandboxes left running by a crashed server", count=len(report.killed))
    status = isolation_status()
    shown = {
        "cpu_seconds": limits.cpu_seconds,
        "memory_bytes": limits.memory_bytes,
        "open_files": limits.open_files,
        "processes": limits.processes,
        "output_bytes": limits.output_bytes,
        "network": settings.sandbox_network,
        "warm_per_app": settings.sandbox_warm_per_app,
        "warm_total": settings.sandbox_warm_total,
        "warm_idle_seconds": settings.sandbox_warm_idle_seconds,
    }
    if status.isolated:
        log.info("sandbox isolation complete", mechanism=status.mechanism, off=[], **shown)
    else:
        log.warning(
            "sandbox isolation incomplete: app code runs with fewer protections, and session exec and "
            "file tools are refused to every account but the owner",
            mechanism=status.mechanism,
            off=status.off,
            reason=status.reason,
            **shown,
        )


def create_app(settings: Settings, *, provider: ModelProvider | None = None) -> Starlette:
    """Build the ASGI application.

    Args:
        settings: Server settings.
        provider: Model provider for runs and chat (default: from the environment).

    Returns:
        A Starlette app; its lifespan opens the store, applies migrations, ensures the owner and
        starts the run workers and the scheduler. `app.state.owner_api_key` holds a key generated
        on first start (else `None`); `app.state.store`, `app.state.services` and
        `app.state.settings` expose the parts.
    """
    store = Store(settings)
    wakeup = Wakeup()
    logbus = LogBus(store)
    outbox = Outbox(settings, store, logbus)
    runs = RunService(settings, store, logbus, provider, wakeup.notify)
    # the seam to the engine: one call runs one attempt of any run kind
    lifecycle = Lifecycle(settings, store, logbus, outbox, runs.execute)
    runs.lifecycle = lifecycle
    dispatch = Dispatcher(store, logbus, wakeup.notify)
    sessions = SessionService(store, settings.data_dir, provider)
    automations = AutomationService(
        store, default_timeout_seconds=settings.run_timeout_seconds, notify=wakeup.notify
    )
    sessions.automations = automations
    services = Services(
        settings=settings,
        access=AccessService(store),
        deploy=DeployService(settings, store, logbus),
        runs=runs,
        dispatch=dispatch,
        logbus=logbus,
        sessions=sessions,
        endpoints=EndpointService(store, runs),
        automations=automations,
        session_files=SessionFiles(sessions),
        run_views=RunViews(store, logbus),
    )
    workers = Workers(lifecycle, wakeup, settings.workers, settings.poll_seconds)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await store.open()
        _sandbox_for(settings)
        app.state.owner_api_key = await store.run(
            accounts.ensure_owner, settings.owner_email, settings.owner_api_key
        )
        await workers.start()
        outbox.start()
        scheduler: asyncio.Task[None] | None = None
        if settings.scheduler_interval_seconds > 0:
            scheduler = asyncio.create_task(
                Scheduler(store, dispatch, automations=automations).run_forever(
                    settings.scheduler_interval_seconds
                ),
                name="ara-scheduler",
            )
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await scheduler
            await outbox.stop()
            await workers.stop()
            await close_warm_sandboxes()
            await store.close()

    # refuses a NUL character in the path or query string before any route (no middleware layer)
    application = GuardedStarlette(
        routes=all_routes(services),
        lifespan=lifespan,
        exception_handlers=EXCEPTION_HANDLERS,
    )
    application.state.store = store
    application.state.services = services
    application.state.settings = settings
    return application
